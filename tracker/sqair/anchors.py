"""Anchoring heuristics of SQAIR's ``where`` posteriors (``SQAIRConfig.anchor``).

Small objects (people a tenth of a CCTV canvas wide) are slow for position networks over the
whole image to find, so with ``anchor`` the networks predict offsets from anchors computed
here from the image: the peak of the unexplained residual for discovery
(:func:`residual_peak`), the nearest peak of the frame (:func:`nearest_peak`) or the intensity
centroid inside the last window (:func:`window_centroid`) for propagation. Positions are
normalised canvas coordinates (``-1..1``, as ``z_where``'s shift); no gradient flows through
an anchor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from attentrack.tracker.sqair.modules import _axis


def window_mass(image: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """``(n, H, W)`` intensity (negative values as 0) inside a ``window = (w, h)`` pixel
    window centred on each pixel (sizes rounded up to odd); no gradient flows through it."""
    kw, kh = (max(1, int(v)) | 1 for v in window)
    return F.avg_pool2d(image.detach().clamp(min=0)[:, None], (kh, kw), stride=1,
                        padding=(kh // 2, kw // 2), count_include_pad=True)[:, 0]


def _peak_centre(mass: torch.Tensor) -> torch.Tensor:
    """``(n, H, W)`` -> ``(n, 2)`` normalised centre ``tx, ty`` of each map's maximum."""
    n, h_px, w_px = mass.shape
    idx = mass.flatten(1).argmax(1)
    py, px = (idx // w_px).to(mass.dtype), (idx % w_px).to(mass.dtype)
    return torch.stack([(2 * px + 1) / w_px - 1, (2 * py + 1) / h_px - 1], -1)


def residual_peak(residual: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """Where a window holds the most unexplained intensity.

    Args:
        residual: ``(n, H, W)`` image minus what the objects so far explain.
        window: ``(w, h)`` window size in pixels (rounded up to odd sizes).

    Returns:
        ``(n, 2)`` the centre ``tx, ty`` of the best window, in normalised canvas coordinates
        (``-1..1``, as ``z_where``'s shift); no gradient flows through it.
    """
    return _peak_centre(window_mass(residual, window))


def nearest_peak(mass: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """The peak of ``mass`` within one window of each object's last position.

    Args:
        mass: ``(n, H, W)`` :func:`window_mass` of the frame.
        where: ``(n, m, 4)`` the objects' last ``z_where``.

    Returns:
        ``(n, m, 2)`` normalised centres; an object with no intensity within reach keeps its
        last centre.
    """
    n, h_px, w_px = mass.shape
    m = where.shape[1]
    w = where.detach()
    side = torch.sigmoid(w[..., :2])  # window size / canvas size, x and y
    xs, ys = _axis(w_px, mass.dtype, mass.device), _axis(h_px, mass.dtype, mass.device)
    near_x = (xs.view(1, 1, 1, w_px) - w[..., 2, None, None]).abs() <= 2 * side[..., 0, None, None]
    near_y = (ys.view(1, 1, h_px, 1) - w[..., 3, None, None]).abs() <= 2 * side[..., 1, None, None]
    local = torch.where(near_x & near_y, mass[:, None], mass.new_zeros(()))  # (n, m, H, W)
    peak = _peak_centre(local.flatten(0, 1)).view(n, m, 2)
    empty = local.flatten(2).amax(-1) <= 1e-6
    return torch.where(empty[..., None], w[..., 2:], peak)


def window_centroid(image: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Intensity centroid (negative values as 0) inside each object's window.

    Args:
        image: ``(n, H, W)``.
        where: ``(n, m, 4)`` ``z_where``.

    Returns:
        ``(n, m, 2)`` normalised centres ``tx, ty``; a window holding no intensity keeps its
        centre. No gradient flows through it.
    """
    n, h_px, w_px = image.shape
    w = where.detach()
    side = torch.sigmoid(w[..., :2])  # window size / canvas size = half-extent in -1..1 units
    xs, ys = _axis(w_px, image.dtype, image.device), _axis(h_px, image.dtype, image.device)
    in_x = ((xs - w[..., 2, None]).abs() <= side[..., 0, None]).to(image.dtype)  # (n, m, W)
    in_y = ((ys - w[..., 3, None]).abs() <= side[..., 1, None]).to(image.dtype)  # (n, m, H)
    img = image.detach().clamp(min=0)
    col = torch.einsum("nmh,nhw->nmw", in_y, img) * in_x  # mass per column inside the window
    mass = col.sum(-1)
    row = torch.einsum("nmw,nhw->nmh", in_x, img) * in_y
    safe = mass.clamp(min=1e-6)
    centre = torch.stack([(col * xs).sum(-1) / safe, (row * ys).sum(-1) / safe], -1)
    return torch.where((mass > 1e-3)[..., None], centre, w[..., 2:])
