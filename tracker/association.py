"""Matching tracks to detections: a combined cost and Hungarian assignment.

The cost of pairing a track with a detection adds three terms, each in about ``[0, 1]``:
overlap (``1 - IoU`` of the track's predicted box and the detection), motion (the centre
distance in units of the track's gate, which is a multiple of the track's height, so it means
the same for small and large objects) and appearance (cosine distance of colour embeddings,
:mod:`attentrack.tracker.appearance`). Pairs outside the gate, of very different sizes, or
above ``max_cost`` are never matched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from attentrack.tracker.boxes import iou_matrix

#: a cost that stands for "never match"
FORBIDDEN = 1e6


@dataclass(frozen=True)
class CostWeights:
    """Weights of the terms of :func:`association_cost` (0 switches a term off).

    Attributes:
        overlap: weight of ``1 - IoU``.
        motion: weight of the gated centre distance.
        appearance: weight of the appearance (cosine) distance.
    """

    overlap: float = 1.0
    motion: float = 1.0
    appearance: float = 1.0


def association_cost(
    track_boxes: np.ndarray,
    detection_boxes: np.ndarray,
    gates: np.ndarray,
    appearance_distance: np.ndarray | None = None,
    weights: CostWeights = CostWeights(),
    max_size_ratio: float = 2.0,
) -> np.ndarray:
    """The ``(T, D)`` cost of pairing each track with each detection.

    Args:
        track_boxes: ``(T, 4)`` predicted ``x, y, w, h`` of the tracks, pixels.
        detection_boxes: ``(D, 4)`` ``x, y, w, h`` of the detections, pixels.
        gates: ``(T,)`` the farthest centre distance each track may jump, in pixels.
        appearance_distance: ``(T, D)`` in ``[0, 1]``, or None (no appearance term).
        weights: the terms' weights.
        max_size_ratio: largest ratio of the two heights (either way) a pair may have.

    Returns:
        ``(T, D)`` float costs; :data:`FORBIDDEN` where a pair is outside the gate (and does
        not overlap) or their sizes differ too much.
    """
    t, d = len(track_boxes), len(detection_boxes)
    if not t or not d:
        return np.zeros((t, d))
    ious = iou_matrix(track_boxes, detection_boxes)
    ct = track_boxes[:, :2] + track_boxes[:, 2:] / 2
    cd = detection_boxes[:, :2] + detection_boxes[:, 2:] / 2
    dist = np.linalg.norm(ct[:, None] - cd[None], axis=2)
    gates = np.maximum(np.asarray(gates, dtype=np.float64), 1e-6)[:, None]
    size = np.abs(np.log(np.maximum(detection_boxes[None, :, 3], 1e-6) / np.maximum(track_boxes[:, None, 3], 1e-6)))
    cost = weights.overlap * (1.0 - ious) + weights.motion * np.minimum(dist / gates, 1.0)
    if appearance_distance is not None and weights.appearance:
        cost = cost + weights.appearance * appearance_distance
    outside = ((dist > gates) & (ious <= 0)) | (size > np.log(max_size_ratio))
    return np.where(outside, FORBIDDEN, cost)


def assign(cost: np.ndarray, max_cost: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Hungarian assignment of rows (tracks) to columns (detections).

    Args:
        cost: ``(T, D)`` costs (:data:`FORBIDDEN` for pairs that may not match).
        max_cost: pairs costing more are left unmatched.

    Returns:
        ``(pairs, unmatched_rows, unmatched_columns)``, pairs as ``(row, column)``.
    """
    t, d = cost.shape
    if not t or not d:
        return [], list(range(t)), list(range(d))
    rows, cols = linear_sum_assignment(cost)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] <= max_cost]
    matched_r = {r for r, _ in pairs}
    matched_c = {c for _, c in pairs}
    return pairs, [r for r in range(t) if r not in matched_r], [c for c in range(d) if c not in matched_c]
