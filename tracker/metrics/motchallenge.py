"""MOTChallenge's ground-truth rules: what TrackEval removes before it scores a sequence.

MOT16, MOT17 and MOT20 ground truth (``frame, id, x, y, w, h, conf, class, visibility``)
labels every box with a class, and TrackEval (``MotChallenge2DBox``) scores only
pedestrians. In each frame it first matches the predictions to **all** ground-truth boxes,
whatever their class or confidence, by the Hungarian algorithm on IoU (pairs below
IoU 0.5 may not match); a prediction matched to a box of a *distractor* class is removed,
since finding a static person or a reflection is neither right nor wrong. Then it keeps
only the ground truth of class 1 (pedestrian) whose confidence is not 0. The distractor
classes are person on vehicle (2), static person (7), distractor (8) and reflection (12),
and for MOT20 also non-MOT vehicle (6). Predictions are pedestrians: a class above 1 in
their 8th column is an error (``-1``, what trackers write, is fine).

2D MOT 2015 ground truth has no classes (its 8th to 10th columns are world coordinates
or -1): only the rows with confidence 0 are dropped (the ``int(conf) != 0`` test of
TrackEval).

:func:`detect_benchmark` tells the two formats apart from the file's content;
:func:`apply_ground_truth_rules` applies the rules to one sequence.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from attentrack.datasets.mot import MotRows
from attentrack.tracker.boxes import iou_matrix
from attentrack.tracker.errors import InputError

#: MOTChallenge's class numbers (the 8th column of MOT16/17/20 ground truth)
CLASSES = {
    "pedestrian": 1, "person_on_vehicle": 2, "car": 3, "bicycle": 4, "motorbike": 5,
    "non_mot_vehicle": 6, "static_person": 7, "distractor": 8, "occluder": 9,
    "occluder_on_ground": 10, "occluder_full": 11, "reflection": 12, "crowd": 13,
}
PEDESTRIAN = CLASSES["pedestrian"]
_DISTRACTORS = ("person_on_vehicle", "static_person", "distractor", "reflection")
#: the classes whose matched predictions are removed, per benchmark
DISTRACTOR_CLASSES = {
    "MOT16": tuple(CLASSES[c] for c in _DISTRACTORS),
    "MOT17": tuple(CLASSES[c] for c in _DISTRACTORS),
    "MOT20": tuple(CLASSES[c] for c in (*_DISTRACTORS, "non_mot_vehicle")),
}
#: what ``--benchmark`` accepts: ``auto`` detects the format (see :func:`detect_benchmark`)
BENCHMARKS = ("auto", "MOT15", "MOT16", "MOT17", "MOT20")
#: IoU a prediction needs to be matched to (and removed by) a distractor box
MATCH_IOU = 0.5
_EPS = np.finfo(float).eps


def has_classes(gt: MotRows) -> bool:
    """Whether ground truth is in the MOT16/17/20 format: every row's 8th column is a
    MOTChallenge class number (an integer 1-13) and its 9th a visibility in ``[0, 1]``."""
    if len(gt) == 0:
        return False
    cls, vis = gt.extra[:, 0], gt.extra[:, 1]
    return bool(np.all(cls == np.round(cls)) and np.all((cls >= 1) & (cls <= len(CLASSES)))
                and np.all((vis >= 0) & (vis <= 1)))


def detect_benchmark(sequence: str, gt: MotRows, benchmark: str = "auto") -> str:
    """The rules a sequence is scored by: ``"MOT15"``, ``"MOT16"``, ``"MOT17"`` or ``"MOT20"``.

    Args:
        sequence: the sequence name (``MOT20-01`` ... selects MOT20's rules).
        gt: its ground truth, every row (also those with confidence 0).
        benchmark: one of :data:`BENCHMARKS`; ``"auto"``: ``"MOT20"`` for a sequence named
            ``MOT20-*`` whose ground truth has classes, ``"MOT17"`` for other ground truth
            with classes (MOT16 and MOT17 have the same rules), ``"MOT15"`` otherwise.

    Raises:
        InputError: an unknown benchmark name.
    """
    if benchmark not in BENCHMARKS:
        raise InputError(f"unknown benchmark {benchmark!r}; choose from {', '.join(BENCHMARKS)}")
    if benchmark != "auto":
        return benchmark
    if not has_classes(gt):
        return "MOT15"
    return "MOT20" if sequence.upper().startswith("MOT20") else "MOT17"


def apply_ground_truth_rules(sequence: str, gt: MotRows, pred: MotRows, benchmark: str) -> tuple[MotRows, MotRows]:
    """Remove what TrackEval removes before scoring one sequence.

    Args:
        sequence: the sequence name (for error messages).
        gt: every ground-truth row of the sequence (``extra[:, 0]`` is the class for
            MOT16/17/20).
        pred: the predicted rows.
        benchmark: ``"MOT15"``, ``"MOT16"``, ``"MOT17"`` or ``"MOT20"`` (see
            :func:`detect_benchmark`).

    Returns:
        ``(gt, pred)`` to score: MOT15: ground truth without the rows of confidence 0, the
        predictions unchanged; MOT16/17/20: ground truth of pedestrians with non-zero
        confidence, and the predictions without those matched to a distractor box.

    Raises:
        InputError: MOT16/17/20 ground truth with a class outside 1-13, or a prediction of
            a class above 1.
    """
    considered = gt.conf.astype(int) != 0
    if benchmark == "MOT15":
        return gt.select(considered), pred
    classes = np.round(gt.extra[:, 0]).astype(int)
    bad = np.setdiff1d(np.unique(classes), list(CLASSES.values()))
    if len(bad):
        raise InputError(
            f"ground truth of {sequence}: class {bad[0]} is not a MOTChallenge class (1-13); "
            f"use --benchmark MOT15 for ground truth without classes"
        )
    pred_classes = pred.extra[:, 0]
    if len(pred) and np.max(pred_classes) > PEDESTRIAN:
        raise InputError(
            f"prediction for {sequence}: class {int(np.max(pred_classes))} in column 8; "
            f"{benchmark} scores pedestrians only (write 1 or -1 there)"
        )
    distractor = np.isin(classes, DISTRACTOR_CLASSES[benchmark])
    removed = np.zeros(len(pred), dtype=bool)
    gt_by, pred_index = _rows_by_frame(gt.frames), _rows_by_frame(pred.frames)
    for frame, p_idx in pred_index.items():
        g_idx = gt_by.get(frame)
        if g_idx is None or not distractor[g_idx].any():
            continue
        scores = iou_matrix(gt.boxes[g_idx], pred.boxes[p_idx])
        scores[scores < MATCH_IOU - _EPS] = 0.0
        rows, cols = linear_sum_assignment(-scores)
        matched = scores[rows, cols] > _EPS
        rows, cols = rows[matched], cols[matched]
        removed[p_idx[cols[distractor[g_idx][rows]]]] = True
    keep_gt = considered & (classes == PEDESTRIAN)
    return gt.select(keep_gt), pred.select(~removed)


def _rows_by_frame(frames: np.ndarray) -> dict[int, np.ndarray]:
    """``{frame: row indices}`` of a table's frame column."""
    order = np.argsort(frames, kind="stable")
    uniq, starts = np.unique(frames[order], return_index=True)
    return {int(f): idx for f, idx in zip(uniq, np.split(order, starts[1:]))}
