"""MOTChallenge files: ``gt.txt``, ``det.txt``, tracker results, ``seqinfo.ini``.

A MOTChallenge row is ``frame, id, left, top, width, height, conf, x, y, z`` with 1-based
frames; in 2D MOT 2015 the last three are world coordinates or -1, in MOT16/17/20 ground
truth they are ``class, visibility`` (and one unused column). Separators may be commas,
tabs or spaces.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.errors import InputError

_SPLIT = re.compile(r"[,\s]+")


@dataclass
class MotRows:
    """A MOTChallenge table as arrays, one entry per row.

    Attributes:
        frames: ``(N,)`` int, 1-based frame numbers.
        ids: ``(N,)`` int track ids (-1 for detections).
        boxes: ``(N, 4)`` float ``x, y, w, h`` in pixels (as written in the file).
        conf: ``(N,)`` float confidence (ground truth: 1 = consider, 0 = ignore).
        extra: ``(N, 3)`` float, the remaining columns (-1 where absent).
    """

    frames: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    conf: np.ndarray
    extra: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def empty(cls) -> "MotRows":
        """A table with no rows."""
        return cls(
            np.zeros(0, int), np.zeros(0, int), np.zeros((0, 4)), np.zeros(0), np.zeros((0, 3))
        )

    def select(self, keep: np.ndarray) -> "MotRows":
        """Rows where the boolean or index array ``keep`` selects."""
        return MotRows(
            self.frames[keep], self.ids[keep], self.boxes[keep], self.conf[keep], self.extra[keep]
        )

    def frame(self, frame_number: int) -> "MotRows":
        """The rows of one (1-based) frame."""
        return self.select(self.frames == frame_number)

    def track(self, track_id: int) -> "MotRows":
        """The rows of one track, sorted by frame."""
        sub = self.select(self.ids == track_id)
        return sub.select(np.argsort(sub.frames, kind="stable"))

    def by_frame(self) -> dict[int, "MotRows"]:
        """``{frame: rows}`` for every frame that has rows."""
        order = np.argsort(self.frames, kind="stable")
        s = self.select(order)
        out = {}
        if len(s) == 0:
            return out
        cuts = np.flatnonzero(np.diff(s.frames)) + 1
        for chunk in np.split(np.arange(len(s)), cuts):
            out[int(s.frames[chunk[0]])] = s.select(chunk)
        return out


def read_mot(path: str | os.PathLike, min_confidence: float | None = None) -> MotRows:
    """Read a MOTChallenge file.

    Args:
        path: a ``gt.txt``, ``det.txt`` or results file.
        min_confidence: drop rows whose confidence is below this (ground truth: pass 1 to
            drop the rows marked "ignore").

    Raises:
        InputError: a missing file, or a line that is not at least 6 numbers (the message
            names the line), or a box with negative size.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"MOT file not found: {p}")
    rows = []
    with open(p, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = [t for t in _SPLIT.split(text) if t]
            try:
                vals = [float(t) for t in parts]
            except ValueError:
                raise InputError(f"{p}:{lineno}: not a MOTChallenge row (non-numeric value): {text[:60]!r}") from None
            if len(vals) < 6:
                raise InputError(
                    f"{p}:{lineno}: a MOTChallenge row needs at least 6 values "
                    f"(frame,id,x,y,w,h), got {len(vals)}"
                )
            if not all(np.isfinite(vals[:6])):
                raise InputError(f"{p}:{lineno}: non-finite value in {text[:60]!r}")
            if vals[4] < 0 or vals[5] < 0:
                raise InputError(f"{p}:{lineno}: negative box width or height")
            if vals[0] < 0 or vals[0] != int(vals[0]):
                raise InputError(f"{p}:{lineno}: frame number must be a non-negative integer")
            vals += [1.0] * (7 - len(vals)) if len(vals) < 7 else []
            vals += [-1.0] * (10 - len(vals)) if len(vals) < 10 else []
            rows.append(vals[:10])
    if not rows:
        return MotRows.empty()
    a = np.asarray(rows, dtype=np.float64)
    out = MotRows(a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2:6], a[:, 6], a[:, 7:10])
    if min_confidence is not None:
        out = out.select(out.conf >= min_confidence)
    return out


def format_mot_row(frame: int, track_id: int, box, score: float = 1.0) -> str:
    """One results line: ``frame,id,x,y,w,h,score,-1,-1,-1`` (1-based frame)."""
    x, y, w, h = (float(v) for v in box)
    return f"{int(frame)},{int(track_id)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{float(score):.4f},-1,-1,-1\n"


def write_mot(path: str | os.PathLike, rows: MotRows) -> None:
    """Write rows as a MOTChallenge results file (atomically)."""
    order = np.lexsort((rows.ids, rows.frames))
    with atomic_write(path) as fh:
        for i in order:
            fh.write(format_mot_row(rows.frames[i], rows.ids[i], rows.boxes[i], rows.conf[i]))


@dataclass
class SeqInfo:
    """The ``[Sequence]`` section of a MOTChallenge ``seqinfo.ini``."""

    name: str
    im_dir: str = "img1"
    frame_rate: float = 30.0
    seq_length: int = 0
    im_width: int = 0
    im_height: int = 0
    im_ext: str = ".jpg"


def read_seqinfo(path: str | os.PathLike) -> SeqInfo:
    """Read ``seqinfo.ini``; raises :class:`InputError` when it is missing or malformed."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"seqinfo.ini not found: {p}")
    cp = configparser.ConfigParser()
    try:
        cp.read(p, encoding="utf-8")
        s = cp["Sequence"]
        return SeqInfo(
            name=s.get("name", p.parent.name),
            im_dir=s.get("imDir", "img1"),
            frame_rate=float(s.get("frameRate", 30)),
            seq_length=int(s.get("seqLength", 0)),
            im_width=int(s.get("imWidth", 0)),
            im_height=int(s.get("imHeight", 0)),
            im_ext=s.get("imExt", ".jpg"),
        )
    except (KeyError, ValueError, configparser.Error) as exc:
        raise InputError(f"{p}: malformed seqinfo.ini ({exc})") from None


def write_seqinfo(path: str | os.PathLike, info: SeqInfo) -> None:
    """Write a ``seqinfo.ini`` (atomically)."""
    with atomic_write(path) as fh:
        fh.write(
            "[Sequence]\n"
            f"name={info.name}\nimDir={info.im_dir}\nframeRate={info.frame_rate:g}\n"
            f"seqLength={info.seq_length}\nimWidth={info.im_width}\n"
            f"imHeight={info.im_height}\nimExt={info.im_ext}\n"
        )
