"""Foreground of a static camera: the moving objects, as boxes, with no labels.

The pieces :class:`attentrack.tracker.proposals.MOG2Proposer` is made of, each usable alone:

* :func:`median_background`: the scene without its moving objects, from frames spread over a
  recording (people present in the first frame are foreground at once, instead of being learnt
  into the background while the model warms up);
* :func:`foreground_fragments`: the connected regions of a foreground mask;
* :func:`group_fragments`: fragments stacked one above the other joined into one object (a
  person whose clothes match the background in places falls apart into head, torso and legs;
  a lamp post cuts a walker in two). The rule uses no size in pixels, only the fragments' own
  extents, so it serves objects of 20 and of 200 pixels alike.
"""

from __future__ import annotations

import cv2
import numpy as np


def median_background(frames: list[np.ndarray]) -> np.ndarray:
    """The per-pixel median of ``frames`` (``(H, W, 3)`` uint8 each, spread over a recording):
    the static scene, since a moving object covers a pixel in fewer than half of them.

    Raises:
        ValueError: no frames, or frames of different sizes.
    """
    if not frames:
        raise ValueError("median_background needs at least one frame")
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


def foreground_fragments(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """Connected regions of a foreground mask.

    Args:
        mask: ``(H, W)`` uint8, non-zero where foreground.
        min_pixels: smaller regions are noise and left out.

    Returns:
        ``(N, 5)`` int ``x, y, w, h`` (pixels) and the region's foreground pixel count.
    """
    n, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    stats = stats[1:]
    return stats[stats[:, 4] >= max(1, int(min_pixels))].astype(np.int64)


def group_fragments(fragments: np.ndarray, max_gap: float = 0.5, min_overlap: float = 0.5,
                    max_widening: float = 1.3) -> tuple[np.ndarray, np.ndarray]:
    """Join fragments stacked one above the other into objects.

    Two fragments join when they overlap horizontally by ``min_overlap`` of the narrower one,
    the vertical gap between them is at most ``max_gap`` of the taller one's height, and their
    joint box is at most ``max_widening`` times as wide as the wider one (so two people side by
    side stay two). Joining repeats until nothing more joins, largest fragments first.

    Args:
        fragments: ``(N, 5)`` ``x, y, w, h, pixels`` (:func:`foreground_fragments`).
        max_gap: largest vertical gap, as a share of the taller fragment's height.
        min_overlap: least horizontal overlap, as a share of the narrower fragment's width.
        max_widening: largest width of the joint box, as a multiple of the wider fragment's.

    Returns:
        ``(boxes, pixels)``: ``(M, 4)`` float ``x, y, w, h`` of the objects and ``(M,)`` their
        foreground pixel counts.
    """
    fragments = np.asarray(fragments, dtype=np.float64).reshape(-1, 5)
    x0, y0 = fragments[:, 0].copy(), fragments[:, 1].copy()
    x1, y1 = x0 + fragments[:, 2], y0 + fragments[:, 3]
    pixels = fragments[:, 4].copy()
    alive = np.ones(len(fragments), bool)
    joined = True
    while joined:
        joined = False
        for i in np.argsort(-pixels):
            if not alive[i]:
                continue
            for j in np.flatnonzero(alive):
                if j == i:
                    continue
                wi, wj = x1[i] - x0[i], x1[j] - x0[j]
                overlap = min(x1[i], x1[j]) - max(x0[i], x0[j])
                gap = max(y0[i], y0[j]) - min(y1[i], y1[j])
                joint_width = max(x1[i], x1[j]) - min(x0[i], x0[j])
                if (overlap < min_overlap * min(wi, wj) or gap > max_gap * max(y1[i] - y0[i], y1[j] - y0[j])
                        or joint_width > max_widening * max(wi, wj)):
                    continue
                x0[i], y0[i] = min(x0[i], x0[j]), min(y0[i], y0[j])
                x1[i], y1[i] = max(x1[i], x1[j]), max(y1[i], y1[j])
                pixels[i] += pixels[j]
                alive[j] = False
                joined = True
    boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)[alive]
    return boxes.reshape(-1, 4), pixels[alive]
