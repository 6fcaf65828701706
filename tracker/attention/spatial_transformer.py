"""A bilinear spatial transformer read (Jaderberg et al. 2015), batched over windows.

The window's affine map (scale and translation, no rotation) is built for
``torch.nn.functional.affine_grid`` and the glimpse is sampled bilinearly with
``grid_sample`` from the crop under the window, at the pyramid level where the stride is
1-2 pixels (so the read is anti-aliased by the pyramid rather than by the sampler). Glimpse
pixel ``j`` samples the same position as mean ``mu_j`` of the Gaussian read in
:mod:`attentrack.tracker.attention.filterbank`, so the two readers see the same grid.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from attentrack.tracker.attention import GlimpseReader


def window_theta(window: torch.Tensor, origin: torch.Tensor, crop_size: tuple[int, int]) -> torch.Tensor:
    """Affine matrices mapping glimpse coordinates to crop coordinates.

    Both use ``align_corners=False`` normalised coordinates (``-1`` and ``1`` are the outer
    edges of the first and last pixels).

    Args:
        window: ``(n, 4)`` ``cx, cy, w, h`` in image pixels (pixel ``a`` spans ``[a, a+1]``).
        origin: ``(n, 2)`` image-pixel index ``x, y`` of the crop's first pixel.
        crop_size: ``(Wc, Hc)`` of the crop.

    Returns:
        ``(n, 2, 3)`` matrices for :func:`torch.nn.functional.affine_grid`.
    """
    wc, hc = crop_size
    size = window.new_tensor([wc, hc])
    scale = window[:, 2:4] / size  # (n, 2)
    shift = 2.0 * (window[:, 0:2] - origin) / size - 1.0
    zero = torch.zeros_like(scale[:, 0])
    row_x = torch.stack([scale[:, 0], zero, shift[:, 0]], dim=1)
    row_y = torch.stack([zero, scale[:, 1], shift[:, 1]], dim=1)
    return torch.stack([row_x, row_y], dim=1)


class SpatialTransformerGlimpse(GlimpseReader):
    """Bilinear sampling on an axis-aligned window (affine_grid + grid_sample).

    Args:
        size: glimpse side in pixels.
    """

    reader_id = "stn"

    def margin(self, stride):
        """Two pixels on each side, for the bilinear interpolation at the window's edge."""
        return np.full_like(stride, 2.0)

    def read_crop(self, crop, origin, window):
        """Read glimpses from crops by bilinear sampling, repeating the border pixels."""
        n, hc, wc, c = crop.shape
        theta = window_theta(window, origin, (wc, hc))
        grid = F.affine_grid(theta, [n, c, self.size, self.size], align_corners=False)
        return F.grid_sample(crop.permute(0, 3, 1, 2), grid, mode="bilinear",
                             padding_mode="border", align_corners=False)
