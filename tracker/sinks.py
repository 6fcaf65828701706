"""Where tracks go: MOTChallenge txt, JSON lines, OTB-format boxes, an annotated video,
crops, a live window.

Every sink writes to a temporary file and renames it into place on :meth:`Sink.close`;
:meth:`Sink.abort` deletes it, so an interrupted run never leaves a half-written file
under the final name.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from attentrack.datasets.mot import format_mot_row
from attentrack.datasets.otb import format_number
from attentrack.tracker.atomic import AtomicPath, make_folder, partial_path
from attentrack.tracker.draw import Trails, draw_tracks
from attentrack.tracker.errors import InputError
from attentrack.tracker.tracks import Track


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
        """Write one MOTChallenge row per track (frames 1-based)."""
        self._fh.writelines(format_mot_row(frame_index + 1, t.track_id, t.box, t.score) for t in tracks)


class JsonlSink(_TextSink):
    """One JSON object per frame: ``{"frame": 1-based, "tracks": [{"id", "box", "score"}]}``."""

    def write(self, frame_index, frame, tracks):
        """Write the frame's tracks as one JSON line."""
        self._fh.write(json.dumps({"frame": frame_index + 1, "tracks": [t.to_dict() for t in tracks]}) + "\n")


class OtbSink(_TextSink):
    """One object's box per frame as the OTB toolkit and pytracking write results: one
    ``x,y,w,h`` line per frame, line 1 for frame 1; ``0,0,0,0`` for a frame where the
    object has no box. The object is the first track reported (track id 1 for a run
    started on one ``--init`` box)."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path)
        self._track_id: int | None = None

    def write(self, frame_index, frame, tracks):
        """Write the followed object's box (``0,0,0,0`` in a frame where it has none)."""
        if self._track_id is None and tracks:
            self._track_id = min(t.track_id for t in tracks)
        box = next((t.box for t in tracks if t.track_id == self._track_id), None)
        self._fh.write("0,0,0,0\n" if box is None else ",".join(format_number(v) for v in box) + "\n")


#: codec of each video extension; ``.webm`` (VP8) is the one browsers and notebooks play
_FOURCC = {".webm": "VP80", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
#: the annotated video's formats, the browser-playable one first (see :func:`default_video_format`)
VIDEO_FORMATS = ("webm", "mp4", "avi", "mkv")


@contextlib.contextmanager
def _opencv_quiet():
    """Silence the C-level stderr while OpenCV opens a writer: its FFmpeg backend prints a
    harmless note about the VP8 tag of WebM files ("tag ... is not supported ... fallback")."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (tests, notebooks): nothing to silence
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@functools.lru_cache(maxsize=None)
def can_write(fmt: str) -> bool:
    """Whether this OpenCV build writes videos of format ``fmt`` (one of :data:`VIDEO_FORMATS`);
    found out once per process by writing two small frames to a temporary file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / f"probe.{fmt}")
        with _opencv_quiet():
            writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*_FOURCC[f".{fmt}"]), 10, (32, 32))
        ok = writer.isOpened()
        if ok:
            for _ in range(2):
                writer.write(np.zeros((32, 32, 3), np.uint8))
        writer.release()
        return ok and Path(path).is_file() and Path(path).stat().st_size > 0


def default_video_format() -> str:
    """``"webm"`` (VP8, which browsers and notebooks play) where this OpenCV build writes
    it, else ``"mp4"`` (mp4v, which players but not browsers play)."""
    return "webm" if can_write("webm") else "mp4"


class AtomicVideoWriter:
    """A video file that appears only when finished: frames go to a temporary file that
    :meth:`close` renames to ``path`` and :meth:`abort` deletes. Frames of another
    size than ``size = (W, H)`` are resized. The codec follows the extension: ``.webm``: VP8
    (browsers play it), ``.mp4``/``.m4v``/``.mov``: mp4v, ``.avi``/``.mkv``: MJPG. Used as a
    context manager it closes on success and aborts on an exception. ``what`` names the
    file in the error messages.

    Raises:
        InputError: an unknown extension or a codec OpenCV cannot open.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int], what: str = "a video") -> None:
        ext = Path(path).suffix.lower()
        if ext not in _FOURCC:
            raise InputError(f"{what} must end in one of {', '.join(_FOURCC)}; got {path}")
        self._out = AtomicPath(path)
        self._size = tuple(size)
        with _opencv_quiet():
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
    """An annotated video: boxes, labelled ids and scores, attention (glimpse window, mask)
    and, with ``trail > 1``, each track's last ``trail`` positions as a line."""

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int], trail: int = 0) -> None:
        self._video = AtomicVideoWriter(path, fps, size, what="annotated video")
        self._trails = Trails(trail) if trail > 1 else None

    def write(self, frame_index, frame, tracks):
        """Draw the tracks (and trails) on ``frame`` and add it to the video."""
        if self._trails is not None:
            self._trails.update(tracks)
        self._video.write(draw_tracks(frame, tracks, frame_index, self._trails))

    def close(self):
        """Finish the video; returns its path."""
        return [self._video.close()]

    def abort(self):
        """Delete the partial video."""
        self._video.abort()


class ShowSink(Sink):
    """A live window showing the annotated frames as they are tracked; ``q`` or Esc in the
    window stops the run as Ctrl-C does.

    Raises:
        InputError: no display (``DISPLAY``/``WAYLAND_DISPLAY`` unset on Linux) or an
            OpenCV build without windows (``opencv-python-headless``).
    """

    def __init__(self, title: str = "attentrack", trail: int = 0) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise InputError("--show needs a display: DISPLAY is not set (use the annotated video instead)")
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise InputError("--show needs OpenCV with windows (opencv-python, not opencv-python-headless)") from None
        self._trails = Trails(trail) if trail > 1 else None

    def write(self, frame_index, frame, tracks):
        """Show ``frame`` with its tracks; q or Esc raises :class:`KeyboardInterrupt`, as Ctrl-C does."""
        if self._trails is not None:
            self._trails.update(tracks)
        cv2.imshow(self.title, draw_tracks(frame, tracks, frame_index, self._trails))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            raise KeyboardInterrupt

    def close(self):
        """Close the window; nothing is written."""
        cv2.destroyWindow(self.title)
        return []

    def abort(self):
        """Close the window if it is still open."""
        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.title)


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
        """Save every ``every``-th frame's tracks as JPEG crops, one folder per track."""
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
        """Move the crops into place; returns the folder."""
        if self.folder.exists():
            shutil.rmtree(self.folder)
        os.replace(self._tmp, self.folder)
        return [self.folder]

    def abort(self):
        """Delete the crops written so far."""
        shutil.rmtree(self._tmp, ignore_errors=True)
