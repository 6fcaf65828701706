"""Foreground of a static camera: the moving objects, as boxes, with no labels.

The pieces :class:`attentrack.tracker.proposals.MOG2Proposer` is made of, each usable alone:

* :func:`median_background`: the scene without its moving objects, from frames spread over a
  recording (people present in the first frame are foreground at once, instead of being learnt
  into the background while the model warms up);
* :func:`foreground_fragments`: the connected regions of a foreground mask;
* :func:`group_fragments`: fragments stacked one above the other joined into one object (a
  person whose clothes match the background in places falls apart into head, torso and legs;
  a lamp post cuts a walker in two). The rule uses no size in pixels, only the fragments' own
  extents, so it serves objects of 20 and of 200 pixels alike;
* :func:`split_side_by_side`: objects several times as wide for their height as a typical one
  cut into that many where the foreground is thinnest (people walking together whose
  foreground touches).
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


def camera_noise(frames: list[np.ndarray], background: np.ndarray) -> float:
    """The camera's noise in grey levels: a robust standard deviation (1.4826 times the median
    absolute difference) of ``frames`` (``(H, W, 3)`` uint8 each) from their ``background``
    (their median), the median over the frames. Pixels equal to the background in every frame
    are left out: letterbox bars, burnt-in overlays and saturated sky carry no noise to measure
    and would pull the estimate to 0 (0 when every pixel is such)."""
    differences = np.stack([cv2.absdiff(f, background) for f in frames])  # (N, H, W, 3) uint8
    varying = differences.max(axis=0) > 0
    if not varying.any():
        return 0.0
    return 1.4826 * float(np.median([np.median(d[varying]) for d in differences]))


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


def split_side_by_side(boxes: np.ndarray, pixels: np.ndarray, mask: np.ndarray, typical_aspect: float,
                       min_ratio: float = 1.7) -> tuple[np.ndarray, np.ndarray]:
    """Split objects that are several typical objects side by side (people walking together
    whose foreground touches) into that many objects.

    An object whose width-to-height ratio is at least ``min_ratio`` times ``typical_aspect`` is
    taken to hold ``k = round(ratio / typical_aspect)`` objects side by side. It is cut at
    ``k - 1`` columns, each where the mask's foreground column count is least within a quarter
    of a share's width of the even cut (the one nearest the even cut among equals); each piece
    becomes the box of its own foreground. The rule uses only ratios of sizes, no size in
    pixels, so it serves every scale and, since a ratio does not change with the distance to
    the camera, every depth of a perspective view.

    Args:
        boxes: ``(N, 4)`` ``x, y, w, h`` in the pixels of ``mask``.
        pixels: ``(N,)`` foreground pixel counts of the objects.
        mask: ``(H, W)`` foreground mask, non-zero where foreground.
        typical_aspect: a typical single object's width / height.
        min_ratio: how many times wider (relative to its height) than typical an object must be
            to be split.

    Returns:
        ``(boxes, pixels)`` with every split object replaced by its pieces (pieces with no
        foreground left out).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1)
    out_boxes, out_pixels = [], []
    for box, count in zip(boxes, pixels):
        x, y, w, h = (int(round(v)) for v in box)
        ratio = w / max(h, 1)
        if typical_aspect <= 0 or ratio < min_ratio * typical_aspect:
            out_boxes.append(box), out_pixels.append(count)
            continue
        shares = max(2, min(int(round(ratio / typical_aspect)), w // 2))
        columns = (mask[y:y + h, x:x + w] > 0).sum(axis=0).astype(np.float64)
        reach = max(1, int(w / shares / 4))
        cuts = [0]
        for i in range(1, shares):
            even = int(round(i * w / shares))
            lo, hi = max(cuts[-1] + 1, even - reach), min(w - 1, even + reach)
            if hi < lo:
                cuts.append(even)
                continue
            near = np.abs(np.arange(lo, hi + 1) - even) / (2.0 * reach + 1)  # < 1: breaks ties only
            cuts.append(lo + int(np.argmin(columns[lo:hi + 1] + near)))
        cuts.append(w)
        for left, right in zip(cuts[:-1], cuts[1:]):
            piece = mask[y:y + h, x + left:x + right] > 0
            if not piece.any():
                continue
            rows, cols = np.flatnonzero(piece.any(axis=1)), np.flatnonzero(piece.any(axis=0))
            out_boxes.append([x + left + cols[0], y + rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1])
            out_pixels.append(float(piece.sum()))
    return np.asarray(out_boxes, dtype=np.float64).reshape(-1, 4), np.asarray(out_pixels, dtype=np.float64)
