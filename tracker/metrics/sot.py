"""Single-object tracking evaluation (OTB-style), also on MOTChallenge sequences.

:func:`run_sot` starts a tracker on each ground-truth track at the track's first box and
follows it to the track's last frame; the tracker is scored on every later frame where
the ground truth has a box:

* **IoU** of the predicted and the ground-truth box; a frame where the tracker returned
  no box for the object scores IoU 0 (and an infinite centre error).
* **mean_iou**: the mean IoU.
* **auc**: the area under the OTB success plot: the success rate ``mean(IoU > t)`` at the
  21 thresholds ``t = 0, 0.05, ..., 1.0`` (:data:`SUCCESS_THRESHOLDS`), averaged. The
  comparison is strict, as in the OTB toolkit, so the success rate at ``t = 1`` is 0 and
  perfect tracking has ``auc = 20 / 21 = 0.952``.
* **sr50**: the success rate at 0.5, ``mean(IoU > 0.5)``.
* **precision20**: ``mean(centre error <= 20 px)`` (OTB's precision at 20 pixels).
* **fps**: tracking speed in object-frames per second: the number of boxes the tracker
  produced (one per live object per :meth:`~attentrack.tracker.base.Tracker.update` call) divided
  by the wall-clock time spent inside ``attentrack.tracker.start`` and ``attentrack.tracker.update`` (decoding
  frames and scoring are not timed). For one object this is the usual frames/s.

Conventions: the first frame of a track (where the tracker is given the ground-truth box)
is not scored; frames where the ground truth has no box (the target is invisible, or a
gap in a MOTChallenge track) are not scored, though the tracker keeps running through
them. Scores of several tracks, and of several sequences, are pooled frame-weighted: every
scored object-frame counts once.

On a MOTChallenge sequence all tracks alive at a frame are followed by **one** tracker
instance (each started with ``attentrack.tracker.start`` at its first frame and removed with
``attentrack.tracker.remove`` after its last frame), so the video is decoded once.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.boxes import as_boxes, centre_distance, iou
from attentrack.tracker.errors import InputError

log = logging.getLogger(__name__)

#: IoU thresholds of the OTB success plot: 0, 0.05, ..., 1.0 (21 values)
SUCCESS_THRESHOLDS = np.round(np.linspace(0.0, 1.0, 21), 2)
#: centre-error threshold of the precision score, in pixels
PRECISION_PX = 20.0
#: name of the combined row
ALL = "all"


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
    pred = as_boxes(pred_boxes)
    gt = as_boxes(gt_boxes)
    if len(pred) != len(gt):
        raise InputError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth boxes")
    missing = ~np.all(np.isfinite(pred), axis=1)
    safe = np.where(missing[:, None], 0.0, pred)
    ious = np.where(missing, 0.0, iou(safe, gt))
    errors = np.where(missing, np.inf, centre_distance(safe, gt))
    return ious.astype(np.float64), errors.astype(np.float64)


def success_curve(ious, thresholds=SUCCESS_THRESHOLDS) -> np.ndarray:
    """OTB success rates: the fraction of frames with ``IoU > t`` for each threshold.

    Args:
        ious: ``(N,)`` IoU per frame.
        thresholds: ``(K,)`` IoU thresholds (default the 21 values 0, 0.05, ..., 1).

    Returns:
        ``(K,)`` fractions in ``[0, 1]`` (NaN when ``N == 0``).
    """
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if len(ious) == 0:
        return np.full(len(thr), np.nan)
    return (ious[None, :] > thr[:, None]).mean(axis=1)


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else math.nan


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
        tracks: ground-truth tracks followed.
        object_frames: boxes the tracker produced (live objects summed over ``update``
            calls), scored or not.
        seconds: wall-clock seconds spent in ``attentrack.tracker.start`` and ``attentrack.tracker.update``.
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

    @property
    def scored_frames(self) -> int:
        """The number of scored object-frames ``K``."""
        return int(len(self.ious))

    @property
    def mean_iou(self) -> float:
        """Mean IoU over the scored object-frames (NaN when none)."""
        return _mean(self.ious)

    @property
    def success(self) -> np.ndarray:
        """``(21,)`` success rates at :data:`SUCCESS_THRESHOLDS`."""
        return success_curve(self.ious)

    @property
    def auc(self) -> float:
        """Area under the success plot: the mean of :attr:`success`."""
        return _mean(self.success) if len(self.ious) else math.nan

    @property
    def sr50(self) -> float:
        """Fraction of scored object-frames with ``IoU > 0.5``."""
        return _mean((self.ious > 0.5).astype(float))

    @property
    def precision20(self) -> float:
        """Fraction of scored object-frames with centre error ``<= 20`` pixels."""
        return _mean((self.centre_errors <= PRECISION_PX).astype(float))

    @property
    def fps(self) -> float:
        """Object-frames per second of tracker time (NaN when nothing was timed)."""
        return self.object_frames / self.seconds if self.seconds > 0 else math.nan

    def per_track(self) -> dict[int, "SotResult"]:
        """``{gt_id: SotResult}`` with the scored frames of each track (speed not split)."""
        out = {}
        for tid in np.unique(self.track_ids):
            k = self.track_ids == tid
            out[int(tid)] = SotResult(self.model, self.sequence, self.track_ids[k],
                                      self.frames[k], self.ious[k], self.centre_errors[k], 1)
        return out

    def to_dict(self, per_frame: bool = False) -> dict[str, Any]:
        """The summary row: ``model, sequence, mean_iou, auc, sr50, precision20, fps,
        tracks, frames`` (scored object-frames), ``object_frames, seconds``; NaN becomes
        ``None``.

        Args:
            per_frame: also include the lists ``track_ids, frame_numbers, ious,
                centre_errors`` (``inf`` errors as ``None``), enough for :meth:`from_dict`.
        """
        out: dict[str, Any] = {
            "model": self.model,
            "sequence": self.sequence,
            "mean_iou": _num(self.mean_iou),
            "auc": _num(self.auc),
            "sr50": _num(self.sr50),
            "precision20": _num(self.precision20),
            "fps": _num(self.fps, 2),
            "tracks": int(self.tracks),
            "frames": self.scored_frames,
            "object_frames": int(self.object_frames),
            "seconds": _num(self.seconds, 4),
        }
        if per_frame:
            out["track_ids"] = [int(v) for v in self.track_ids]
            out["frame_numbers"] = [int(v) for v in self.frames]
            out["ious"] = [float(v) for v in self.ious]
            out["centre_errors"] = [float(v) if np.isfinite(v) else None for v in self.centre_errors]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SotResult":
        """Rebuild from ``to_dict(per_frame=True)``."""
        try:
            return cls(
                str(data["model"]), str(data["sequence"]),
                np.asarray(data["track_ids"], dtype=int), np.asarray(data["frame_numbers"], dtype=int),
                np.asarray(data["ious"], dtype=np.float64),
                np.asarray([np.inf if v is None else v for v in data["centre_errors"]], dtype=np.float64),
                int(data["tracks"]), int(data["object_frames"]), float(data["seconds"] or 0.0),
            )
        except KeyError as exc:
            raise InputError(f"SOT result lacks {exc} (saved without per_frame=True?)") from None


def _num(v: float, digits: int = 6):
    v = float(v)
    return round(v, digits) if math.isfinite(v) else None


def combine_sot(results: Sequence[SotResult], sequence: str = ALL) -> SotResult:
    """Pool results (one model, several sequences) frame-weighted into one row.

    The scored object-frames are concatenated; tracks, object-frames and seconds are
    summed, so the combined fps is total object-frames over total tracker time.
    """
    if not results:
        raise InputError("nothing to combine: no SOT results")
    models = {r.model for r in results}
    if len(models) > 1:
        raise InputError(f"cannot pool results of several models: {', '.join(sorted(models))}")
    return SotResult(
        results[0].model, sequence,
        np.concatenate([r.track_ids for r in results]), np.concatenate([r.frames for r in results]),
        np.concatenate([r.ious for r in results]), np.concatenate([r.centre_errors for r in results]),
        sum(r.tracks for r in results), sum(r.object_frames for r in results),
        sum(r.seconds for r in results),
    )


def _select_tracks(tracks: dict[int, tuple[np.ndarray, np.ndarray]], max_tracks: int | None):
    order = sorted(tracks, key=lambda t: (int(tracks[t][0][0]), t))
    if max_tracks is not None:
        if max_tracks < 1:
            raise InputError(f"max_tracks must be at least 1, got {max_tracks}")
        order = order[:max_tracks]
    return {t: tracks[t] for t in order}


def run_sot(tracker_name, sequence, options: Mapping[str, Any] | None = None, *,
            max_tracks: int | None = None, min_length: int = 2) -> SotResult:
    """Run a tracker on the ground-truth tracks of a sequence and score it.

    Every track (at least ``min_length`` ground-truth boxes) is started on its first box
    at its first frame and followed to its last frame. Tracks alive at the same time are
    followed together by one tracker instance; the frames are decoded once. See the
    module docstring for the metrics and the scoring conventions.

    Args:
        tracker_name: a registered tracker name (see ``attentrack models``), or a
            :class:`~attentrack.tracker.base.Tracker` instance (then ``options`` must be empty).
        sequence: a :class:`attentrack.datasets.sequence.Sequence` (anything with ``name``,
            ``frames()`` yielding ``(index0, (H, W, 3) uint8 BGR)`` and
            ``tracks(min_length)`` returning ``{id: (frames (T,) 1-based, boxes (T, 4))}``).
        options: constructor options of the tracker.
        max_tracks: follow only the first ``max_tracks`` tracks, ordered by first frame
            then id (to keep runs short on crowded sequences).
        min_length: leave out tracks with fewer ground-truth boxes than this (at least 2:
            a track needs a frame to be scored on).

    Returns:
        the pooled :class:`SotResult` of the sequence (see :meth:`SotResult.per_track`).

    Raises:
        InputError: an unknown tracker or option, or a sequence without ground-truth
            tracks.
    """
    import cv2
    import torch

    # a tracker may change process-wide thread settings (HART sets OpenCV's pool to one
    # thread); restore them so that the next tracker runs as it would on its own
    cv2_threads, torch_threads = cv2.getNumThreads(), torch.get_num_threads()
    try:
        return _run_sot(tracker_name, sequence, options, max_tracks, min_length)
    finally:
        cv2.setNumThreads(cv2_threads)
        torch.set_num_threads(torch_threads)


def _run_sot(tracker_name, sequence, options, max_tracks, min_length) -> SotResult:
    from attentrack.tracker.base import Tracker, create_tracker

    if isinstance(tracker_name, Tracker):
        if options:
            raise InputError("options are only accepted with a tracker name")
        tracker, model = tracker_name, type(tracker_name).tracker_id or type(tracker_name).__name__
    else:
        tracker, model = create_tracker(str(tracker_name), dict(options or {})), str(tracker_name)

    tracks = _select_tracks(sequence.tracks(min_length=max(2, int(min_length))), max_tracks)
    if not tracks:
        raise InputError(
            f"sequence {sequence.name} has no ground-truth track with at least "
            f"{max(2, min_length)} boxes to follow"
        )
    starts: dict[int, list[int]] = defaultdict(list)
    last = {}
    for gid, (frames, _) in tracks.items():
        starts[int(frames[0])].append(gid)
        last[gid] = int(frames[-1])
    final = max(last.values())

    preds: dict[int, dict[int, np.ndarray]] = {gid: {} for gid in tracks}
    live: dict[int, int] = {}  # tracker id -> gt id
    seconds, object_frames, reached = 0.0, 0, 0
    for index0, image in sequence.frames():
        f = int(index0) + 1
        reached = f
        if live:
            t0 = time.perf_counter()
            out = tracker.update(image)
            seconds += time.perf_counter() - t0
            object_frames += len(live)
            boxes = {int(t.track_id): t.box for t in out}
            for tid, gid in live.items():
                if tid in boxes:
                    preds[gid][f] = np.asarray(boxes[tid], dtype=np.float64).reshape(4)
            ended = [tid for tid, gid in live.items() if last[gid] <= f]
            if ended:
                tracker.remove(ended)
                for tid in ended:
                    del live[tid]
        if f in starts:
            gids = starts[f]
            init = np.stack([tracks[g][1][0] for g in gids])
            t0 = time.perf_counter()
            try:
                ids = tracker.start(image, init)
            except InputError as exc:  # a ground-truth box this tracker cannot take
                raise InputError(f"sequence {sequence.name}, frame {f}: {exc}") from None
            seconds += time.perf_counter() - t0
            live.update({int(tid): gid for tid, gid in zip(ids, gids)})
        if f >= final:  # do not decode frames nobody needs
            break
    if live:
        tracker.remove(list(live))
    if reached < final:
        log.warning("sequence %s: ground truth runs to frame %d but the video ends at frame %d;"
                    " later frames are not scored", sequence.name, final, reached)

    parts_id, parts_f, parts_p, parts_g = [], [], [], []
    for gid, (frames, boxes) in tracks.items():
        keep = (frames > frames[0]) & (frames <= reached)
        fr = frames[keep].astype(int)
        pred = np.array([preds[gid].get(int(x), np.full(4, np.nan)) for x in fr]).reshape(-1, 4)
        parts_id.append(np.full(len(fr), gid, dtype=int))
        parts_f.append(fr)
        parts_p.append(pred)
        parts_g.append(boxes[keep].reshape(-1, 4))
    ious, errors = sot_scores(np.concatenate(parts_p), np.concatenate(parts_g))
    return SotResult(model, sequence.name, np.concatenate(parts_id), np.concatenate(parts_f),
                     ious, errors, len(tracks), object_frames, seconds)


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

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SotEvaluation":
        """Read a file written by :meth:`save`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"cannot read SOT evaluation {path}: {exc}") from None

    def format_table(self) -> str:
        """The models side by side; see :func:`format_sot_table`."""
        return format_sot_table(self.results)


def evaluate_sot(models: Iterable[str], sequences: Iterable, options: Mapping[str, Mapping[str, Any]] | None = None,
                 *, max_tracks: int | None = None) -> SotEvaluation:
    """Run :func:`run_sot` for every model on every sequence, plus a combined row per model.

    Args:
        models: tracker names.
        sequences: :class:`attentrack.datasets.sequence.Sequence` objects.
        options: ``{model: constructor options}``.
        max_tracks: passed to :func:`run_sot`.
    """
    models = list(dict.fromkeys(models))
    sequences = list(sequences)
    if not models:
        raise InputError("no model to evaluate")
    if not sequences:
        raise InputError("no sequence to evaluate on")
    results = []
    for model in models:
        rows = [run_sot(model, seq, (options or {}).get(model), max_tracks=max_tracks) for seq in sequences]
        results += rows + [combine_sot(rows)]
    return SotEvaluation(results)


def format_sot_table(results: Sequence[SotResult]) -> str:
    """A text table with the models side by side.

    One line per sequence (in order of appearance, ``all`` last); for each model the
    columns ``mIoU AUC SR50 P@20 fps``. ``tracks`` and ``frames`` (scored object-frames)
    come from the first model's run.
    """
    models = list(dict.fromkeys(r.model for r in results))
    seqs = list(dict.fromkeys(r.sequence for r in results if r.sequence != ALL))
    if any(r.sequence == ALL for r in results):
        seqs.append(ALL)
    by = {(r.model, r.sequence): r for r in results}
    cols = [("mIoU", "mean_iou", 6, 3), ("AUC", "auc", 6, 3), ("SR50", "sr50", 6, 3),
            ("P@20", "precision20", 6, 3), ("fps", "fps", 9, 1)]
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
            cells = []
            for _, attr, w, digits in cols:
                v = getattr(r, attr) if r is not None else math.nan
                cells.append(f"{v:>{w}.{digits}f}" if math.isfinite(v) else f"{'-':>{w}}")
            line += " | " + " ".join(cells)
        lines.append(line)
    lines.append(
        "AUC: mean success rate over IoU thresholds 0,0.05..1 (IoU > t); SR50: IoU > 0.5; "
        "P@20: centre error <= 20 px; fps: object-frames per second of tracker time"
    )
    return "\n".join(lines)
