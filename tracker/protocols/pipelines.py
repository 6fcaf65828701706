"""Whole multi-object pipelines side by side on real sequences, at recorded size and on wider
views: each model runs as ``track VIDEO -m MODEL`` would (no ``--init``; fitted first when it
fits, e.g. ``sqair --fit``), through the one multi-object runner, and is scored against the
ground truth.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from attentrack.datasets.mot import MotRows
from attentrack.tracker.metrics.mot import MotEvaluation


@dataclass
class PipelineResult:
    """One model on one view of every sequence.

    Attributes:
        model: the tracker's registered name.
        zoom: 1 for the recorded view, F for the F-times wider one.
        evaluation: per sequence and ``COMBINED``.
        fps: frames per second of the whole run (decoding, proposals, model, runner; a fit
            before it excluded).
        fit_seconds: seconds spent fitting (0 for models that do not fit).
    """

    model: str
    zoom: float
    evaluation: MotEvaluation
    fps: float
    fit_seconds: float = 0.0


def wide_view_sequence(video: Path, gt: MotRows, zoom: float, cache: Path,
                       keep_noise: bool = False) -> tuple[Path, MotRows]:
    """``(video, ground truth)`` of the ``zoom``-times wider view of a sequence, written once:
    to ``cache/wide.avi``, or with the recording's sensor noise kept (``keep_noise``,
    :func:`attentrack.datasets.wide_view.wide_view_frames`) as lossless PNG images in
    ``cache/wide-noise/`` (MJPG would smooth the noise away; 4 MB a frame at 1920x1080); the
    recorded sequence itself when ``zoom`` is 1."""
    from attentrack.datasets.wide_view import wide_view_frames, wide_view_rows, write_wide_view
    from attentrack.tracker.sources import open_source

    if zoom == 1:
        return video, gt
    source = open_source(str(video))
    frames = lambda: (f for _, f in open_source(str(video)))  # noqa: E731
    if keep_noise:
        path = _png_folder_once(cache / "wide-noise", lambda: wide_view_frames(frames, zoom, keep_noise=True))
    else:
        path = cache / "wide.avi"
        if not path.is_file():
            cache.mkdir(parents=True, exist_ok=True)
            write_wide_view(frames, path, zoom, fps=source.fps)
    return path, wide_view_rows(gt, source.size, zoom)


def lower_rate_sequence(video: Path, gt: MotRows, step: int, cache: Path) -> tuple[Path, MotRows]:
    """``(frames, ground truth)`` of every ``step``-th frame of a sequence (a camera recording
    ``step`` times fewer frames a second): the frames written once, losslessly, as PNG images
    to ``cache/every{step}/``, the ground truth renumbered
    (:func:`~attentrack.tracker.protocols.association.every_nth_frame`); the sequence itself when
    ``step`` is 1."""
    from attentrack.tracker.protocols.association import every_nth_frame
    from attentrack.tracker.sources import open_source

    if step == 1:
        return video, gt
    folder = _png_folder_once(cache / f"every{step}",
                              lambda: (frame for index, frame in open_source(str(video)) if index % step == 0))
    return folder, every_nth_frame(gt, step)


def _png_folder_once(folder: Path, frames: Callable[[], Iterable[np.ndarray]]) -> Path:
    """``folder`` holding ``frames()`` (``(H, W, 3)`` uint8 each) as lossless PNG images
    ``000001.png, ...``, written unless a ``complete`` marker says an earlier run finished."""
    import cv2

    done = folder / "complete"
    if not done.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for index, frame in enumerate(frames()):
            cv2.imwrite(str(folder / f"{index + 1:06d}.png"), frame)
        done.write_text("")
    return folder


def wide_view_detections(detections: Path, video: Path, zoom: float, cache: Path,
                         score_threshold: float | None = None, frame_step: int = 1):
    """The :class:`~attentrack.tracker.detections.DetectionFile` of a sequence's ``det.txt``
    for its ``zoom``-times wider view at every ``frame_step``-th frame: the boxes moved as the
    frames are and the frames renumbered (:func:`~attentrack.tracker.protocols.association.every_nth_frame`),
    written once to ``cache/det-KEY.txt`` (KEY from the file's path, size and time and the
    step); the file itself when ``zoom`` and ``frame_step`` are 1."""
    from attentrack.datasets.mot import write_mot
    from attentrack.datasets.wide_view import wide_view_rows
    from attentrack.tracker.detections import DetectionFile
    from attentrack.tracker.protocols.association import every_nth_frame
    from attentrack.tracker.sources import open_source

    if zoom == 1 and frame_step == 1:
        return DetectionFile(detections, score_threshold)
    stat = Path(detections).stat()
    key = hashlib.sha1(f"{Path(detections).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{frame_step}"
                       .encode()).hexdigest()[:12]
    path = cache / f"det-{key}.txt"  # a new or changed det.txt is moved again
    if not path.is_file():
        rows = DetectionFile(detections)
        n = len(rows)
        recorded = MotRows(rows.frames, -np.ones(n, dtype=np.int64), rows.boxes, rows.scores, -np.ones((n, 3)))
        cache.mkdir(parents=True, exist_ok=True)
        write_mot(path, every_nth_frame(wide_view_rows(recorded, open_source(str(video)).size, zoom), frame_step))
    return DetectionFile(path, score_threshold)


def run_pipeline(model: str, options: dict, video: Path, work_dir: Path, settings=None,
                 progress: bool = False, proposals: str = "mog2",
                 proposal_options: dict | None = None, detections=None,
                 as_live: bool = False) -> tuple[MotRows, int, float, float]:
    """Track ``video`` as ``track VIDEO -m MODEL [--fit]`` does.

    Args:
        model: a registered tracker; one with a ``fit`` method is fitted on the video first
            (resumable: its checkpoint lives in ``work_dir``).
        options: the tracker's options (``-p``).
        video: the video file.
        work_dir: where a fit keeps its checkpoint and weights.
        settings: the runner's settings (None: defaults).
        progress: show the fit's progress bar.
        proposals: the registered proposer that starts tracks (models that find their own
            objects ignore it).
        proposal_options: its options (``{name: value}``).
        detections: a :class:`~attentrack.tracker.detections.DetectionFile` that starts and
            supports the tracks instead of the proposals (as ``track --detections``), or None.
        as_live: run the video as a camera delivers it: its background model primed from its
            first seconds only (:func:`attentrack.tracker.runner.prime_detector`), not from the
            recording's median.

    Returns:
        ``(rows, frames, seconds of tracking, seconds of fitting)``.
    """
    from attentrack.tracker.api import iter_tracks
    from attentrack.tracker.base import create_tracker
    from attentrack.tracker.protocols.association import rows_from_tracks
    from attentrack.tracker.sources import open_source

    tracker = create_tracker(model, dict(options))
    fit_seconds = 0.0
    if hasattr(tracker, "fit"):
        t0 = time.perf_counter()
        tracker.fit(str(video), work_dir, progress=progress)
        fit_seconds = time.perf_counter() - t0
    frames = [0]

    source = open_source(str(video))
    source.live = as_live

    def counted():
        for index, tracks in iter_tracks(source, tracker, proposals=proposals, settings=settings,
                                         proposal_options=proposal_options, detections=detections):
            frames[0] += 1
            yield index, tracks

    t0 = time.perf_counter()
    rows = rows_from_tracks(counted())
    return rows, frames[0], time.perf_counter() - t0, fit_seconds


def compare_pipelines(sequences: list[tuple[str, Path, MotRows]], models: dict[str, dict], zooms=(1.0,),
                      work_dir: Path = Path("runs/pipelines"), settings=None,
                      progress: Callable[[str], None] | None = None, fit_progress: bool = False,
                      proposals: str = "mog2", proposal_options: dict | None = None,
                      detections: dict[str, Path] | None = None,
                      det_threshold: float | None = None, frame_step: int = 1,
                      view_noise: bool = False, as_live: bool = False) -> list[PipelineResult]:
    """Score each model on each view of every sequence.

    Args:
        sequences: ``(name, video path, ground truth rows)`` each.
        models: ``{registered name: options}``.
        zooms: views: 1 = recorded, F = F times wider (people F times smaller).
        work_dir: wide-view videos, fits and result files (``ZOOM/NAME/MODEL.txt``) go here.
        settings: the runner's settings, the same for every model.
        progress: called with a short line after each run (or None).
        fit_progress: show fits' progress bars.
        proposals: the registered proposer that starts tracks, the same for every model.
        proposal_options: its options (``{name: value}``).
        detections: ``{sequence name: det.txt}`` that start and support the tracks instead of
            proposals (every model must follow given objects), or None.
        det_threshold: detections scoring less are ignored (None: all kept).
        frame_step: use every ``frame_step``-th frame only (:func:`lower_rate_sequence`), and
            of the ``detections`` too.
        view_noise: the wider views keep the recording's sensor noise on every pixel
            (``keep_noise`` of :func:`wide_view_sequence`).
        as_live: run every video as a camera delivers it (:func:`run_pipeline`).

    Returns:
        one :class:`PipelineResult` per model and view.
    """
    from attentrack.datasets.mot import write_mot
    from attentrack.tracker.metrics.mot import evaluate_mot

    results = []
    for zoom in zooms:
        noisy = view_noise and zoom != 1
        view_dir = (work_dir / f"zoom{zoom:g}{'-noise' if noisy else ''}"
                    / (f"every{frame_step}" if frame_step > 1 else ""))
        views = {name: lower_rate_sequence(*wide_view_sequence(video, gt, zoom, view_dir / name, noisy),
                                           frame_step, view_dir / name)
                 for name, video, gt in sequences}
        for model, options in models.items():
            preds, frames, seconds, fit_seconds = {}, 0, 0.0, 0.0
            for (name, recorded, _), (video, _) in zip(sequences, views.values()):
                out = view_dir / name
                dets = (wide_view_detections(detections[name], recorded, zoom, out, det_threshold, frame_step)
                        if detections else None)
                rows, n, secs, fit_secs = run_pipeline(model, options, video, out / model, settings, fit_progress,
                                                       proposals, proposal_options, dets, as_live)
                write_mot(out / f"{model}.txt", rows)
                preds[name] = rows
                frames, seconds, fit_seconds = frames + n, seconds + secs, fit_seconds + fit_secs
            evaluation = evaluate_mot({n: v[1] for n, v in views.items()}, preds)
            results.append(PipelineResult(model, zoom, evaluation, frames / max(seconds, 1e-9), fit_seconds))
            if progress is not None:
                progress(f"{model} zoom {zoom:g}: IDF1 {evaluation.overall.idf1:.3f} MOTA {evaluation.overall.mota:.3f}")
    return results
