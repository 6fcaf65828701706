"""DRAW's Gaussian read and write attention (Gregor et al. 2015, section 3.2).

A linear layer maps the decoder state to five numbers ``(g~x, g~y, log sigma^2, log delta~,
log gamma)``; for an ``A`` x ``B`` image (width x height) and an ``N`` x ``N`` patch

    g_x = (A + 1) / 2 * (g~x + 1),   g_y = (B + 1) / 2 * (g~y + 1),
    delta = (max(A, B) - 1) / (N - 1) * delta~,

and the filter means ``mu_i = g + (i - N/2 - 0.5) delta`` (``i = 1 .. N``, 1-based, as in the
paper) are built by the one filterbank implementation of the toolkit,
:func:`attentrack.tracker.attention.filterbank.gaussian_filterbank`, the same function HART's glimpse
uses. DRAW's positions are 1-based (pixel ``a``, 0-based, has its centre at ``a + 1``), which
is ``pixel_offset=1``: then ``g~ = 0``, ``delta~ = 1`` and ``N = A`` put one filter on every
pixel centre, so a small ``sigma`` reads the image unchanged.

    read(x, x^)  = gamma * [F_Y x F_X^T, F_Y x^ F_X^T]     (2 N^2 numbers)
    write(w)     = 1 / gamma * F_Y^T w F_X                 (an A x B image)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from attentrack.tracker.attention.filterbank import gaussian_filterbank, read_with_filterbanks, write_with_filterbanks

#: DRAW's 1-based pixel positions (see the module docstring)
DRAW_PIXEL_OFFSET = 1.0


class AttentionWindow(NamedTuple):
    """One attention window for a batch.

    Attributes:
        fy: ``(B, N, H)`` row filters; fx: ``(B, N, W)`` column filters (rows sum to 1).
        gamma: ``(B,)`` intensity.
        gx, gy: ``(B,)`` grid centre in DRAW's 1-based pixel positions.
        delta: ``(B,)`` stride in pixels; sigma: ``(B,)`` filter std in pixels.
    """

    fy: torch.Tensor
    fx: torch.Tensor
    gamma: torch.Tensor
    gx: torch.Tensor
    gy: torch.Tensor
    delta: torch.Tensor
    sigma: torch.Tensor

    def boxes(self) -> torch.Tensor:
        """``(B, 4)`` the window as ``x, y, w, h`` in pixels (0-based, pixel ``a`` spans ``[a, a+1]``):
        the span of the filter means, widened by one stride."""
        n = self.fy.shape[1]
        side = n * self.delta
        x = self.gx - DRAW_PIXEL_OFFSET + 0.5 - side / 2
        y = self.gy - DRAW_PIXEL_OFFSET + 0.5 - side / 2
        return torch.stack([x, y, side, side], dim=1)


def window_from_params(params: torch.Tensor, height: int, width: int, n: int) -> AttentionWindow:
    """Filterbanks from DRAW's five attention parameters.

    Args:
        params: ``(B, 5)`` ``(g~x, g~y, log sigma^2, log delta~, log gamma)``.
        height: image height ``B`` in pixels.
        width: image width ``A`` in pixels.
        n: patch side ``N`` (>= 2).

    Returns:
        the :class:`AttentionWindow`.
    """
    gtx, gty, log_var, log_dt, log_gamma = params.unbind(dim=1)
    gx = (width + 1) / 2.0 * (gtx + 1)
    gy = (height + 1) / 2.0 * (gty + 1)
    delta = (max(width, height) - 1) / (n - 1) * torch.exp(log_dt)
    sigma = torch.exp(0.5 * log_var)
    gamma = torch.exp(log_gamma)
    fx = gaussian_filterbank(gx, delta, sigma, n, width, pixel_offset=DRAW_PIXEL_OFFSET)
    fy = gaussian_filterbank(gy, delta, sigma, n, height, pixel_offset=DRAW_PIXEL_OFFSET)
    return AttentionWindow(fy, fx, gamma, gx, gy, delta, sigma)


def read(x: torch.Tensor, x_hat: torch.Tensor, window: AttentionWindow) -> torch.Tensor:
    """DRAW's read with attention.

    Args:
        x: ``(B, H, W)`` image.
        x_hat: ``(B, H, W)`` error image ``x - sigmoid(c)``.
        window: the read window (``N`` x ``N`` filters).

    Returns:
        ``(B, 2 N^2)``: ``gamma * [F_Y x F_X^T, F_Y x^ F_X^T]`` flattened.
    """
    glimpse = read_with_filterbanks(torch.stack([x, x_hat], dim=3), window.fy, window.fx)  # (B, 2, N, N)
    return glimpse.flatten(1) * window.gamma[:, None]


def write(patch: torch.Tensor, window: AttentionWindow) -> torch.Tensor:
    """DRAW's write with attention.

    Args:
        patch: ``(B, N, N)`` the decoder's write patch ``w``.
        window: the write window.

    Returns:
        ``(B, H, W)``: ``F_Y^T w F_X / gamma``.
    """
    return write_with_filterbanks(patch[:, None], window.fy, window.fx)[:, 0] / window.gamma[:, None, None]


class WindowHead(nn.Module):
    """Linear map from a decoder state to an attention window.

    Args:
        in_features: size of the decoder state.
        height, width: image size in pixels.
        n: patch side.
        init_span: the initial window (a zero state gives the bias) is centred with
            ``delta~ = init_span`` and ``sigma = delta / 2``, so its filters overlap and see
            the image from the first step (with ``delta~ = 1`` and ``sigma = 1`` a 2 x 2 read
            would sample only the blank corners of a digit and get no gradient to move).
    """

    def __init__(self, in_features: int, height: int, width: int, n: int, init_span: float = 1.0) -> None:
        super().__init__()
        if n < 2:
            raise ValueError("attention patch side must be >= 2")
        self.height, self.width, self.n = height, width, n
        self.linear = nn.Linear(in_features, 5)
        stride = (max(height, width) - 1) / (n - 1) * init_span
        with torch.no_grad():
            self.linear.weight.mul_(0.1)
            self.linear.bias.copy_(torch.tensor([0.0, 0.0, 2 * math.log(stride / 2), math.log(init_span), 0.0]))

    def forward(self, h: torch.Tensor) -> AttentionWindow:
        """``h``: ``(B, in_features)`` -> the window."""
        return window_from_params(self.linear(h), self.height, self.width, self.n)
