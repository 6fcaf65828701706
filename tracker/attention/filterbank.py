"""Separable Gaussian filterbanks: the attention read of DRAW and HART.

A glimpse of ``N`` x ``N`` pixels is read from an image with two matrices, ``Fy`` of shape
``(N, H)`` and ``Fx`` of shape ``(N, W)``: ``glimpse = Fy @ image @ Fx.T`` (per channel).
Row ``i`` of ``Fx`` is a 1-D Gaussian over the image columns centred at

    mu_i = g + (i - N / 2 - 0.5) * delta,    i = 1 .. N

where ``g`` is the grid centre and ``delta`` the stride between neighbouring filters
(Gregor et al. 2015, "DRAW", eq. 19-20), with standard deviation ``sigma``; every row is
normalised to sum to 1. Positions are in pixels of a continuous frame in which the image
spans ``[0, W]`` and pixel ``a`` (0-based) has its centre at ``a + 0.5`` (change with
``pixel_offset``; DRAW's own convention is ``pixel_offset=0``). With ``g = W / 2``,
``delta = 1`` and ``N = W`` the means fall on the pixel centres, so a small ``sigma``
reads the image unchanged.

HART (Kosiorek et al. 2017) does not learn ``sigma``: it derives it from the stride so the
read behaves like an interpolating resampler. Here :func:`stride_to_sigma` gives
``sigma = sqrt(0.5^2 + (stride / sqrt(12))^2)``: a half-pixel interpolation kernel
(a Gaussian of std 0.5 px is close to the bicubic kernel in width) combined with the
std of a box filter as wide as the stride, which removes aliasing when downsampling.
The glimpse readers in :mod:`attentrack.tracker.attention` first move to an image-pyramid level in
which the stride is below 2 pixels, so the filters stay narrow and the read only needs the
few pixels under their support (see :func:`filterbank_support`).
"""

from __future__ import annotations

import numpy as np
import torch

from attentrack.tracker.attention import GlimpseReader

#: filters are cut at this many standard deviations when cropping their support
SUPPORT_SIGMAS = 3.0


def stride_to_sigma(stride: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Standard deviation (pixels) of the Gaussian filters for a given stride (pixels).

    Args:
        stride: a tensor or a NumPy array of any shape, the distance between neighbouring
            filter centres in pixels.

    Returns:
        the same type and shape: ``sqrt(0.25 + stride^2 / 12)``.
    """
    sqrt = torch.sqrt if torch.is_tensor(stride) else np.sqrt
    return sqrt(0.25 + stride * stride / 12.0)


def gaussian_filterbank(centre: torch.Tensor, stride: torch.Tensor, sigma: torch.Tensor, n: int,
                        length: int, start: torch.Tensor | float = 0.0,
                        pixel_offset: float = 0.5, eps: float | None = 1e-8) -> torch.Tensor:
    """One axis of a Gaussian filterbank.

    Args:
        centre: ``(B,)`` grid centre ``g`` in pixels.
        stride: ``(B,)`` distance ``delta`` between filter means in pixels.
        sigma: ``(B,)`` (or broadcastable) filter standard deviation in pixels.
        n: number of filters ``N`` (glimpse size along this axis).
        length: number of image pixels along this axis covered by the result.
        start: ``(B,)`` or scalar: the result's column ``a`` is image pixel ``start + a``
            (lets a caller apply the filters to a crop; 0 for the whole image).
        pixel_offset: position of a pixel's centre relative to its index (0.5: pixel ``a``
            spans ``[a, a + 1]``; 0: DRAW's convention).
        eps: added to the row sums before normalising (``None``: rows are left
            unnormalised, for a caller that cuts them first; see :func:`normalise_rows`).

    Returns:
        ``(B, n, length)`` filter weights; each row sums to 1 (a row whose Gaussian lies
        entirely outside the ``length`` pixels sums to about 0 instead).
    """
    centre = torch.as_tensor(centre)
    dtype = centre.dtype if centre.is_floating_point() else torch.float32
    device = centre.device
    centre = centre.to(dtype).reshape(-1, 1, 1)
    stride = torch.as_tensor(stride, dtype=dtype, device=device).reshape(-1, 1, 1)
    sigma = torch.as_tensor(sigma, dtype=dtype, device=device).reshape(-1, 1, 1)
    # positions relative to the grid centre: pixel a of the result lies at
    # a + pixel_offset + start - centre, filter i at (i - n/2 - 0.5) * stride
    offset = torch.as_tensor(start, dtype=dtype, device=device).reshape(-1, 1, 1) + (pixel_offset - centre)
    i = torch.arange(1, n + 1, dtype=dtype, device=device).reshape(1, -1, 1) - (n / 2.0 + 0.5)
    a = torch.arange(length, dtype=dtype, device=device).reshape(1, 1, -1)
    z = (a + offset - i * stride) / sigma  # (B, n, length)
    # clamping the exponent keeps the far tails at ~1e-22 instead of denormal floats,
    # which make the matrix products that apply the filters many times slower
    f = torch.exp((-0.5 * z * z).clamp(min=-50.0))
    return f if eps is None else normalise_rows(f, eps)


def normalise_rows(f: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Divide filterbank rows ``(B, n, length)`` by their sums (plus ``eps``)."""
    return f / (f.sum(dim=2, keepdim=True) + eps)


def filterbank_support(centre: torch.Tensor, stride: torch.Tensor, sigma: torch.Tensor, n: int,
                       pixel_offset: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """The pixel range holding (nearly) all the weight of a filterbank.

    Args:
        centre: ``(B,)`` as for :func:`gaussian_filterbank`.
        stride: ``(B,)`` as for :func:`gaussian_filterbank`.
        sigma: ``(B,)`` as for :func:`gaussian_filterbank`.
        n: number of filters.
        pixel_offset: as for :func:`gaussian_filterbank`.

    Returns:
        ``(first, count)``: ``(B,)`` int64 first pixel index and number of pixels, such that
        pixels ``first .. first + count - 1`` hold every mean +- ``SUPPORT_SIGMAS`` sigma.
    """
    with torch.no_grad():
        half = (n / 2.0 - 0.5) * stride + SUPPORT_SIGMAS * sigma + 1.0
        lo = torch.floor(centre - half - pixel_offset)
        hi = torch.ceil(centre + half - pixel_offset)
        return lo.long(), (hi - lo + 1).long()


def read_with_filterbanks(image: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
    """Apply separable filterbanks to images.

    Args:
        image: ``(B, H, W, C)`` channels-last images (any float dtype).
        fy: ``(B, Ny, H)`` row filters.
        fx: ``(B, Nx, W)`` column filters.

    Returns:
        ``(B, C, Ny, Nx)`` glimpses.
    """
    b, h, w, c = image.shape
    ny, nx = fy.shape[1], fx.shape[1]
    rows = torch.bmm(fy, image.reshape(b, h, w * c))  # (B, Ny, W*C)
    rows = rows.reshape(b, ny, w, c).transpose(2, 3).reshape(b, ny * c, w)  # (B, Ny*C, W)
    out = torch.bmm(rows, fx.transpose(1, 2))  # (B, Ny*C, Nx)
    return out.reshape(b, ny, c, nx).permute(0, 2, 1, 3)


def write_with_filterbanks(patch: torch.Tensor, fy: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
    """The transpose of :func:`read_with_filterbanks` (DRAW's write).

    Args:
        patch: ``(B, C, Ny, Nx)``.
        fy: ``(B, Ny, H)``.
        fx: ``(B, Nx, W)``.

    Returns:
        ``(B, C, H, W)``: ``Fy.T @ patch @ Fx`` per channel.
    """
    return torch.matmul(torch.matmul(fy.transpose(1, 2).unsqueeze(1), patch), fx.unsqueeze(1))


class GaussianGlimpse(GlimpseReader):
    """HART's read: separable Gaussian filterbanks with sigma fixed by the stride.

    Args:
        size: glimpse side in pixels.
        sigma: a fixed filter standard deviation in level pixels instead of
            :func:`stride_to_sigma` (0: derived from the stride).
    """

    reader_id = "gaussian"

    def __init__(self, size: int = 48, sigma: float = 0.0) -> None:
        super().__init__(size)
        self.sigma = float(sigma)

    def _sigma(self, stride: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Filter standard deviations for strides (a tensor or a NumPy array, same type out)."""
        if self.sigma > 0:
            full = torch.full_like if torch.is_tensor(stride) else np.full_like
            return full(stride, self.sigma)
        return stride_to_sigma(stride)

    def margin(self, stride):
        """Extra pixels on each side of the window: ``SUPPORT_SIGMAS`` filter standard deviations plus one."""
        return SUPPORT_SIGMAS * self._sigma(stride) + 1.0

    def read_crop(self, crop, origin, window):
        """Read glimpses from crops with separable Gaussian filterbanks, normalised per filter."""
        n, hc, wc, _ = crop.shape
        stride = window[:, 2:4] / self.size
        sigma = self._sigma(stride)
        # both axes in one call (x rows first, then y), cut to each axis' length, normalised
        f = gaussian_filterbank(window[:, :2].t().reshape(-1), stride.t().reshape(-1), sigma.t().reshape(-1),
                                self.size, max(hc, wc), start=origin.t().reshape(-1), eps=None)
        fx = normalise_rows(f[:n, :, :wc])
        fy = normalise_rows(f[n:, :, :hc])
        return read_with_filterbanks(crop, fy, fx)

    def read_crop_numpy(self, crop, origin, window):
        """:meth:`read_crop` in NumPy: ``crop`` ``(n, Hc, Wc, C)``, ``origin`` ``(n, 2)`` and
        ``window`` ``(n, 4)`` float32 -> ``(n, C, size, size)`` float32."""
        n, hc, wc, c = crop.shape
        g = self.size
        stride = window[:, 2:4] / np.float32(g)  # (n, 2)
        sigma = self._sigma(stride)
        steps = np.arange(1, g + 1, dtype=np.float32) - np.float32(g / 2.0 + 0.5)  # (g,)
        means = window[:, 0:2, None] + steps * stride[:, :, None]  # (n, 2, g) pixel positions
        fx = _filter_rows(means[:, 0], sigma[:, 0], origin[:, 0], wc)
        fy = _filter_rows(means[:, 1], sigma[:, 1], origin[:, 1], hc)
        rows = np.matmul(fy, crop.reshape(n, hc, wc * c))  # (n, g, Wc*C)
        rows = np.ascontiguousarray(rows.reshape(n, g, wc, c).transpose(0, 1, 3, 2)).reshape(n, g * c, wc)
        out = np.matmul(rows, fx.transpose(0, 2, 1))  # (n, g*C, g): one product per window
        return np.ascontiguousarray(out.reshape(n, g, c, g).transpose(0, 2, 1, 3))


def _filter_rows(means: np.ndarray, sigma: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    """One filterbank axis in NumPy, as :func:`gaussian_filterbank` with ``pixel_offset=0.5``
    followed by :func:`normalise_rows`: ``means`` ``(n, g)``, ``sigma`` and ``start``
    ``(n,)`` -> ``(n, g, length)`` float32."""
    centres = np.arange(length, dtype=np.float32) + np.float32(0.5) + start[:, None]  # (n, length)
    f = centres[:, None, :] - means[:, :, None]  # one array, updated in place (fewer temporaries)
    f /= sigma[:, None, None]
    np.square(f, out=f)
    f *= np.float32(-0.5)
    np.maximum(f, np.float32(-50.0), out=f)
    np.exp(f, out=f)
    f /= f.sum(axis=2, keepdims=True) + np.float32(1e-8)
    return f
