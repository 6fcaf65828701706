"""Frame sources: a video file, an image folder or glob, a camera index, an RTSP/HTTP URL.

Every source yields ``(frame_index, frame)`` with a 0-based index and an ``(H, W, 3)``
uint8 BGR frame. :func:`prefetch` decodes in a background thread into a bounded queue so
decoding overlaps the model and memory stays bounded on endless streams.
"""

from __future__ import annotations

import glob
import os
import queue
import threading
import time
import warnings
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from attentrack.tracker.errors import InputError
from attentrack.tracker.frame_source import FrameSource
from attentrack.tracker.synthetic import PREFIX as SYNTHETIC_PREFIX
from attentrack.tracker.synthetic import SyntheticSource

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv", ".ts")


def _natural_key(path: str):
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", os.path.basename(path))]


class ImageFilesSource(FrameSource):
    """Frames from a sorted list of image files (a folder such as MOTChallenge ``img1/``,
    OTB ``img/``, or a glob)."""

    def __init__(self, paths: list[str], name: str) -> None:
        if not paths:
            raise InputError(f"no images found for {name}")
        self.paths = sorted(paths, key=_natural_key)
        self.name = name
        first = self.read(0)
        self.size = (first.shape[1], first.shape[0])
        self.frame_count = len(self.paths)

    def read(self, index: int) -> np.ndarray:
        """Decode image ``index``; raises :class:`InputError` when it cannot be read."""
        path = self.paths[index]
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f"cannot read image {path} (corrupt or not an image)")
        return img

    def __iter__(self):
        for i in range(len(self.paths)):
            yield i, self.read(i)


#: a recorded video that decodes to fewer than this share of the frames its header announces
#: gets a warning (headers' counts can be slightly off, a damaged file's far off)
SHORT_DECODE = 0.9


class VideoCaptureSource(FrameSource):
    """Frames decoded by ``cv2.VideoCapture`` from a file, camera index or URL.

    A live stream (camera, RTSP/HTTP) that stops delivering frames is reopened, up to
    ``reconnect`` tries in a row ``reconnect_wait`` seconds apart, and frames continue
    (numbered on from the last one); each try is a one-line warning. Frames of a
    reconnected stream of another size are resized to the first size (sinks write one size).
    """

    def __init__(self, spec: str | int, name: str, live: bool = False, reconnect: int = 0,
                 reconnect_wait: float = 2.0) -> None:
        self.spec = spec
        self.name = name
        self.live = live
        if reconnect < 0 or reconnect_wait < 0:
            raise InputError(f"reconnect ({reconnect}) and its wait ({reconnect_wait} s) must not be negative")
        self.reconnect, self.reconnect_wait = int(reconnect), float(reconnect_wait)
        cap = self._open()
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            what = "stream" if live else "video"
            raise InputError(f"{what} {spec} has no frames (empty, corrupt or unsupported)")
        self.size = (frame.shape[1], frame.shape[0])
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = None if live or count <= 0 else count
        cap.release()

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.spec)
        if not cap.isOpened():
            what = "camera" if isinstance(self.spec, int) else ("stream" if self.live else "video")
            raise InputError(f"cannot open {what} {self.spec} (missing, corrupt or unsupported)")
        return cap

    def __iter__(self):
        cap = self._open()
        resized = False
        failures = 0  # reads failed in a row on a live stream
        try:
            index = 0
            while True:
                ok, frame = (cap.read() if cap is not None else (False, None))
                if not ok or frame is None:
                    if not self.live:
                        break
                    failures += 1
                    if failures > self.reconnect:
                        if self.reconnect:
                            warnings.warn(f"{self.name}: could not reconnect; the stream ends after frame {index}",
                                          stacklevel=2)
                        break
                    warnings.warn(f"{self.name}: the stream stopped after frame {index}; reconnecting "
                                  f"(try {failures} of {self.reconnect})", stacklevel=2)
                    if cap is not None:
                        cap.release()
                    time.sleep(self.reconnect_wait)
                    cap = cv2.VideoCapture(self.spec)
                    if not cap.isOpened():
                        cap.release()
                        cap = None
                    continue
                failures = 0
                if (frame.shape[1], frame.shape[0]) != self.size:
                    if not resized:
                        warnings.warn(f"{self.name}: frames are now {frame.shape[1]}x{frame.shape[0]}; resized to the "
                                      f"stream's first size {self.size[0]}x{self.size[1]}", stacklevel=2)
                        resized = True
                    frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
                yield index, frame
                index += 1
        finally:
            if cap is not None:
                cap.release()
        if self.frame_count and index < SHORT_DECODE * self.frame_count:
            warnings.warn(f"{self.name}: decoding stopped after {index} of the {self.frame_count} frames its header "
                          "announces (a damaged or truncated file?)", stacklevel=2)


def open_source(spec: str | int | os.PathLike, reconnect: int = 0) -> FrameSource:
    """Open a frame source from a command-line style specification.

    Args:
        spec: a video file; a folder of images; a MOTChallenge or OTB sequence folder
            (frames in ``img1/`` or ``img/``, or one video file inside); a glob such as
            ``"frames/*.png"``; a camera index (``0``); an ``rtsp://``, ``http(s)://``
            URL; or ``synthetic:frames=N,size=WxH,objects=K,seed=S``, a clip generated on
            the fly (:mod:`attentrack.tracker.synthetic`; for benchmarks of long streams).
        reconnect: cameras and URLs: reopen a stream that stops up to this many times (see
            :class:`VideoCaptureSource`); ignored for recorded sources.

    Raises:
        InputError: when nothing can be read from ``spec``.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return VideoCaptureSource(int(spec), name=f"camera{int(spec)}", live=True, reconnect=reconnect)
    text = os.fspath(spec)
    if "://" in text:
        name = Path(text.split("?")[0].rstrip("/")).name or "stream"
        return VideoCaptureSource(text, name=name, live=True, reconnect=reconnect)
    if text.startswith(SYNTHETIC_PREFIX):
        return SyntheticSource(text)
    if any(ch in text for ch in "*?["):
        paths = [p for p in glob.glob(text) if p.lower().endswith(IMAGE_EXTENSIONS)]
        if not paths:
            raise InputError(f"no images match {text}")
        return ImageFilesSource(paths, name=Path(text).parent.name or "images")
    path = Path(text)
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    if path.is_dir():
        return _open_folder(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageFilesSource([str(path)], name=path.stem)
    return VideoCaptureSource(str(path), name=path.stem)


def _image_paths(folder: Path) -> list[str]:
    return [str(p) for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]


def _open_folder(path: Path) -> FrameSource:
    for sub in ("img1", "img"):
        if (path / sub).is_dir():
            imgs = _image_paths(path / sub)
            if imgs:
                return ImageFilesSource(imgs, name=path.name)
    imgs = _image_paths(path)
    if imgs:
        return ImageFilesSource(imgs, name=path.name)
    videos = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if len(videos) == 1:
        return VideoCaptureSource(str(videos[0]), name=path.name)
    if len(videos) > 1:
        raise InputError(f"folder {path} holds several videos; name one of them")
    raise InputError(f"folder {path} has no images or video")


_END = object()


def prefetch(frames, maxsize: int = 8) -> Iterator:
    """Iterate ``frames`` in a background thread, at most ``maxsize`` items ahead.

    Exceptions in the reader thread are re-raised in the consumer. Closing the returned
    generator (or leaving a ``for`` loop early) stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def reader():
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=reader, name="attentrack-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
