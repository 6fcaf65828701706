"""Single-object tracking scores (OTB, LaSOT, TrackingNet), also on MOTChallenge sequences.

A tracker is started on a ground-truth box and scored on every later frame where the
ground truth has a box (:mod:`attentrack.tracker.metrics.sot_runs` runs trackers, or reads
saved OTB-format results). Per scored frame:

* **IoU** of the predicted and the ground-truth box; a frame where the tracker gave no box
  scores IoU 0 and an infinite centre error.
* **centre error**: the distance between the box centres, in pixels.
* **normalised centre error** (LaSOT, TrackingNet): the centre offset divided by the
  ground-truth box's width and height, then its length; 0.5 means half a box away.

Curves and scores:

* **success curve**: ``mean(IoU > t)`` at the 21 thresholds ``t = 0, 0.05, ..., 1``
  (:data:`SUCCESS_THRESHOLDS`; strict, as in the OTB toolkit, so perfect tracking scores 0
  at ``t = 1``). **AUC** is its mean (perfect tracking: ``20 / 21 = 0.952``); **SR50** its
  value at 0.5.
* **precision curve**: ``mean(centre error <= t)`` for ``t = 0, 1, ..., 50`` px
  (:data:`PRECISION_THRESHOLDS`); **P@20** its value at 20 px (OTB's precision).
* **normalised precision curve**: ``mean(normalised error <= t)`` for
  ``t = 0, 0.01, ..., 0.5`` (:data:`NORM_PRECISION_THRESHOLDS`); **NPrec** its mean, the
  area LaSOT and TrackingNet rank by (pytracking prints the curve's value at 0.2 instead).
* **mIoU**: the mean IoU.

Averaging (:data:`AVERAGINGS`): ``"target"`` (the default) computes each target's curves
and averages them, every target counting once whatever its length, as the OTB toolkit and
pytracking average sequences (OTB's two-target sequences count as two); a target is one
ground-truth track of one sequence. ``"frame"`` pools the scored frames of all targets, so
long targets weigh more. The two agree on a single target.

Conventions: the first frame of a target (where the tracker is given the ground-truth
box) is not scored (OTB and pytracking count it as a perfect frame); frames where the
ground truth has no box are not scored.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.boxes import as_boxes, centre_distance, iou, xywh_to_cxcywh
from attentrack.tracker.errors import InputError
from attentrack.tracker.tables import write_csv

#: IoU thresholds of the OTB success plot: 0, 0.05, ..., 1.0 (21 values)
SUCCESS_THRESHOLDS = np.round(np.linspace(0.0, 1.0, 21), 2)
#: centre-error thresholds of the precision plot: 0, 1, ..., 50 pixels
PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64)
#: normalised centre-error thresholds of the normalised precision plot: 0, 0.01, ..., 0.5
NORM_PRECISION_THRESHOLDS = np.round(np.arange(51) / 100.0, 2)
#: centre-error threshold of the precision score, in pixels
PRECISION_PX = 20.0
#: name of the combined row
ALL = "all"
#: how scores of several targets are combined: per target then averaged (OTB), or pooled frames
AVERAGINGS = ("target", "frame")


def sot_scores(pred_boxes, gt_boxes) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame IoU and centre error.

    Args:
        pred_boxes: ``(N, 4)`` predicted ``x, y, w, h`` in pixels; a row with a NaN means
            "no prediction" and scores IoU 0 and centre error ``inf``.
        gt_boxes: ``(N, 4)`` ground-truth ``x, y, w, h`` in pixels.

    Returns:
        ``(ious, centre_errors)``, both ``(N,)`` float: IoU in ``[0, 1]`` and the distance
        between the box centres in pixels.
    """
    pred, gt, missing = _pair(pred_boxes, gt_boxes)
    safe = np.where(missing[:, None], 0.0, pred)
    ious = np.where(missing, 0.0, iou(safe, gt))
    errors = np.where(missing, np.inf, centre_distance(safe, gt))
    return ious.astype(np.float64), errors.astype(np.float64)


def normalised_centre_errors(pred_boxes, gt_boxes) -> np.ndarray:
    """Per-frame centre error in units of the ground-truth box (LaSOT, TrackingNet).

    Args:
        pred_boxes: ``(N, 4)`` predicted ``x, y, w, h`` in pixels (NaN rows: no prediction).
        gt_boxes: ``(N, 4)`` ground-truth ``x, y, w, h`` in pixels, positive sizes.

    Returns:
        ``(N,)`` float: the length of ``((cx_p - cx_g) / w_g, (cy_p - cy_g) / h_g)``;
        ``inf`` where there is no prediction.
    """
    pred, gt, missing = _pair(pred_boxes, gt_boxes)
    safe = np.where(missing[:, None], 0.0, pred)
    offset = (xywh_to_cxcywh(safe)[:, :2] - xywh_to_cxcywh(gt)[:, :2]) / np.maximum(gt[:, 2:], 1e-12)
    return np.where(missing, np.inf, np.linalg.norm(offset, axis=1)).astype(np.float64)


def _pair(pred_boxes, gt_boxes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = as_boxes(pred_boxes)
    gt = as_boxes(gt_boxes)
    if len(pred) != len(gt):
        raise InputError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth boxes")
    return pred, gt, ~np.all(np.isfinite(pred), axis=1)


def success_curve(ious, thresholds=SUCCESS_THRESHOLDS) -> np.ndarray:
    """OTB success rates: the fraction of frames with ``IoU > t`` for each threshold.

    Args:
        ious: ``(N,)`` IoU per frame.
        thresholds: ``(K,)`` IoU thresholds (default the 21 values 0, 0.05, ..., 1).

    Returns:
        ``(K,)`` fractions in ``[0, 1]`` (NaN when ``N == 0``).
    """
    return _rate(ious, thresholds, np.greater)


def precision_curve(errors, thresholds=PRECISION_THRESHOLDS) -> np.ndarray:
    """OTB precision rates: the fraction of frames with ``error <= t`` for each threshold.

    Args:
        errors: ``(N,)`` centre errors (pixels, or normalised with
            :data:`NORM_PRECISION_THRESHOLDS`).
        thresholds: ``(K,)`` thresholds (default 0, 1, ..., 50 px).

    Returns:
        ``(K,)`` fractions in ``[0, 1]`` (NaN when ``N == 0``).
    """
    return _rate(errors, thresholds, np.less_equal)


def _rate(values, thresholds, compare) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if len(v) == 0:
        return np.full(len(thr), np.nan)
    return compare(v[None, :], thr[:, None]).mean(axis=1)


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else math.nan


@dataclass(frozen=True)
class SotScores:
    """The curves and scores of a set of scored object-frames, combined one way.

    Attributes:
        averaging: ``"target"`` (each target's curves, averaged) or ``"frame"`` (pooled).
        targets: targets with at least one scored frame.
        frames: scored object-frames.
        success: ``(21,)`` success rates at :data:`SUCCESS_THRESHOLDS`.
        precision: ``(51,)`` precision rates at :data:`PRECISION_THRESHOLDS` (pixels).
        norm_precision: ``(51,)`` rates at :data:`NORM_PRECISION_THRESHOLDS`.
        mean_iou: mean IoU (of the targets' means, for ``"target"``).
    """

    averaging: str
    targets: int
    frames: int
    success: np.ndarray
    precision: np.ndarray
    norm_precision: np.ndarray
    mean_iou: float

    @property
    def auc(self) -> float:
        """Area under the success curve (its mean)."""
        return _mean(self.success) if self.frames else math.nan

    @property
    def sr50(self) -> float:
        """Success rate at IoU 0.5 (``IoU > 0.5``)."""
        return float(self.success[int(np.argmin(np.abs(SUCCESS_THRESHOLDS - 0.5)))])

    @property
    def precision20(self) -> float:
        """Precision at :data:`PRECISION_PX` (centre error <= 20 px)."""
        return float(self.precision[int(np.argmin(np.abs(PRECISION_THRESHOLDS - PRECISION_PX)))])

    @property
    def norm_precision_auc(self) -> float:
        """Normalised precision: the mean of :attr:`norm_precision` (LaSOT, TrackingNet)."""
        return _mean(self.norm_precision) if self.frames else math.nan

    def summary(self) -> dict[str, float]:
        """``{mean_iou, auc, sr50, precision20, norm_precision}``."""
        return {"mean_iou": self.mean_iou, "auc": self.auc, "sr50": self.sr50,
                "precision20": self.precision20, "norm_precision": self.norm_precision_auc}


def score_frames(ious, centre_errors, norm_errors, targets=None, averaging: str = "target") -> SotScores:
    """Curves and scores of scored object-frames.

    Args:
        ious: ``(K,)`` IoU per scored object-frame.
        centre_errors: ``(K,)`` centre errors in pixels.
        norm_errors: ``(K,)`` normalised centre errors.
        targets: ``(K,)`` int target of each frame (``None``: one target).
        averaging: one of :data:`AVERAGINGS`.
    """
    if averaging not in AVERAGINGS:
        raise InputError(f"unknown averaging {averaging!r}; choose from {', '.join(AVERAGINGS)}")
    ious, errors, norm = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (ious, centre_errors, norm_errors))
    groups = np.zeros(len(ious), int) if targets is None else np.asarray(targets).reshape(-1)
    if averaging == "frame":
        parts = [np.arange(len(ious))] if len(ious) else []
    else:
        parts = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    curves = [(success_curve(ious[k]), precision_curve(errors[k]),
               precision_curve(norm[k], NORM_PRECISION_THRESHOLDS), _mean(ious[k])) for k in parts]
    if not curves:
        return SotScores(averaging, 0, 0, np.full(len(SUCCESS_THRESHOLDS), np.nan),
                         np.full(len(PRECISION_THRESHOLDS), np.nan),
                         np.full(len(NORM_PRECISION_THRESHOLDS), np.nan), math.nan)
    success, precision, normed, means = zip(*curves)
    return SotScores(averaging, len(np.unique(groups)), len(ious), np.mean(success, axis=0),
                     np.mean(precision, axis=0), np.mean(normed, axis=0), float(np.mean(means)))


@dataclass
class SotResult:
    """One model on one sequence (or on all, ``sequence == "all"``).

    Attributes:
        model: the tracker name.
        sequence: the sequence name, or ``"all"`` for a combined row.
        track_ids: ``(K,)`` int ground-truth id of each scored object-frame.
        frames: ``(K,)`` int 1-based frame of each scored object-frame.
        ious: ``(K,)`` float IoU of each scored object-frame.
        centre_errors: ``(K,)`` float centre error in pixels (``inf`` when the tracker
            gave no box).
        tracks: ground-truth tracks followed (targets).
        object_frames: boxes the tracker produced (live objects summed over ``update``
            calls), scored or not.
        seconds: wall-clock seconds spent in the tracker's ``start`` and ``update`` (0 for
            saved results: speed unknown).
        norm_errors: ``(K,)`` float normalised centre error (``None``: unknown, NaN).
        targets: ``(K,)`` int target of each scored object-frame, unique across the
            sequences of a combined row (``None``: from ``track_ids``).
    """

    model: str
    sequence: str
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    ious: np.ndarray = field(default_factory=lambda: np.zeros(0))
    centre_errors: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tracks: int = 0
    object_frames: int = 0
    seconds: float = 0.0
    norm_errors: np.ndarray | None = None
    targets: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.norm_errors is None:
            self.norm_errors = np.full(len(self.ious), np.nan)
        if self.targets is None:
            self.targets = np.unique(np.asarray(self.track_ids, dtype=int), return_inverse=True)[1].reshape(-1)

    @property
    def scored_frames(self) -> int:
        """The number of scored object-frames ``K``."""
        return int(len(self.ious))

    def scores(self, averaging: str = "target") -> SotScores:
        """Curves and scores, averaged over targets (OTB, the default) or pooled over frames."""
        return score_frames(self.ious, self.centre_errors, self.norm_errors, self.targets, averaging)

    @property
    def mean_iou(self) -> float:
        """Mean IoU, averaged over targets (NaN when nothing was scored)."""
        return self.scores().mean_iou

    @property
    def success(self) -> np.ndarray:
        """``(21,)`` success rates at :data:`SUCCESS_THRESHOLDS`, averaged over targets."""
        return self.scores().success

    @property
    def auc(self) -> float:
        """Success AUC, averaged over targets."""
        return self.scores().auc

    @property
    def sr50(self) -> float:
        """Success rate at IoU 0.5, averaged over targets."""
        return self.scores().sr50

    @property
    def precision20(self) -> float:
        """Precision at 20 px, averaged over targets."""
        return self.scores().precision20

    @property
    def norm_precision(self) -> float:
        """Normalised precision (area over 0-0.5), averaged over targets."""
        return self.scores().norm_precision_auc

    @property
    def fps(self) -> float:
        """Object-frames per second of tracker time (NaN when nothing was timed)."""
        return self.object_frames / self.seconds if self.seconds > 0 else math.nan

    def per_track(self) -> dict[int, "SotResult"]:
        """``{gt_id: SotResult}`` with the scored frames of each track (speed not split)."""
        out = {}
        for tid in np.unique(self.track_ids):
            k = self.track_ids == tid
            out[int(tid)] = SotResult(self.model, self.sequence, self.track_ids[k], self.frames[k],
                                      self.ious[k], self.centre_errors[k], 1, norm_errors=self.norm_errors[k])
        return out

    def to_dict(self, per_frame: bool = False) -> dict[str, Any]:
        """The summary row: ``model, sequence``; ``mean_iou, auc, sr50, precision20,
        norm_precision`` averaged over targets (OTB) and the same with a ``pooled_`` prefix
        pooled over frames; ``fps, tracks, frames`` (scored object-frames),
        ``object_frames, seconds``. NaN becomes ``None``.

        Args:
            per_frame: also include the lists ``track_ids, targets, frame_numbers, ious,
                centre_errors, norm_centre_errors`` (``inf`` as ``None``), enough for
                :meth:`from_dict`.
        """
        out: dict[str, Any] = {"model": self.model, "sequence": self.sequence}
        out.update({k: _num(v) for k, v in self.scores("target").summary().items()})
        out.update({f"pooled_{k}": _num(v) for k, v in self.scores("frame").summary().items()})
        out.update({
            "fps": _num(self.fps, 2),
            "tracks": int(self.tracks),
            "frames": self.scored_frames,
            "object_frames": int(self.object_frames),
            "seconds": _num(self.seconds, 4),
        })
        if per_frame:
            out["track_ids"] = [int(v) for v in self.track_ids]
            out["targets"] = [int(v) for v in self.targets]
            out["frame_numbers"] = [int(v) for v in self.frames]
            out["ious"] = [float(v) for v in self.ious]
            out["centre_errors"] = [_finite(v) for v in self.centre_errors]
            out["norm_centre_errors"] = [_finite(v) for v in self.norm_errors]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SotResult":
        """Rebuild from ``to_dict(per_frame=True)``."""
        try:
            inf = lambda vals: np.asarray([np.inf if v is None else v for v in vals], dtype=np.float64)  # noqa: E731
            return cls(
                str(data["model"]), str(data["sequence"]),
                np.asarray(data["track_ids"], dtype=int), np.asarray(data["frame_numbers"], dtype=int),
                np.asarray(data["ious"], dtype=np.float64), inf(data["centre_errors"]),
                int(data["tracks"]), int(data["object_frames"]), float(data["seconds"] or 0.0),
                inf(data["norm_centre_errors"]) if "norm_centre_errors" in data else None,
                np.asarray(data["targets"], dtype=int) if "targets" in data else None,
            )
        except KeyError as exc:
            raise InputError(f"SOT result lacks {exc} (saved without per_frame=True?)") from None


def _num(v: float, digits: int = 6):
    v = float(v)
    return round(v, digits) if math.isfinite(v) else None


def _finite(v: float):
    return float(v) if np.isfinite(v) else None


def combine_sot(results: Sequence[SotResult], sequence: str = ALL) -> SotResult:
    """Combine results of one model on several sequences into one row.

    The scored object-frames are concatenated, each sequence's targets kept apart (so
    averaging over targets counts every target of every sequence once); tracks,
    object-frames and seconds are summed, so the combined fps is total object-frames over
    total tracker time.
    """
    if not results:
        raise InputError("nothing to combine: no SOT results")
    models = {r.model for r in results}
    if len(models) > 1:
        raise InputError(f"cannot pool results of several models: {', '.join(sorted(models))}")
    targets, offset = [], 0
    for r in results:
        targets.append(r.targets + offset)
        offset += int(r.targets.max()) + 1 if len(r.targets) else 0
    cat = lambda name: np.concatenate([getattr(r, name) for r in results])  # noqa: E731
    return SotResult(
        results[0].model, sequence, cat("track_ids"), cat("frames"), cat("ious"), cat("centre_errors"),
        sum(r.tracks for r in results), sum(r.object_frames for r in results),
        sum(r.seconds for r in results), cat("norm_errors"), np.concatenate(targets),
    )


@dataclass
class SotEvaluation:
    """Several models on several sequences.

    Attributes:
        results: one :class:`SotResult` per model and sequence, then one combined row
            (``sequence == "all"``) per model, models in the order given.
    """

    results: list[SotResult] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        """Model names in order of first appearance."""
        return list(dict.fromkeys(r.model for r in self.results))

    def __getitem__(self, key: tuple[str, str]) -> SotResult:
        """The result of ``(model, sequence)``."""
        for r in self.results:
            if (r.model, r.sequence) == tuple(key):
                return r
        raise KeyError(key)

    def to_rows(self) -> list[dict[str, Any]]:
        """The summary rows of :meth:`SotResult.to_dict`, for ``--json``."""
        return [r.to_dict() for r in self.results]

    def to_dict(self, per_frame: bool = False) -> dict[str, Any]:
        """``{"results": [SotResult.to_dict(per_frame), ...]}``."""
        return {"results": [r.to_dict(per_frame) for r in self.results]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SotEvaluation":
        """Inverse of ``to_dict(per_frame=True)``."""
        return cls([SotResult.from_dict(r) for r in data["results"]])

    def to_json(self, indent: int | None = 1, per_frame: bool = False) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(per_frame), indent=indent)

    def save(self, path: str | os.PathLike) -> None:
        """Write the full result (with per-frame scores) as JSON (atomically)."""
        with atomic_write(path) as fh:
            fh.write(self.to_json(per_frame=True))

    def save_csv(self, path: str | os.PathLike) -> None:
        """Write the summary rows (:meth:`to_rows`) as CSV (atomically)."""
        rows = self.to_rows()
        write_csv(path, rows, list(rows[0]) if rows else ["model", "sequence"])

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SotEvaluation":
        """Read a file written by :meth:`save`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"cannot read SOT evaluation {path}: {exc}") from None

    def format_table(self, averaging: str = "target") -> str:
        """The models side by side; see :func:`format_sot_table`."""
        return format_sot_table(self.results, averaging)


def format_sot_table(results: Sequence[SotResult], averaging: str = "target") -> str:
    """A text table with the models side by side.

    One line per sequence (in order of appearance, ``all`` last); for each model the
    columns ``AUC P@20 NPrec mIoU SR50 fps``, combined over targets as ``averaging``
    says (:data:`AVERAGINGS`); the last line names the averaging. ``tracks`` and
    ``frames`` (scored object-frames) come from the first model's run.
    """
    if averaging not in AVERAGINGS:
        raise InputError(f"unknown averaging {averaging!r}; choose from {', '.join(AVERAGINGS)}")
    models = list(dict.fromkeys(r.model for r in results))
    seqs = list(dict.fromkeys(r.sequence for r in results if r.sequence != ALL))
    if any(r.sequence == ALL for r in results):
        seqs.append(ALL)
    by = {(r.model, r.sequence): r for r in results}
    cols = [("AUC", "auc", 6, 3), ("P@20", "precision20", 6, 3), ("NPrec", "norm_precision", 6, 3),
            ("mIoU", "mean_iou", 6, 3), ("SR50", "sr50", 6, 3), ("fps", "fps", 9, 1)]
    group_w = sum(w for _, _, w, _ in cols) + len(cols) - 1
    name_w = max(8, *(len(s) for s in seqs)) if seqs else 8
    left = f"{'sequence':<{name_w}} {'tracks':>6} {'frames':>7}"
    top = " " * len(left) + "".join(" | " + f"{m[:group_w]:^{group_w}}" for m in models)
    sub = left + "".join(" | " + " ".join(f"{h:>{w}}" for h, _, w, _ in cols) for _ in models)
    lines = [top, sub, "-" * len(sub)]
    for s in seqs:
        first = next((by[(m, s)] for m in models if (m, s) in by), None)
        if first is None:
            continue
        line = f"{s:<{name_w}} {first.tracks:>6d} {first.scored_frames:>7d}"
        for m in models:
            r = by.get((m, s))
            values = {} if r is None else {**r.scores(averaging).summary(), "fps": r.fps}
            cells = []
            for _, attr, w, digits in cols:
                v = values.get(attr, math.nan)
                cells.append(f"{v:>{w}.{digits}f}" if math.isfinite(v) else f"{'-':>{w}}")
            line += " | " + " ".join(cells)
        lines.append(line)
    how = ("each target (ground-truth track) scored alone, then averaged (OTB/pytracking)"
           if averaging == "target" else "scored frames of all targets pooled (frame-weighted)")
    lines.append(
        f"scores: {how}. AUC: mean success rate over IoU thresholds 0,0.05..1 (IoU > t); P@20: centre "
        "error <= 20 px; NPrec: mean normalised precision over 0..0.5 (LaSOT/TrackingNet); SR50: IoU > 0.5; "
        "fps: object-frames per second of tracker time"
    )
    return "\n".join(lines)
