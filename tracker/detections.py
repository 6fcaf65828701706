"""Per-frame detections for the multi-object runner: a MOTChallenge ``det.txt``, or a model
that finds its own objects.

Both give, for each frame, ``(N, 4)`` boxes ``x, y, w, h`` in pixels and ``(N,)`` scores; the
runner (:class:`attentrack.tracker.runner.MultiObjectTracker`) keeps the identities.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from attentrack.tracker.errors import InputError

#: ``--detections auto`` looks for this file in the sequence folder (MOTChallenge layout)
AUTO_DETECTIONS = Path("det") / "det.txt"


class DetectionFile:
    """The detections of a MOTChallenge ``det.txt`` (``frame, -1, x, y, w, h, score, ...``,
    frames 1-based), served frame by frame.

    Args:
        path: the file.
        score_threshold: rows scoring less are dropped (MOTChallenge detectors' scores are
            not in ``[0, 1]``: DPM's run from about -1 to 2, so the default keeps every row).

    Raises:
        InputError: a missing file, or a malformed row (the message names file and line:
            fewer than 7 values, a non-number, a frame below 1, a box of no size).

    A first line of column names (no number in it, e.g. ``frame,id,bb_left,...`` as CSV exports
    write) is skipped; an empty file warns that nothing will be tracked.
    """

    def __init__(self, path: str | os.PathLike, score_threshold: float | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"detections file not found: {self.path}")
        frames, boxes, scores, lines = [], [], [], []
        first_row = True
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                parts = [t for t in text.replace(",", " ").split() if t]
                where = f"{self.path}:{lineno}"
                if first_row and not any(_is_number(t) for t in parts):
                    first_row = False
                    continue  # a header of column names
                first_row = False
                if len(parts) < 7:
                    raise InputError(f"{where}: a det.txt row needs at least 7 values "
                                     f"(frame,id,x,y,w,h,score), got {len(parts)}")
                try:
                    values = [float(t) for t in parts[:7]]
                except ValueError:
                    raise InputError(f"{where}: not a number in {text[:60]!r}") from None
                if not all(np.isfinite(values)):
                    raise InputError(f"{where}: non-finite value in {text[:60]!r}")
                frame = values[0]
                if frame < 1 or frame != int(frame):
                    raise InputError(f"{where}: the frame must be an integer >= 1 (MOTChallenge frames are 1-based), "
                                     f"got {parts[0]}")
                if values[4] <= 0 or values[5] <= 0:
                    raise InputError(f"{where}: a detection box needs a positive width and height")
                if score_threshold is not None and values[6] < score_threshold:
                    continue
                frames.append(int(frame))
                boxes.append(values[2:6])
                scores.append(values[6])
                lines.append(lineno)
        self.frames = np.asarray(frames, dtype=np.int64)
        self.boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self.scores = np.asarray(scores, dtype=np.float64)
        self._lines = np.asarray(lines, dtype=np.int64)
        order = np.argsort(self.frames, kind="stable")
        self.frames, self.boxes, self.scores, self._lines = (self.frames[order], self.boxes[order],
                                                             self.scores[order], self._lines[order])
        if not len(self.frames):
            above = " above the score threshold" if score_threshold is not None else ""
            warnings.warn(f"{self.path}: no detections{above}; nothing will be tracked", stacklevel=2)

    def __len__(self) -> int:
        return len(self.frames)

    def check_length(self, frame_count: int | None) -> None:
        """Raise a one-line :class:`InputError` when a row names a frame past ``frame_count``
        (the video's frames; None or 0: unknown, nothing is checked)."""
        if not frame_count or not len(self.frames):
            return
        past = np.flatnonzero(self.frames > frame_count)
        if len(past):
            k = past[np.argmin(self._lines[past])]
            raise InputError(f"{self.path}:{self._lines[k]}: frame {self.frames[k]} is past the video's last frame "
                             f"({frame_count})")

    def at(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``index``'s (0-based, as the sources count) ``(N, 4)`` boxes and ``(N,)`` scores."""
        lo, hi = np.searchsorted(self.frames, [index + 1, index + 2])
        return self.boxes[lo:hi].copy(), self.scores[lo:hi].copy()


def check_follows_given_objects(model: str, tracker) -> None:
    """Raise a one-line :class:`InputError` when detections are given to ``tracker`` (a tracker
    class or instance, registered as ``model``) that finds its own objects (``self_starting``,
    e.g. SQAIR or the blobs baseline): it cannot follow them."""
    if getattr(tracker, "self_starting", False):
        raise InputError(f"model {model!r} finds its own objects; --detections needs a model that follows given "
                         "objects (e.g. hart, mil, static)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def find_detections(option: str, source: str) -> Path:
    """The detections file that ``--detections OPTION`` names for ``source``.

    Args:
        option: a path, or ``auto``: ``SEQ/det/det.txt`` of the sequence folder ``source`` is,
            holds (``SEQ/img1``) or lies in (``SEQ/SEQ.mp4``).
        source: the source as given on the command line.

    Raises:
        InputError: ``auto`` and no such file.
    """
    if option.strip().lower() != "auto":
        return Path(option)
    where = Path(source)
    folders = [where] if where.is_dir() else []
    folders += [where.parent, where.parent.parent]
    for folder in folders:
        candidate = folder / AUTO_DETECTIONS
        if candidate.is_file():
            return candidate
    raise InputError(f"--detections auto: no {AUTO_DETECTIONS.as_posix()} in the sequence folder of {source}")


class ModelDetections:
    """A tracker that finds its own objects (SQAIR, the blobs baseline) as a detector: each
    frame's tracks become detections, so that the runner's life cycle keeps the identities
    (an object the model forgets for a few frames keeps its id).

    Args:
        model: a tracker with ``self_starting = True``; its ``start(frame, [])`` reads the
            first frame, its ``update(frame)`` the next ones.

    Has the proposer interface: :meth:`propose`.
    """

    def __init__(self, model) -> None:
        self.model = model
        self._started = False
        self.last_tracks: list = []

    def propose(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(N, 4)`` ``x, y, w, h`` pixel boxes and ``(N,)`` scores of the model's tracks in ``frame``."""
        if not self._started:
            self._started = True
            self.model.start(frame, np.zeros((0, 4)))  # reads the first frame, reports nothing yet
            tracks = []
        else:
            tracks = self.model.update(frame)
        self.last_tracks = tracks
        if not tracks:
            return np.zeros((0, 4)), np.zeros(0)
        return (np.array([t.box for t in tracks], dtype=np.float64).reshape(-1, 4),
                np.array([t.score for t in tracks], dtype=np.float64))

    def reset(self) -> None:
        """Start again at the next frame."""
        self._started = False
        if hasattr(self.model, "reset"):
            self.model.reset()
