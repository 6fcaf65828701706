"""The streaming loop: frames from a source, through a tracker, into sinks.

Memory is bounded: frames are decoded at most ``prefetch_size`` ahead, and nothing is kept
per frame beyond what the sinks write out.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attentrack.tracker.base import Track, Tracker
from attentrack.tracker.boxes import as_boxes, check_boxes_in_frame
from attentrack.tracker.camera_motion import CameraMotionCheck
from attentrack.tracker.detections import DetectionFile
from attentrack.tracker.errors import InputError
from attentrack.tracker.runner import MultiObjectTracker
from attentrack.tracker.sinks import Sink
from attentrack.tracker.sources import FrameSource, prefetch
from attentrack.tracker.termination import raise_if_terminated


@dataclass
class RunSummary:
    """What a run did.

    Attributes:
        source: the source's name.
        frames: frames processed.
        tracks: distinct track ids reported.
        seconds: wall time of the loop (decode, track, write).
        outputs: files and folders written.
    """

    source: str
    frames: int = 0
    tracks: int = 0
    seconds: float = 0.0
    outputs: list[Path] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames per second over the whole loop."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        """The summary as a JSON-ready dict (times rounded, paths as text)."""
        return {
            "source": self.source,
            "frames": self.frames,
            "tracks": self.tracks,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "outputs": [str(p) for p in self.outputs],
        }


def static_camera_part(tracker: Tracker, proposals: str | None) -> str:
    """What of a run assumes a static camera, for :func:`run_tracking`'s camera-motion check.

    Args:
        tracker: the run's tracker (its ``static_camera_user``, e.g. ``"the blobs baseline"``).
        proposals: the proposer that starts tracks (``"mog2"`` subtracts a background), or None
            when the run follows given boxes or the tracker starts its own tracks.

    Returns:
        the name to warn with; empty when nothing assumes a static camera.
    """
    if tracker.static_camera_user:
        return tracker.static_camera_user
    return "background subtraction (--proposals mog2)" if proposals == "mog2" else ""


def track_frame(tracker: Tracker, index: int, frame: np.ndarray, init_boxes=None,
                detections: DetectionFile | None = None) -> list[Track]:
    """One frame of a run: start the tracker on ``init_boxes`` at frame 0, else advance it
    (a :class:`~attentrack.tracker.runner.MultiObjectTracker` with that frame's detections).

    Args:
        tracker: the run's tracker.
        index: 0-based frame index.
        frame: ``(H, W, 3)`` uint8 BGR.
        init_boxes: ``(N, 4)`` ``x, y, w, h`` pixel boxes of the first frame, or None.
        detections: the run's detections file, or None.

    Returns:
        the frame's tracks.
    """
    if index == 0 and init_boxes is not None:
        ids = tracker.start(frame, init_boxes)
        return [Track(tid, box.copy(), 1.0) for tid, box in zip(ids, init_boxes)]
    if isinstance(tracker, MultiObjectTracker):
        return tracker.update(frame, detections.at(index) if detections is not None else None)
    return tracker.update(frame)


def run_tracking(
    source: FrameSource,
    tracker: Tracker,
    sinks: list[Sink] = (),
    init_boxes=None,
    detections: DetectionFile | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    prefetch_size: int = 8,
    static_camera_user: str = "",
) -> RunSummary:
    """Track through ``source`` and write every frame's tracks to ``sinks``.

    Args:
        source: where frames come from.
        tracker: follows the objects: a :class:`~attentrack.tracker.runner.MultiObjectTracker`
            (which starts, keeps and ends tracks from detections; see
            :func:`attentrack.tracker.runner.multi_object_tracker`), or any tracker given
            ``init_boxes`` (``[]`` for one that finds its own objects).
        sinks: receive each frame's tracks; closed (published) on success, aborted on error.
        init_boxes: ``(N, 4)`` ``x, y, w, h`` pixel boxes of the objects in the first frame.
        detections: per-frame detections (a ``det.txt``) for a ``MultiObjectTracker``; None:
            its proposer's, if it has one.
        max_frames: stop after this many frames.
        progress: show a tqdm bar with frames/s on stderr.
        prefetch_size: frames decoded ahead in the reader thread.
        static_camera_user: what in this run assumes a static camera (e.g. ``"the blobs
            baseline"``); when given, the first frames are checked for camera motion
            (:class:`attentrack.tracker.camera_motion.CameraMotionCheck`) and a moving camera gets one
            warning naming the source and it (see :func:`static_camera_part`).

    A live source (camera, stream) runs until it ends or is interrupted (Ctrl-C): the outputs
    of an interrupted live run are kept, those of an interrupted recorded video are not.

    Raises:
        InputError: bad boxes; neither ``init_boxes`` nor a ``MultiObjectTracker``; detections
            past the video's end.
    """
    runner = tracker if isinstance(tracker, MultiObjectTracker) else None
    if init_boxes is None and runner is None:
        raise InputError("give initial boxes (--init) or a proposal source")
    if detections is not None:
        if runner is None:
            raise InputError("detections need the multi-object runner")
        detections.check_length(source.frame_count)
    if init_boxes is not None:
        init_boxes = as_boxes(init_boxes)
        check_boxes_in_frame(init_boxes, *source.size)
    summary = RunSummary(source=source.name)
    ids_seen: set[int] = set()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=source.frame_count if max_frames is None else min(max_frames, source.frame_count or max_frames),
                   unit="frame", desc=source.name, leave=False, dynamic_ncols=True)
    camera = CameraMotionCheck() if static_camera_user else None

    def warn_moving() -> None:
        warnings.warn(f"{source.name}: {camera.message(static_camera_user)}", stacklevel=3)

    frames = prefetch(iter(source), maxsize=prefetch_size)
    t0 = time.perf_counter()
    try:
        for index, frame in frames:
            raise_if_terminated()  # a SIGTERM whose interrupt a library swallowed still stops the run
            if max_frames is not None and index >= max_frames:
                break
            if camera is not None and not camera.decided and camera.update(frame):
                warn_moving()
            tracks = track_frame(tracker, index, frame, init_boxes, detections)
            for sink in sinks:
                sink.write(index, frame, tracks)
            ids_seen.update(t.track_id for t in tracks)
            summary.frames += 1
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:  # a live stream has no end: Ctrl-C ends the run and keeps its outputs
        if not source.live or summary.frames == 0:
            for sink in sinks:
                sink.abort()
            raise
        warnings.warn(f"{source.name}: interrupted; the outputs cover the first {summary.frames} frames", stacklevel=2)
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    finally:
        frames.close()
        if bar is not None:
            bar.close()
    if summary.frames == 0:
        for sink in sinks:
            sink.abort()
        raise InputError(f"{source.name}: no frames were read")
    if camera is not None and not camera.decided and camera.finish():  # a clip shorter than the check
        warn_moving()
    summary.seconds = time.perf_counter() - t0
    summary.tracks = len(ids_seen)
    for sink in sinks:
        summary.outputs.extend(sink.close())
    return summary
