"""Foreground blobs of CCTV canvases (connected regions): their boxes and crops, and the window
prior of a camera measured on them, without labels."""

from __future__ import annotations

import cv2
import numpy as np

#: most canvases whose foreground blobs are collected (window prior, glimpse pre-training)
MAX_BLOB_FRAMES = 2000
#: foreground blobs smaller than this share of the canvas are noise, not objects
MIN_BLOB_SHARE = 0.002


def foreground_blobs(canvases: np.ndarray, level: float = 0.5, min_share: float = MIN_BLOB_SHARE):
    """Connected foreground regions of every canvas.

    Args:
        canvases: ``(T, H, W)`` foreground canvases in ``[0, 1]``.
        level: canvas value above which a pixel is foreground.
        min_share: smallest region kept, as a share of the canvas area.

    Returns:
        ``(boxes, crops)``: ``(N, 4)`` float ``x, y, w, h`` in canvas pixels, and ``(N, H, W)``
        float32 canvases each holding one region's pixels (the others zeroed), shifted so the
        region's box is centred.
    """
    t_n, h, w = canvases.shape
    boxes, crops = [], []
    min_area = max(2, int(round(min_share * h * w)))
    for frame in canvases:
        n, labels, stats, _ = cv2.connectedComponentsWithStats((frame > level).astype(np.uint8), connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            if area < min_area or bw >= w or bh >= h:
                continue
            crop = np.zeros((h, w), np.float32)
            top, left = (h - bh) // 2, (w - bw) // 2
            crop[top:top + bh, left:left + bw] = np.where(labels[y:y + bh, x:x + bw] == i, frame[y:y + bh, x:x + bw], 0.0)
            boxes.append((x, y, bw, bh))
            crops.append(crop)
    return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(crops, np.float32).reshape(-1, h, w)


def blob_frames(canvases: np.ndarray) -> np.ndarray:
    """At most :data:`MAX_BLOB_FRAMES` evenly spaced canvases of a video, as float32, for
    :func:`foreground_blobs` (a long video's every blob would not fit in memory)."""
    stride = max(1, -(-len(canvases) // MAX_BLOB_FRAMES))
    return np.asarray(canvases[::stride], np.float32)


def blob_shape_prior(boxes: np.ndarray, width: int, height: int, aspect: float = 2.4) -> tuple[float, float]:
    """The window prior of a camera from its foreground blobs (no labels), for upright people.

    Blobs are parts of people (legs, a head), whole people, and groups merged side by side:
    their widths say little, but the taller blobs are whole people. The object height is
    taken as the 75th percentile of blob heights and the width as that height over
    ``aspect`` (height / width of a standing person's box).

    Args:
        boxes: ``(N, 4)`` blob boxes ``x, y, w, h`` in canvas pixels (:func:`foreground_blobs`).
        width: canvas width in pixels.
        height: canvas height in pixels.
        aspect: height / width of an object's window.

    Returns:
        ``(scale_prior, aspect)``: the window width as a share of the canvas width (clipped to
        0.03-0.5), and ``aspect``; the defaults of :func:`cctv_config` when there are fewer
        than 10 blobs.
    """
    if len(boxes) < 10:
        return 0.15, 2.2
    tall = float(np.percentile(boxes[:, 3], 75))
    return float(np.clip(tall / aspect / width, 0.03, 0.5)), float(aspect)
