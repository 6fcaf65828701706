"""Boxes found on the coarse canvas, fitted to the foreground mask at its finer resolution."""

from __future__ import annotations

import numpy as np

from attentrack.tracker.boxes import mask_box


def snap_box_to_mask(box: np.ndarray, mask: np.ndarray, frame_size: tuple[int, int], margin: tuple[float, float],
                     min_fill: float = 0.1) -> np.ndarray:
    """A box found on the coarse canvas, fitted to the foreground at the mask's resolution.

    The box is widened by ``margin`` on every side and shrunk to the tight box of the
    foreground pixels inside it; each edge therefore moves by at most ``margin`` outwards
    (a canvas pixel: the coarse box's rounding), so a neighbour's foreground beyond that is
    never taken in.

    Args:
        box: ``x, y, w, h`` in frame pixels.
        mask: ``(h, w)`` 0/1 foreground at any resolution covering the whole frame.
        frame_size: the frame's ``(width, height)`` in pixels.
        margin: ``(mx, my)`` in frame pixels.
        min_fill: keep ``box`` unchanged when the foreground covers less than this share of
            it (nothing to fit to).

    Returns:
        the fitted ``x, y, w, h`` in frame pixels (a copy of ``box`` when it is kept).
    """
    fw, fh = frame_size
    mh, mw = mask.shape[:2]
    kx, ky = mw / fw, mh / fh  # frame pixels -> mask pixels
    x0 = int(np.floor(max(0.0, box[0] - margin[0]) * kx))
    y0 = int(np.floor(max(0.0, box[1] - margin[1]) * ky))
    x1 = int(np.ceil(min(float(fw), box[0] + box[2] + margin[0]) * kx))
    y1 = int(np.ceil(min(float(fh), box[1] + box[3] + margin[1]) * ky))
    region = mask[y0:y1, x0:x1]
    filled = int((region > 0.5).sum())
    if filled == 0 or filled < min_fill * max(1.0, box[2] * kx * box[3] * ky):
        return np.asarray(box, np.float64).copy()
    x, y, w, h = mask_box(region, x0, y0, 0.5).astype(np.float64)  # in mask pixels
    return np.array([x / kx, y / ky, w / kx, h / ky], np.float64)
