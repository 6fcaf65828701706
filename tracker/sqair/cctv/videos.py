"""Recorded videos -> CCTV canvases: frames read once or streamed, the median background sampled
over the whole video, and a warning when the camera seems to move."""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from attentrack.tracker.camera_motion import CameraMotionCheck
from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.cctv.canvas import ForegroundCanvas

#: mean share of foreground pixels above which the camera is probably moving
MOVING_CAMERA_FOREGROUND = 0.35
#: evenly spaced frames whose per-pixel median is the background
BACKGROUND_SAMPLES = 50
#: how the camera-motion warnings name the part of a run that assumes a static camera
STATIC_CAMERA_USER = "SQAIR's CCTV mode"


def read_frames(source_spec, max_frames: int | None = None) -> list[np.ndarray]:
    """All frames of a video file or folder (``(H, W, 3)`` BGR uint8), in memory: for short
    clips (tests, benchmarks); fitting streams with :func:`fit_canvases`.

    Raises:
        InputError: an unreadable source, a live stream, or a video with no frames.
    """
    frames = []
    for frame in _recorded_frames(source_spec):
        frames.append(frame)
        if max_frames and len(frames) >= max_frames:
            break
    if not frames:
        raise InputError(f"{source_spec}: the video has no frames")
    return frames


def _recorded_frames(source_spec):
    """The frames of a recorded video, one at a time (a live stream is refused)."""
    from attentrack.tracker.sources import open_source

    src = open_source(source_spec)
    if src.live:
        raise InputError("fitting SQAIR needs a recorded video, not a live stream")
    for _, frame in src:
        yield frame


def _background_step(n_frames: int) -> int:
    """Every how many frames of ``n_frames`` one is sampled for the median background."""
    return max(1, n_frames // BACKGROUND_SAMPLES)


def _warn_if_moving(canvases: np.ndarray, camera: CameraMotionCheck) -> None:
    """One warning when the canvases are mostly foreground or ``camera`` saw the background move."""
    share = float(canvases[5:].mean(dtype=np.float64)) if len(canvases) > 5 else 0.0
    if camera.finish():
        warnings.warn(camera.message(STATIC_CAMERA_USER), stacklevel=3)
    elif share > MOVING_CAMERA_FOREGROUND:
        warnings.warn(f"{100 * share:.0f}% of the image is foreground: the camera seems to move; "
                      f"{STATIC_CAMERA_USER} assumes a static camera", stacklevel=3)


def video_canvases(frames: list[np.ndarray], canvas: ForegroundCanvas) -> np.ndarray:
    """``(T, height, width)`` canvases of ``frames``; warns when the camera seems to move."""
    if canvas.background == "median":
        canvas.set_background(frames[::_background_step(len(frames))])
    camera = CameraMotionCheck()
    camera.feed(frames)
    out = np.stack([canvas(f) for f in frames])
    _warn_if_moving(out, camera)
    return out


def fit_canvases(source_spec, canvas: ForegroundCanvas, max_frames: int = 0) -> tuple[np.ndarray, int]:
    """The canvases of a recorded video for fitting, in bounded memory.

    Streams the video three times: to count its frames, to estimate ``canvas``'s median
    background from :data:`BACKGROUND_SAMPLES` evenly spaced frames (the same frames
    :func:`video_canvases` uses), and to make the canvases, kept as float16 (a 80x60 canvas is
    9.6 kB a frame). Warns when the camera seems to move.

    Args:
        source_spec: a video file or image folder.
        canvas: a ``median`` :class:`ForegroundCanvas` (its background is set here).
        max_frames: use only the first this many frames (0: all).

    Returns:
        ``(canvases, frames in the video)``: ``(T, height, width)`` float16 in ``[0, 1]``.
    """
    if canvas.background != "median":
        raise InputError("fit_canvases needs a median ForegroundCanvas")
    total = sum(1 for _ in _recorded_frames(source_spec))
    if total == 0:
        raise InputError(f"{source_spec}: the video has no frames")
    used = min(total, max_frames) if max_frames else total
    step = _background_step(used)
    canvas.set_background([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
                           for i, f in zip(range(used), _recorded_frames(source_spec)) if i % step == 0])
    out = np.empty((used, canvas.height, canvas.width), np.float16)
    camera = CameraMotionCheck()
    n = 0
    for frame in _recorded_frames(source_spec):
        if n == used:
            break
        out[n] = canvas(frame)
        camera.update(frame)  # looks only until it has decided
        n += 1
    out = out[:n]  # a file that delivered fewer frames the third time
    _warn_if_moving(out, camera)
    return out, total
