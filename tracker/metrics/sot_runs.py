"""Single-object results to score: trackers run on ground-truth tracks, or saved result files.

:func:`run_sot` starts a tracker on each ground-truth track at the track's first box and
follows it to the track's last frame. On a MOTChallenge sequence all tracks alive at a
frame are followed by **one** tracker instance (each started with ``start`` at its first
frame and removed with ``remove`` after its last frame), so the video is decoded once.
Speed (``fps``) is object-frames per second of the time spent inside ``start`` and
``update`` (decoding and scoring are not timed): the number of boxes the tracker produced
divided by that time. For one object this is the usual frames/s.

:func:`read_saved_results` scores what the OTB toolkit and pytracking write instead: a
folder with one text file per target, one ``x,y,w,h`` box per line for every frame of
the sequence (line 1 is frame 1, the initial box).

The scores themselves are those of :mod:`attentrack.tracker.metrics.sot`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from attentrack.datasets.otb import read_otb
from attentrack.tracker.errors import InputError
from attentrack.tracker.metrics.sot import (
    SotEvaluation,
    SotResult,
    combine_sot,
    normalised_centre_errors,
    sot_scores,
)

log = logging.getLogger(__name__)


def _select_tracks(tracks: dict[int, tuple[np.ndarray, np.ndarray]], max_tracks: int | None):
    order = sorted(tracks, key=lambda t: (int(tracks[t][0][0]), t))
    if max_tracks is not None:
        if max_tracks < 1:
            raise InputError(f"max_tracks must be at least 1, got {max_tracks}")
        order = order[:max_tracks]
    return {t: tracks[t] for t in order}


def _targets(sequence, max_tracks: int | None, min_length: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The ground-truth tracks to follow, ordered by first frame then id."""
    tracks = _select_tracks(sequence.tracks(min_length=max(2, int(min_length))), max_tracks)
    if not tracks:
        raise InputError(
            f"sequence {sequence.name} has no ground-truth track with at least "
            f"{max(2, min_length)} boxes to follow"
        )
    return tracks


def run_sot(tracker_name, sequence, options: Mapping[str, Any] | None = None, *,
            max_tracks: int | None = None, min_length: int = 2, progress: bool = False) -> SotResult:
    """Run a tracker on the ground-truth tracks of a sequence and score it.

    Every track (at least ``min_length`` ground-truth boxes) is started on its first box
    at its first frame and followed to its last frame. Tracks alive at the same time are
    followed together by one tracker instance; the frames are decoded once. See
    :mod:`attentrack.tracker.metrics.sot` for the scores and the conventions.

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
        progress: show a progress bar over the frames on stderr.

    Returns:
        the :class:`SotResult` of the sequence (see :meth:`SotResult.per_track`).

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
        return _run_sot(tracker_name, sequence, options, max_tracks, min_length, progress)
    finally:
        cv2.setNumThreads(cv2_threads)
        torch.set_num_threads(torch_threads)


def _run_sot(tracker_name, sequence, options, max_tracks, min_length, progress) -> SotResult:
    from tqdm import tqdm

    from attentrack.tracker.base import Tracker, create_tracker

    if isinstance(tracker_name, Tracker):
        if options:
            raise InputError("options are only accepted with a tracker name")
        tracker, model = tracker_name, type(tracker_name).tracker_id or type(tracker_name).__name__
    else:
        tracker, model = create_tracker(str(tracker_name), dict(options or {})), str(tracker_name)

    tracks = _targets(sequence, max_tracks, min_length)
    starts: dict[int, list[int]] = defaultdict(list)
    last = {}
    for gid, (frames, _) in tracks.items():
        starts[int(frames[0])].append(gid)
        last[gid] = int(frames[-1])
    final = max(last.values())

    preds: dict[int, dict[int, np.ndarray]] = {gid: {} for gid in tracks}
    live: dict[int, int] = {}  # tracker id -> gt id
    seconds, object_frames, reached = 0.0, 0, 0
    bar = tqdm(total=final, unit="frame", desc=f"{model} {sequence.name}", leave=False, dynamic_ncols=True,
               disable=None if progress else True)  # None: shown only on a terminal
    try:
        for index0, image in sequence.frames():
            f = int(index0) + 1
            reached = f
            bar.update(1)
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
    finally:
        bar.close()
    if live:
        tracker.remove(list(live))
    if reached < final:
        log.warning("sequence %s: ground truth runs to frame %d but the video ends at frame %d;"
                    " later frames are not scored", sequence.name, final, reached)
    return _score(model, sequence.name, tracks, preds, reached, object_frames, seconds)


def _score(model: str, sequence: str, tracks, preds: dict[int, dict[int, np.ndarray]], reached: int,
           object_frames: int, seconds: float) -> SotResult:
    """Score every target on its frames after the first (up to frame ``reached``)."""
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    for k, (gid, (frames, boxes)) in enumerate(tracks.items()):
        keep = (frames > frames[0]) & (frames <= reached)
        fr = frames[keep].astype(int)
        parts["ids"].append(np.full(len(fr), gid, dtype=int))
        parts["targets"].append(np.full(len(fr), k, dtype=int))
        parts["frames"].append(fr)
        parts["pred"].append(np.array([preds[gid].get(int(x), np.full(4, np.nan)) for x in fr]).reshape(-1, 4))
        parts["gt"].append(boxes[keep].reshape(-1, 4))
    pred, gt = np.concatenate(parts["pred"]), np.concatenate(parts["gt"])
    ious, errors = sot_scores(pred, gt)
    return SotResult(model, sequence, np.concatenate(parts["ids"]), np.concatenate(parts["frames"]),
                     ious, errors, len(tracks), object_frames, seconds,
                     normalised_centre_errors(pred, gt), np.concatenate(parts["targets"]))


def result_files(folder: str | Path, sequence: str, track_ids: Iterable[int]) -> dict[int, Path]:
    """Where the OTB toolkit and pytracking keep the results of each target of a sequence.

    Args:
        folder: a results folder (one tracker).
        sequence: the sequence name.
        track_ids: the targets' ground-truth ids.

    Returns:
        ``{track id: file}``: ``FOLDER/SEQ.txt`` for a sequence with one target,
        ``FOLDER/SEQ-ID.txt`` for each target of a sequence with several (pytracking names
        OTB's ``Jogging`` targets ``Jogging-1`` and ``Jogging-2``).

    Raises:
        InputError: files missing (all of them are named).
    """
    ids = list(track_ids)
    folder = Path(folder)
    files = {ids[0]: folder / f"{sequence}.txt"} if len(ids) == 1 else {
        t: folder / f"{sequence}-{t}.txt" for t in ids}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise InputError(f"no results in {folder} for sequence {sequence}: {', '.join(missing)} not found")
    return files


def read_saved_results(name: str, folder: str | Path, sequence, *, max_tracks: int | None = None,
                       min_length: int = 2) -> SotResult:
    """Score saved OTB-format results of one tracker on one sequence (nothing is run).

    Args:
        name: the tracker's name in the result.
        folder: the folder of result files (see :func:`result_files`); each line is the
            ``x, y, w, h`` box of one frame, line 1 being frame 1 (commas, tabs or spaces
            between the numbers). ``NaN`` or ``0,0,0,0`` lines mean "no box" (IoU 0).
        sequence: a :class:`attentrack.datasets.sequence.Sequence` (``name`` and
            ``tracks(min_length)`` are used).
        max_tracks: as :func:`run_sot`.
        min_length: as :func:`run_sot`.

    Returns:
        the :class:`SotResult` (speed unknown: ``fps`` is NaN). Frames after the file's
        last line score as frames without a box (as pytracking pads them), with a warning.

    Raises:
        InputError: missing files or malformed lines (the message names file and line).
    """
    tracks = _targets(sequence, max_tracks, min_length)
    preds: dict[int, dict[int, np.ndarray]] = {}
    for gid, path in result_files(folder, sequence.name, tracks).items():
        boxes, _ = read_otb(path)
        last = int(tracks[gid][0][-1])
        if len(boxes) < last:
            log.warning("%s: %d lines but the ground truth of %s runs to frame %d; the frames after "
                        "line %d score as lost", path, len(boxes), sequence.name, last, len(boxes))
        preds[gid] = {f + 1: box for f, box in enumerate(boxes)}
    final = max(int(frames[-1]) for frames, _ in tracks.values())
    return _score(name, sequence.name, tracks, preds, final, 0, 0.0)


def evaluate_sot(models: Iterable[str], sequences: Iterable, options: Mapping[str, Mapping[str, Any]] | None = None,
                 *, max_tracks: int | None = None, saved: Mapping[str, str | Path] | None = None,
                 progress: bool = False) -> SotEvaluation:
    """Score every model (run with :func:`run_sot`) and every saved result folder on every
    sequence, plus a combined row per model.

    Args:
        models: tracker names to run.
        sequences: :class:`attentrack.datasets.sequence.Sequence` objects.
        options: ``{model: constructor options}``.
        max_tracks: passed to :func:`run_sot`.
        saved: ``{name: folder}`` of results already on disk (:func:`read_saved_results`).
        progress: progress bars on stderr while trackers run.
    """
    models = list(dict.fromkeys(models))
    saved = dict(saved or {})
    sequences = list(sequences)
    if not models and not saved:
        raise InputError("no model to run and no saved results to score")
    if not sequences:
        raise InputError("no sequence to evaluate on")
    clash = sorted(set(models) & set(saved))
    if clash:
        raise InputError(f"{clash[0]!r} names both a model and saved results; name the results NAME=DIR")
    results = []
    for model in models:
        rows = [run_sot(model, seq, (options or {}).get(model), max_tracks=max_tracks, progress=progress)
                for seq in sequences]
        results += rows + [combine_sot(rows)]
    for name, folder in saved.items():
        rows = [read_saved_results(name, folder, seq, max_tracks=max_tracks) for seq in sequences]
        results += rows + [combine_sot(rows)]
    return SotEvaluation(results)
