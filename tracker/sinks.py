"""Where tracks go: MOTChallenge txt, JSON lines, an annotated video, crops.

Every sink writes to a temporary file and renames it into place on :meth:`Sink.close`;
:meth:`Sink.abort` deletes it, so an interrupted run never leaves a half-written file
under the final name.
"""

from __future__ import annotations

import json
import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from attentrack.datasets.mot import format_mot_row
from attentrack.tracker.atomic import AtomicPath, make_folder, partial_path
from attentrack.tracker.base import Track
from attentrack.tracker.draw import draw_tracks
from attentrack.tracker.errors import InputError


class Sink(ABC):
    """Receives each frame's tracks; ``close`` publishes the output, ``abort`` discards it."""

    @abstractmethod
    def write(self, frame_index: int, frame: np.ndarray, tracks: list[Track]) -> None:
        """Record the tracks of 0-based ``frame_index`` (``frame`` is the BGR image)."""

    @abstractmethod
    def close(self) -> list[Path]:
        """Finish and publish; returns the paths written."""

    @abstractmethod
    def abort(self) -> None:
        """Discard everything written so far."""


class _TextSink(Sink):
    def __init__(self, path: str | os.PathLike) -> None:
        self._out = AtomicPath(path)
        self._fh = open(self._out.tmp, "w", encoding="utf-8", buffering=1 << 16)

    def close(self):
        self._fh.close()
        return [self._out.commit()]

    def abort(self):
        self._fh.close()
        self._out.abort()


class MotTxtSink(_TextSink):
    """MOTChallenge results: ``frame,id,x,y,w,h,score,-1,-1,-1`` with 1-based frames."""

    def write(self, frame_index, frame, tracks):
        self._fh.writelines(format_mot_row(frame_index + 1, t.track_id, t.box, t.score) for t in tracks)


class JsonlSink(_TextSink):
    """One JSON object per frame: ``{"frame": 1-based, "tracks": [{"id", "box", "score"}]}``."""

    def write(self, frame_index, frame, tracks):
        self._fh.write(json.dumps({"frame": frame_index + 1, "tracks": [t.to_dict() for t in tracks]}) + "\n")


_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class AtomicVideoWriter:
    """A video file that appears only when finished: frames go to a temporary file that
    :meth:`close` renames to ``path`` and :meth:`abort` deletes. The codec follows the
    extension (``.mp4``/``.m4v``/``.mov``: mp4v, ``.avi``/``.mkv``: MJPG); frames of another
    size than ``size = (W, H)`` are resized. Used as a context manager it closes on success
    and aborts on an exception. ``what`` names the file in the error messages.

    Raises:
        InputError: an unknown extension or a codec OpenCV cannot open.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int], what: str = "a video") -> None:
        ext = Path(path).suffix.lower()
        if ext not in _FOURCC:
            raise InputError(f"{what} must end in one of {', '.join(_FOURCC)}; got {path}")
        self._out = AtomicPath(path)
        self._size = tuple(size)
        self._writer = cv2.VideoWriter(str(self._out.tmp), cv2.VideoWriter.fourcc(*_FOURCC[ext]), fps, self._size)
        if not self._writer.isOpened():
            self._out.abort()
            raise InputError(f"cannot write video {path} (codec {_FOURCC[ext]} unavailable)")

    def write(self, img: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` BGR uint8 frame."""
        if (img.shape[1], img.shape[0]) != self._size:
            img = cv2.resize(img, self._size)
        self._writer.write(img)

    def close(self) -> Path:
        """Finish and publish; returns the path."""
        self._writer.release()
        return self._out.commit()

    def abort(self) -> None:
        """Discard the frames written so far."""
        self._writer.release()
        self._out.abort()

    def __enter__(self) -> "AtomicVideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class VideoSink(Sink):
    """An annotated video: boxes, ids, scores, and attention (glimpse window, mask)."""

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]) -> None:
        self._video = AtomicVideoWriter(path, fps, size, what="annotated video")

    def write(self, frame_index, frame, tracks):
        self._video.write(draw_tracks(frame, tracks, frame_index))

    def close(self):
        return [self._video.close()]

    def abort(self):
        self._video.abort()


class CropSink(Sink):
    """Each track's box cut out of each frame, as ``DIR/<id>/<frame>.jpg`` (1-based frame).

    Crops go to a temporary folder (``.DIR.partial-HOST-PID``) that is renamed to ``DIR`` on close.

    Raises:
        InputError: the parent folder cannot be created or written, or ``DIR`` is a file.
    """

    def __init__(self, folder: str | os.PathLike, every: int = 1) -> None:
        self.folder = Path(folder)
        make_folder(self.folder.parent)
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"cannot write crops into {self.folder}: it is a file")
        self._tmp = partial_path(self.folder, folder=True)
        shutil.rmtree(self._tmp, ignore_errors=True)  # left by an earlier process with this PID
        self._tmp.mkdir()
        self.every = max(1, int(every))

    def write(self, frame_index, frame, tracks):
        if frame_index % self.every:
            return
        H, W = frame.shape[:2]
        for t in tracks:
            x, y, w, h = (int(round(v)) for v in t.box)
            x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            d = self._tmp / str(t.track_id)
            d.mkdir(exist_ok=True)
            cv2.imwrite(str(d / f"{frame_index + 1:06d}.jpg"), frame[y0:y1, x0:x1])

    def close(self):
        if self.folder.exists():
            shutil.rmtree(self.folder)
        os.replace(self._tmp, self.folder)
        return [self.folder]

    def abort(self):
        shutil.rmtree(self._tmp, ignore_errors=True)
