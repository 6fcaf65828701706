"""Ground truth degraded as a real detector would see it, for association-only evaluation.

:func:`degrade_ground_truth` turns ground-truth boxes into a ``det.txt``-like table: a seeded
share of boxes dropped (missed detections), the rest jittered in position and size in
proportion to each box's size, and false positives added with sizes drawn from the sequence's
own boxes. Feeding that to a tracker measures how well it keeps identities, apart from how
well it detects.
"""

from __future__ import annotations

import numpy as np

from attentrack.datasets.mot import MotRows
from attentrack.tracker.errors import InputError


def degrade_ground_truth(gt: MotRows, frame_size: tuple[int, int], drop: float = 0.2, jitter: float = 0.05,
                         false_positives: float = 0.1, seed: int = 0) -> MotRows:
    """Detections made from ground truth.

    Args:
        gt: ground-truth rows (ids and 1-based frames); boxes ``x, y, w, h`` pixels.
        frame_size: ``(width, height)`` of the frames, pixels; false positives lie inside.
        drop: probability that a ground-truth box is missed.
        jitter: standard deviation of the noise on a box's centre and size, as a fraction of
            its width (x, w) and height (y, h).
        false_positives: false boxes added, as a fraction of the kept true ones (spread over
            the frames at random); each takes the size of a random ground-truth box.
        seed: the random seed.

    Returns:
        rows with id -1 and confidence 1 (a detector's ``det.txt``), sorted by frame.
    """
    for name, value in (("drop", drop), ("jitter", jitter), ("false_positives", false_positives)):
        if not 0.0 <= value <= (1.0 if name == "drop" else 10.0):
            raise InputError(f"{name} out of range: {value}")
    width, height = frame_size
    rng = np.random.default_rng(seed)
    keep = rng.random(len(gt)) >= drop
    frames = gt.frames[keep]
    boxes = gt.boxes[keep].astype(np.float64).copy()
    size = np.repeat(boxes[:, 2:4], 2, axis=1)[:, [0, 2, 1, 3]]  # w, h, w, h
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    noise = rng.normal(0.0, jitter, size=(len(boxes), 4)) * size
    wh = np.maximum(boxes[:, 2:] + noise[:, 2:], 1.0)
    boxes = np.concatenate([centre + noise[:, :2] - wh / 2, wh], axis=1)
    n_false = int(round(false_positives * len(boxes)))
    if n_false and len(gt):
        all_frames = np.unique(gt.frames)
        fp_frames = rng.choice(all_frames, size=n_false)
        fp_wh = gt.boxes[rng.integers(0, len(gt), size=n_false), 2:4]
        fp_wh = np.minimum(fp_wh, [width, height])
        fp_xy = rng.random((n_false, 2)) * np.maximum([width, height] - fp_wh, 1.0)
        frames = np.concatenate([frames, fp_frames])
        boxes = np.concatenate([boxes, np.concatenate([fp_xy, fp_wh], axis=1)])
    order = np.argsort(frames, kind="stable")
    n = len(frames)
    return MotRows(frames[order].astype(int), -np.ones(n, dtype=int), boxes[order], np.ones(n), -np.ones((n, 3)))
