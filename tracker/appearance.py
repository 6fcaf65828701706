"""Appearance embeddings of boxes, for re-identifying objects across frames.

The embedding is a joint hue-saturation-value histogram of the box's central part (the
borders of a detection box are mostly background), L2-normalised, so the cosine similarity
of two embeddings is their dot product. It needs no training and no network, and it is the
same for objects of any size: boxes are sampled at a fixed resolution first.
"""

from __future__ import annotations

import cv2
import numpy as np

from attentrack.tracker.boxes import as_boxes, clip_to_frame

#: hue, saturation and value bins of :func:`colour_embeddings`
BINS = (8, 4, 4)
#: side of the square every box is resampled to before its histogram is taken
SAMPLE_SIDE = 32


def colour_embeddings(frame: np.ndarray, boxes, inner: float = 0.8) -> np.ndarray:
    """One embedding per box.

    Args:
        frame: ``(H, W, 3)`` uint8 BGR image.
        boxes: ``(N, 4)`` ``x, y, w, h`` in pixels of ``frame``.
        inner: the central fraction of each box's width and height that is described.

    Returns:
        ``(N, 128)`` float32, each row of unit length (all zero for a box outside the frame).
    """
    boxes = as_boxes(boxes)
    out = np.zeros((len(boxes), int(np.prod(BINS))), dtype=np.float32)
    if not len(boxes):
        return out
    height, width = frame.shape[:2]
    cx = boxes[:, 0] + boxes[:, 2] / 2
    cy = boxes[:, 1] + boxes[:, 3] / 2
    core = np.stack([cx - inner * boxes[:, 2] / 2, cy - inner * boxes[:, 3] / 2,
                     inner * boxes[:, 2], inner * boxes[:, 3]], axis=1)
    core = clip_to_frame(core, width, height)
    for i, (x, y, w, h) in enumerate(core):
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        x1, y1 = int(np.ceil(x + w)), int(np.ceil(y + h))
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        patch = cv2.resize(frame[y0:y1, x0:x1], (SAMPLE_SIDE, SAMPLE_SIDE), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256]).ravel()
        norm = float(np.linalg.norm(hist))
        if norm > 0:
            out[i] = hist / norm
    return out


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` one minus the cosine similarity of unit-length rows ``a`` (N, D) and ``b`` (M, D),
    in ``[0, 1]`` for the non-negative histograms of :func:`colour_embeddings` (1 where a row is zero)."""
    if not len(a) or not len(b):
        return np.ones((len(a), len(b)))
    return np.clip(1.0 - np.asarray(a, dtype=np.float64) @ np.asarray(b, dtype=np.float64).T, 0.0, 1.0)
