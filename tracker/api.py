"""The library's front door: open a source, create a tracker, run it, score the result.

Example (the README's; ``tests/packaging/test_public_api.py`` runs it)::

    import attentrack

    tracker = attentrack.create_tracker("hart")
    result = attentrack.track("TUD-Campus.mp4", tracker, init=[(399, 182, 121, 229)])
    result.save("out/TUD-Campus.txt")
    print(attentrack.evaluate_mot("TUD-Campus/gt/gt.txt", "out/TUD-Campus.txt").format_table())

:func:`iter_tracks` is the streaming form (one frame's tracks at a time, bounded memory, for
cameras and endless streams); :func:`track` collects the tracks of a recorded clip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from attentrack.datasets.mot import MotRows, read_mot, write_mot
from attentrack.tracker.base import Track, Tracker, create_tracker
from attentrack.tracker.boxes import as_boxes, check_boxes_in_frame
from attentrack.tracker.detections import DetectionFile
from attentrack.tracker.errors import InputError
from attentrack.tracker.sources import FrameSource, open_source, prefetch


def _as_tracker(tracker: Tracker | str, options: Mapping | None) -> Tracker:
    if isinstance(tracker, Tracker):
        if options:
            raise InputError("options go with a tracker name, not with a tracker instance")
        return tracker
    return create_tracker(str(tracker), dict(options or {}))


def iter_tracks(
    source: FrameSource | str | int | os.PathLike,
    tracker: Tracker | str,
    init=None,
    proposals: str = "mog2",
    max_frames: int | None = None,
    options: Mapping | None = None,
    detections=None,
    settings=None,
    proposal_options: Mapping | None = None,
) -> Iterator[tuple[int, list[Track]]]:
    """Run a tracker over a source, one frame at a time.

    Args:
        source: a :class:`~attentrack.tracker.sources.FrameSource` or anything
            :func:`~attentrack.tracker.sources.open_source` opens (video file, image folder or
            glob, camera index, RTSP/HTTP URL).
        tracker: a tracker instance, or a registered name (``attentrack.available_trackers()``).
        init: ``(N, 4)`` ``x, y, w, h`` pixel boxes of the objects in the first frame; ``None``
            starts tracks from ``proposals`` instead (trackers that find their own objects,
            such as ``sqair`` or ``blobs``, ignore it).
        proposals: the registered proposer that starts tracks when ``init`` is ``None``.
        proposal_options: the proposer's options (``{name: value}``, e.g. ``{"open_height": 60}``
            for :class:`~attentrack.tracker.proposals.MOG2Proposer`; text values converted).
        max_frames: stop after this many frames.
        options: constructor options when ``tracker`` is a name.
        detections: a MOTChallenge ``det.txt`` (path or
            :class:`~attentrack.tracker.detections.DetectionFile`) whose boxes start and
            support tracks in place of ``proposals``.
        settings: the multi-object runner's settings
            (:class:`~attentrack.tracker.runner.RunnerSettings` or ``{name: value}``). Every
            run goes through the runner: tracks start, are kept through short misses and end
            (also ``init`` ones, when they leave the frame or their score stays low;
            ``keep_init=True`` keeps those forever).

    Yields:
        ``(frame_index, tracks)``: the 0-based frame index and that frame's
        :class:`~attentrack.tracker.base.Track` list. Frames are decoded a few ahead in a
        reader thread; nothing is kept per frame, so an endless stream runs in bounded memory.

    Raises:
        InputError: an unreadable source, unknown tracker or option, or a malformed box.
    """
    from attentrack.tracker.pipeline import track_frame
    from attentrack.tracker.proposals import create_proposer
    from attentrack.tracker.runner import RunnerSettings, multi_object_tracker

    source = source if isinstance(source, FrameSource) else open_source(source)
    tracker = _as_tracker(tracker, options)
    if init is not None:
        init = as_boxes(init)
        check_boxes_in_frame(init, *source.size)
    if detections is not None and not isinstance(detections, DetectionFile):
        detections = DetectionFile(detections)
    if detections is not None:
        detections.check_length(source.frame_count)
    starts_own = getattr(tracker, "self_starting", False)
    proposer = (create_proposer(proposals, dict(proposal_options or {}))
                if init is None and detections is None and not starts_own else None)
    if isinstance(settings, Mapping):
        settings = RunnerSettings.from_options(dict(settings))
    runner = multi_object_tracker(tracker, proposer, settings, source=source)
    frames = prefetch(iter(source))
    try:
        for index, frame in frames:
            if max_frames is not None and index >= max_frames:
                break
            yield index, track_frame(runner, index, frame, init, detections)
    finally:
        frames.close()


@dataclass
class TrackingResult:
    """The tracks of a whole run, as MOTChallenge rows.

    Attributes:
        rows: one row per track and frame; ``rows.frames`` are 1-based, ``rows.boxes`` are
            ``x, y, w, h`` in pixels, ``rows.conf`` the tracks' scores.
        frames: how many frames were processed.
    """

    rows: MotRows
    frames: int

    @property
    def track_ids(self) -> list[int]:
        """The distinct track ids, ascending."""
        return sorted(int(i) for i in np.unique(self.rows.ids))

    def save(self, path: str | os.PathLike) -> None:
        """Write the rows as a MOTChallenge result file (atomically)."""
        write_mot(path, self.rows)


def track(
    source: FrameSource | str | int | os.PathLike,
    tracker: Tracker | str,
    init=None,
    proposals: str = "mog2",
    max_frames: int | None = None,
    options: Mapping | None = None,
    detections=None,
    settings=None,
    proposal_options: Mapping | None = None,
) -> TrackingResult:
    """Run a tracker over a recorded source and collect every frame's tracks.

    Takes the arguments of :func:`iter_tracks` (use that for live streams).

    Returns:
        a :class:`TrackingResult`.
    """
    frames, ids, boxes, scores = [], [], [], []
    n = 0
    for index, tracks in iter_tracks(source, tracker, init, proposals, max_frames, options, detections, settings,
                                     proposal_options):
        n += 1
        for t in tracks:
            frames.append(index + 1)
            ids.append(t.track_id)
            boxes.append(np.asarray(t.box, dtype=np.float64))
            scores.append(t.score)
    if n == 0:
        raise InputError("no frames were read")
    rows = MotRows(np.asarray(frames, dtype=np.int64), np.asarray(ids, dtype=np.int64),
                   np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(scores, dtype=np.float64),
                   -np.ones((len(frames), 3)))
    return TrackingResult(rows, n)


def evaluate_mot(gt, pred, min_confidence: float | None = None, benchmark: str = "auto"):
    """Score predicted tracks against ground truth with the MOTChallenge metrics.

    Args:
        gt: a MOTChallenge file or folder (see
            :func:`~attentrack.tracker.metrics.mot.pair_mot_files`), or ``{sequence: MotRows}``
            with every row of the file (TrackEval's rules drop what is not scored).
        pred: the same kinds as ``gt``; a :class:`TrackingResult` or :class:`MotRows` is
            paired with a single ground-truth sequence. A :class:`TrackingResult` is scored
            on the frames its run processed only (``max_frames``).
        min_confidence: also drop ground-truth rows with confidence below this.
        benchmark: the ground-truth rules (``auto``, ``MOT15``, ``MOT16``, ``MOT17``,
            ``MOT20``; see :mod:`attentrack.tracker.metrics.motchallenge`).

    Returns:
        a :class:`~attentrack.tracker.metrics.mot.MotEvaluation` (``format_table()``,
        ``combined.idf1``, ``combined.mota``, ``to_dict()`` ...).
    """
    from attentrack.tracker.metrics.mot import evaluate_mot as evaluate_rows
    from attentrack.tracker.metrics.mot import evaluate_mot_files

    frames_run = None
    if isinstance(pred, TrackingResult):
        pred, frames_run = pred.rows, pred.frames
    if isinstance(gt, (str, os.PathLike)) and isinstance(pred, (str, os.PathLike)):
        return evaluate_mot_files(gt, pred, min_confidence=min_confidence, benchmark=benchmark)
    if isinstance(gt, (str, os.PathLike)):
        gt = read_mot(gt)
    if isinstance(pred, (str, os.PathLike)):
        pred = read_mot(pred)
    if isinstance(gt, MotRows) and isinstance(pred, MotRows):
        gt, pred = {"sequence": gt}, {"sequence": pred}
    if not (isinstance(gt, Mapping) and isinstance(pred, Mapping)):
        raise InputError("evaluate_mot takes files, folders, MotRows or {sequence: MotRows} for gt and pred")
    limits = None if frames_run is None else {name: frames_run for name in gt}
    return evaluate_rows(gt, pred, benchmark=benchmark, frames_run=limits, min_confidence=min_confidence)
