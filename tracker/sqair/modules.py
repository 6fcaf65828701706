"""Building blocks of SQAIR: the spatial transformer read and write, Gaussian heads, glimpse
decoders (their MLPs are :class:`attentrack.tracker.layers.MLP`).

``where`` (the object's pose) is 4 numbers ``sx, sy, tx, ty`` in normalised canvas
coordinates (``align_corners=False``: ``-1`` and ``1`` are the outer edges of the first and
last pixel): the window spans ``[tx - sx, tx + sx]`` horizontally, so it is ``sx * W``
pixels wide and centred on pixel ``(tx + 1) * W / 2``. The latent ``z_where`` maps to it
with :func:`where_from_latent` (scales through a sigmoid, translations unchanged).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attentrack.tracker.layers import MLP


def where_from_latent(z_where: torch.Tensor) -> torch.Tensor:
    """``(..., 4)`` latent ``logit sx, logit sy, tx, ty`` -> ``(..., 4)`` ``sx, sy, tx, ty``."""
    return torch.cat([torch.sigmoid(z_where[..., :2]), z_where[..., 2:]], dim=-1)


def where_to_box(where: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(..., 4)`` ``sx, sy, tx, ty`` -> ``(..., 4)`` window ``x, y, w, h`` in pixels of a
    canvas of ``size = (W, H)``."""
    w_px, h_px = size
    w = where[..., 0] * w_px
    h = where[..., 1] * h_px
    cx = (where[..., 2] + 1) * w_px / 2
    cy = (where[..., 3] + 1) * h_px / 2
    return torch.stack([cx - w / 2, cy - h / 2, w, h], dim=-1)


def _axis(n: int, dtype, device) -> torch.Tensor:
    """``(n,)`` pixel centres in ``align_corners=False`` normalised coordinates."""
    return (torch.arange(n, dtype=dtype, device=device) * 2 + 1) / n - 1


def _grid(scale: torch.Tensor, shift: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sampling grid of an axis-aligned affine map ``p -> scale * p + shift``.

    Args:
        scale: ``(..., 2)`` ``x, y`` factors.
        shift: ``(..., 2)`` ``x, y`` offsets.
        height: output height in pixels.
        width: output width in pixels.

    Returns:
        ``(..., height, width, 2)`` for :func:`torch.nn.functional.grid_sample` (built by
        broadcasting, much cheaper than ``affine_grid``'s matrix product).
    """
    u = _axis(width, scale.dtype, scale.device)
    v = _axis(height, scale.dtype, scale.device)
    gx = scale[..., 0, None] * u + shift[..., 0, None]  # (..., W)
    gy = scale[..., 1, None] * v + shift[..., 1, None]  # (..., H)
    shape = (*scale.shape[:-1], height, width)
    return torch.stack([gx[..., None, :].expand(shape), gy[..., :, None].expand(shape)], -1)


def stn_read(image: torch.Tensor, where: torch.Tensor, size: int) -> torch.Tensor:
    """Read ``size x size`` glimpses from each image under its windows (bilinear).

    Args:
        image: ``(n, C, H, W)``.
        where: ``(n, m, 4)`` ``sx, sy, tx, ty`` (see the module docstring): ``m`` windows
            per image (read without copying the image).
        size: glimpse side in pixels.

    Returns:
        ``(n, m, C, size, size)``; outside the canvas reads zeros.
    """
    n, m = where.shape[:2]
    grid = _grid(where[..., :2], where[..., 2:], size, size)  # (n, m, g, g, 2)
    out = F.grid_sample(image, grid.reshape(n, m * size, size, 2), mode="bilinear",
                        padding_mode="zeros", align_corners=False)  # (n, C, m*g, g)
    return out.view(n, image.shape[1], m, size, size).transpose(1, 2)


def stn_write(glimpse: torch.Tensor, where: torch.Tensor, canvas: tuple[int, int]) -> torch.Tensor:
    """Write each glimpse onto an empty canvas under its window (the inverse of the read).

    Args:
        glimpse: ``(n, C, g, g)``.
        where: ``(n, 4)`` ``sx, sy, tx, ty``.
        canvas: ``(H, W)`` of the output.

    Returns:
        ``(n, C, H, W)``; zero outside the window.
    """
    inv = 1 / where[:, :2]
    grid = _grid(inv, -where[:, 2:] * inv, canvas[0], canvas[1])
    return F.grid_sample(glimpse, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class GaussianHead(nn.Module):
    """An MLP giving the location and scale of a diagonal Gaussian.

    Args:
        n_in: input features.
        hidden: hidden units.
        n_out: dimensions of the Gaussian.
        min_scale: floor of the standard deviation.
        init_scale: standard deviation at initialisation (zero output weights).
    """

    def __init__(self, n_in: int, hidden: int, n_out: int, min_scale: float = 1e-3, init_scale: float = 0.5) -> None:
        super().__init__()
        self.net = MLP(n_in, hidden, 2 * n_out)
        last = self.net[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.min_scale = min_scale
        self.set_initial_scale(tuple(range(n_out)), init_scale)

    def set_initial_scale(self, dims: tuple[int, ...], scale: float) -> None:
        """Make the standard deviation of dimensions ``dims`` ``scale`` at initialisation
        (call before training: it sets the output bias those dimensions start from)."""
        n_out = self.net[-1].out_features // 2
        with torch.no_grad():
            for d in dims:
                self.net[-1].bias[n_out + d] = torch.log(torch.expm1(torch.tensor(scale - self.min_scale)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, n_in)`` -> ``(loc, scale)``, each ``(n, n_out)``."""
        loc, raw = self.net(x).chunk(2, dim=-1)
        return loc, F.softplus(raw) + self.min_scale


#: the learned output scale a ``scaled`` glimpse decoder starts from (the original SQAIR's 0.25)
OUTPUT_SCALE_INIT = 0.25

#: how a glimpse decoder turns its last layer into intensities: ``sigmoid`` (this repository's:
#: in ``[0, 1]``) or ``scaled`` (the original SQAIR's: unsquashed, times a learned scale)
DECODER_OUTPUTS = ("sigmoid", "scaled")


class _DecoderOutput(nn.Module):
    """The last step of a glimpse decoder: pixel pre-activations -> intensities.

    ``sigmoid`` squashes them into ``[0, 1]``; ``scaled`` multiplies them by one learned scalar
    (``output_scale``, starting at :data:`OUTPUT_SCALE_INIT`), as the original SQAIR's decoder
    does: intensities are then unbounded and a pixel's value is linear in the last layer.
    """

    def __init__(self, output: str) -> None:
        super().__init__()
        if output not in DECODER_OUTPUTS:
            raise ValueError(f"decoder output must be one of {', '.join(DECODER_OUTPUTS)}, got {output!r}")
        self.output = output
        if output == "scaled":
            self.output_scale = nn.Parameter(torch.tensor(OUTPUT_SCALE_INIT))

    def initial_bias(self, bias: float) -> float:
        """The last layer's bias for pixels that start at ``sigmoid(bias)`` (``sigmoid``) or at
        zero (``scaled``: objects start empty, as the original's)."""
        return bias if self.output == "sigmoid" else 0.0

    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(pre) if self.output == "sigmoid" else pre * self.output_scale


class GlimpseDecoder(nn.Module):
    """``what`` code -> glimpse intensities (in ``[0, 1]`` with the ``sigmoid`` output).

    Args:
        what_dim: appearance code size.
        hidden: hidden units.
        glimpse: glimpse side in pixels.
        bias: initial logit of every pixel (negative: objects start faint); with the ``scaled``
            output every pixel starts at zero.
        output: ``sigmoid`` or ``scaled`` (see :class:`_DecoderOutput`).
    """

    def __init__(self, what_dim: int, hidden: int, glimpse: int, bias: float = -2.0, output: str = "sigmoid") -> None:
        super().__init__()
        self.glimpse = glimpse
        self.net = MLP(what_dim, hidden, hidden, glimpse * glimpse)
        self.out = _DecoderOutput(output)
        nn.init.constant_(self.net[-1].bias, self.out.initial_bias(bias))

    def forward(self, what: torch.Tensor) -> torch.Tensor:
        """``(n, what_dim)`` -> ``(n, 1, g, g)``."""
        return self.out(self.net(what)).view(-1, 1, self.glimpse, self.glimpse)


class ConvGlimpseDecoder(nn.Module):
    """``what`` code -> glimpse intensities, through a transposed convolution.

    Two linear layers make a ``16 x g/2 x g/2`` map, a stride-2 transposed convolution brings
    it to ``8 x g x g``, and a 3x3 convolution gives the pixel logits. Neighbouring pixels share
    the last layers' weights, so strokes can come out sharper than from
    :class:`GlimpseDecoder`'s one output unit per pixel. (On one CPU thread it takes about 7
    times the MLP decoder's time for a batch of glimpses, forwards and backwards; a deeper stack
    of transposed convolutions took several times longer still: scratch timings.)

    Args:
        what_dim: appearance code size.
        hidden: hidden units of the first linear layer.
        glimpse: glimpse side in pixels (even).
        bias: initial logit of every pixel (negative: objects start faint).
        output: ``sigmoid`` or ``scaled`` (see :class:`_DecoderOutput`).
    """

    CHANNELS = (16, 8)

    def __init__(self, what_dim: int, hidden: int, glimpse: int, bias: float = -2.0, output: str = "sigmoid") -> None:
        super().__init__()
        if glimpse % 2:
            raise ValueError(f"the conv glimpse decoder needs an even glimpse side, got {glimpse}")
        self.glimpse = glimpse
        c0, c1 = self.CHANNELS
        self.base = glimpse // 2
        self.net = MLP(what_dim, hidden, c0 * self.base * self.base)
        self.up = nn.Sequential(nn.ELU(), nn.ConvTranspose2d(c0, c1, 4, stride=2, padding=1), nn.ELU(),
                                nn.Conv2d(c1, 1, 3, padding=1))
        self.out = _DecoderOutput(output)
        nn.init.constant_(self.up[-1].bias, self.out.initial_bias(bias))

    def forward(self, what: torch.Tensor) -> torch.Tensor:
        """``(n, what_dim)`` -> ``(n, 1, g, g)``."""
        x = self.net(what).view(-1, self.CHANNELS[0], self.base, self.base)
        return self.out(self.up(x))


#: glimpse decoders by the name :class:`attentrack.tracker.sqair.config.SQAIRConfig` ``decoder`` gives
GLIMPSE_DECODERS = {"mlp": GlimpseDecoder, "conv": ConvGlimpseDecoder}
