"""A wider view of a recorded sequence: the same scene seen from further away.

Each frame is shrunk by ``factor`` and placed in the middle of a static surround of the
original size (the sequence's median frame enlarged ``factor`` times: still, textured
scenery standing in for the rest of a wider scene), and the ground-truth boxes move with it. People become ``factor``
times smaller relative to the frame, as with a wide-angle or distant CCTV camera: a test of
how a tracker copes with small objects, on real footage with its real ground truth.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from attentrack.datasets.mot import MotRows
from attentrack.tracker.errors import InputError
from attentrack.tracker.foreground import camera_noise, median_background


def _placement(size: tuple[int, int], factor: float) -> tuple[int, int, int, int]:
    """``(x0, y0, w, h)`` of the shrunk view inside a frame of ``size = (W, H)``."""
    if factor < 1:
        raise InputError(f"a wider view needs a factor of at least 1, not {factor}")
    w_full, h_full = size
    w, h = max(1, round(w_full / factor)), max(1, round(h_full / factor))
    return (w_full - w) // 2, (h_full - h) // 2, w, h


def surround_from_samples(samples: list[np.ndarray], factor: float) -> np.ndarray:
    """The static surround: the per-pixel median of ``samples`` (``(H, W, 3)`` uint8 frames of
    the sequence), enlarged ``factor`` times about its centre and cropped to ``(H, W, 3)``."""
    if not samples:
        raise InputError("no frames to make the surround from")
    median = median_background(samples)
    h, w = median.shape[:2]
    big = cv2.resize(median, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_LINEAR)
    y0, x0 = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return np.ascontiguousarray(big[y0:y0 + h, x0:x0 + w])


def wide_view_frame(frame: np.ndarray, surround: np.ndarray, factor: float) -> np.ndarray:
    """``frame`` (``(H, W, 3)`` uint8) shrunk by ``factor`` into the middle of ``surround``."""
    h_full, w_full = frame.shape[:2]
    x0, y0, w, h = _placement((w_full, h_full), factor)
    out = surround.copy()
    out[y0:y0 + h, x0:x0 + w] = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    return out


def wide_view_rows(rows: MotRows, size: tuple[int, int], factor: float) -> MotRows:
    """Ground-truth or result rows of the original frames (``size = (W, H)``), moved to the
    wide view: boxes ``x, y, w, h`` scaled by ``1 / factor`` and shifted to the view's place."""
    x0, y0, w, h = _placement(size, factor)
    sx, sy = w / size[0], h / size[1]
    boxes = rows.boxes.astype(np.float64) * np.array([sx, sy, sx, sy]) + np.array([x0, y0, 0.0, 0.0])
    return MotRows(rows.frames.copy(), rows.ids.copy(), boxes, rows.conf.copy(), rows.extra.copy())


def evenly_spaced(frames, at_most: int) -> list:
    """Up to ``at_most`` (at least 2) items of an iterable of unknown length, evenly spaced
    (every ``s``-th, ``s`` a power of 2), in one pass holding at most ``at_most`` of them."""
    at_most = max(2, int(at_most))
    kept, stride = [], 1
    for i, item in enumerate(frames):
        if i % stride:
            continue
        kept.append(item)
        if len(kept) > at_most:  # too many: keep every other one, sample half as often
            kept, stride = kept[::2], stride * 2
    return kept


def wide_view_frames(frames, factor: float, surround_samples: int = 50, keep_noise: bool = False,
                     seed: int = 0):
    """The wide view of a recorded sequence, frame by frame: ``(H, W, 3)`` uint8 each.

    Args:
        frames: a callable returning a fresh iterator of ``(H, W, 3)`` uint8 frames (read
            twice: for the surround, then for the view), e.g. ``lambda: (f for _, f in
            open_source(path))``.
        factor: how many times smaller the scene becomes.
        surround_samples: at most this many evenly spaced frames make the surround (their
            median).
        keep_noise: add the recording's own sensor noise back to every pixel of every frame
            (Gaussian, of the standard deviation :func:`attentrack.tracker.foreground.camera_noise`
            measures on the samples; drawn from ``seed``). Shrinking a frame averages its noise
            away and the surround has none, but a real camera further away has its full noise
            on every pixel: without it, a background model sees a cleaner scene than any
            camera gives. Store such frames losslessly (a lossy codec such as MJPG smooths
            most of the noise away again).
        seed: the noise's random seed.

    Raises:
        InputError: the sequence has no frames.
    """
    samples = evenly_spaced(frames(), surround_samples)
    if not samples:
        raise InputError("the sequence has no frames")
    surround = surround_from_samples(samples, factor)
    noise = camera_noise(samples, median_background(samples)) if keep_noise else 0.0
    rng = np.random.default_rng(seed)
    for frame in frames():
        view = wide_view_frame(frame, surround, factor)
        if noise > 0:
            noisy = view + rng.normal(0.0, noise, view.shape).astype(np.float32)
            view = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        yield view


def write_wide_view(frames, out_path: str | os.PathLike, factor: float, fps: float = 25.0,
                    surround_samples: int = 50) -> Path:
    """Write the wide view of a recorded sequence (:func:`wide_view_frames`) as a video (codec
    by extension: ``.avi`` MJPG, ``.mp4`` mp4v).

    Args:
        frames: a callable returning a fresh iterator of ``(H, W, 3)`` uint8 frames.
        out_path: the video to write; written under a temporary name first, so an
            interrupted run leaves no file.
        factor: how many times smaller the scene becomes.
        fps: frame rate of the written video.
        surround_samples: at most this many evenly spaced frames make the surround.

    Returns:
        ``out_path``.
    """
    from attentrack.tracker.sinks import AtomicVideoWriter

    views = wide_view_frames(frames, factor, surround_samples)
    first = next(views)  # (the surround is made, or the sequence found empty, before a file is opened)
    h, w = first.shape[:2]
    with AtomicVideoWriter(out_path, fps, (w, h)) as video:
        video.write(first)
        for view in views:
            video.write(view)
    return Path(out_path)
