"""The association-only protocol: identity keeping measured apart from detection.

Ground-truth boxes are degraded as a real detector would see them
(:func:`attentrack.datasets.degrade.degrade_ground_truth`: a seeded share dropped, boxes
jittered, false positives added) and fed, frame by frame, to a
:class:`~attentrack.tracker.runner.MultiObjectTracker`; the tracks are scored against the
ground truth with the MOTChallenge metrics. The same runner with overlap-only costs, no motion
model, no memory of lost tracks and no confirmation delay is the plain IoU tracker it is
compared with. ``zoom`` > 1 runs a wider view (:mod:`attentrack.datasets.wide_view`, people
``zoom`` times smaller) to show that nothing depends on the people's size in pixels.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from attentrack.datasets.degrade import degrade_ground_truth
from attentrack.datasets.mot import MotRows
from attentrack.datasets.wide_view import evenly_spaced, surround_from_samples, wide_view_frame, wide_view_rows
from attentrack.tracker.metrics.mot import MotEvaluation, evaluate_mot
from attentrack.tracker.runner import MultiObjectTracker, RunnerSettings
from attentrack.tracker.sources import open_source

#: the plain IoU tracker: Hungarian matching at IoU >= 0.3, no motion, no memory, no delay
IOU_TRACKER = {"motion": False, "motion_weight": 0.0, "appearance_weight": 0.0, "max_lost": 0, "min_hits": 1,
               "coast": 0, "max_cost": 0.7}


@dataclass
class DegradeOptions:
    """How ground truth is degraded (see :func:`~attentrack.datasets.degrade.degrade_ground_truth`).

    Attributes:
        drop: share of boxes missed.
        jitter: noise on position and size, as a fraction of the box's size.
        false_positives: false boxes added, as a fraction of the kept true ones.
    """

    drop: float = 0.2
    jitter: float = 0.05
    false_positives: float = 0.1


def rows_from_tracks(frames_and_tracks: Iterable[tuple[int, list]]) -> MotRows:
    """MOT rows (1-based frames) from ``(frame_index, tracks)`` pairs."""
    out = [(i + 1, t.track_id, *np.asarray(t.box, dtype=np.float64), t.score)
           for i, tracks in frames_and_tracks for t in tracks]
    if not out:
        return MotRows.empty()
    a = np.asarray(out, dtype=np.float64)
    return MotRows(a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2:6], a[:, 6], -np.ones((len(a), 3)))


def track_detections(frames: Iterable[tuple[int, np.ndarray]], detections: MotRows,
                     tracker: MultiObjectTracker, clock: list[float] | None = None) -> Iterable[tuple[int, list]]:
    """Run ``tracker`` over ``frames`` (``(index, (H, W, 3) uint8)``), giving it each frame's
    detections (rows of the 1-based frame ``index + 1``); yields ``(index, tracks)``.

    ``clock``, when given, is a one-element list to which the seconds spent in the tracker are added."""
    by_frame = detections.by_frame()
    empty = np.zeros((0, 5))
    for index, frame in frames:
        rows = by_frame.get(index + 1)
        dets = empty if rows is None else np.concatenate([rows.boxes, rows.conf[:, None]], axis=1)
        t0 = time.perf_counter()
        tracks = tracker.update(frame, dets)
        if clock is not None:
            clock[0] += time.perf_counter() - t0
        yield index, tracks


def every_nth_frame(rows: MotRows, step: int) -> MotRows:
    """The rows of frames ``1, 1 + step, 1 + 2 step, ...`` renumbered ``1, 2, 3, ...``: a camera
    recording ``step`` times fewer frames a second."""
    if step == 1:
        return rows
    keep = (rows.frames - 1) % step == 0
    kept = rows.select(keep)
    kept.frames = (kept.frames - 1) // step + 1
    return kept


def _view(video: str, gt: MotRows, zoom: float,
          frame_step: int = 1) -> tuple[Callable[[], Iterable], MotRows, tuple[int, int]]:
    """Frames (a fresh iterator per call), ground truth and frame size of the (wider) view,
    every ``frame_step``-th frame of the recording."""
    source = open_source(video)
    surround = (surround_from_samples([f for _, f in evenly_spaced(iter(source), 50)], zoom)
                if zoom != 1 else None)

    def frames():
        for index, frame in open_source(video):
            if index % frame_step == 0:
                yield index // frame_step, frame if surround is None else wide_view_frame(frame, surround, zoom)

    rows = gt if zoom == 1 else wide_view_rows(gt, source.size, zoom)
    return frames, every_nth_frame(rows, frame_step), source.size


@dataclass
class ProtocolResult:
    """One pipeline on one view: the evaluation and the runner's speed.

    Attributes:
        pipeline: the pipeline's name (``runner``, ``iou``, ...).
        zoom: 1 for the recorded view, F for the F-times wider one.
        seed: the degradation's seed.
        evaluation: per sequence and ``COMBINED``.
        fps: frames per second of tracking (decoding and degrading excluded).
    """

    pipeline: str
    zoom: float
    seed: int
    evaluation: MotEvaluation
    fps: float


def association_protocol(sequences: list[tuple[str, str, MotRows]], pipelines: dict[str, RunnerSettings],
                         zooms=(1.0,), seeds=(0,), degrade: DegradeOptions = DegradeOptions(),
                         progress: Callable[[str], None] | None = None, frame_step: int = 1) -> list[ProtocolResult]:
    """Score each pipeline on degraded ground truth.

    Args:
        sequences: ``(name, video path, ground truth rows)`` each.
        pipelines: ``{name: settings}`` of the runners to compare.
        zooms: views: 1 = recorded, F = F times wider.
        seeds: degradation seeds; each is one draw of detections, the same for every pipeline.
        degrade: how detections are made from the ground truth.
        progress: called with a short line after each run (or None).
        frame_step: use every ``frame_step``-th frame only (a camera with that many times
            fewer frames a second; objects move that many times farther between frames).

    Returns:
        one :class:`ProtocolResult` per pipeline, zoom and seed.
    """
    results = []
    for zoom in zooms:
        views = {name: _view(video, gt, zoom, frame_step) for name, video, gt in sequences}
        for seed in seeds:
            dets = {name: degrade_ground_truth(gt, size, degrade.drop, degrade.jitter, degrade.false_positives,
                                               seed=seed + 1000 * k)
                    for k, (name, (_, gt, size)) in enumerate(views.items())}
            for pipeline, settings in pipelines.items():
                preds, clock, frames = {}, [0.0], 0
                for name, (frame_fn, _, _) in views.items():
                    tracker = MultiObjectTracker(settings=settings)
                    preds[name] = rows_from_tracks(track_detections(frame_fn(), dets[name], tracker, clock))
                    frames += tracker.frames_seen
                evaluation = evaluate_mot({n: v[1] for n, v in views.items()}, preds)
                results.append(ProtocolResult(pipeline, zoom, seed, evaluation, frames / max(clock[0], 1e-9)))
                if progress is not None:
                    progress(f"{pipeline} zoom {zoom:g} seed {seed}: IDF1 {evaluation.overall.idf1:.3f}")
    return results
