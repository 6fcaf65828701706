"""OTB ground truth: ``groundtruth_rect.txt``, one box per frame.

Each line holds ``x, y, w, h`` in pixels, separated by commas, tabs or spaces, for the
frame of the same (1-based) line number. ``x, y`` is the top-left corner as written in
the file (the OTB toolkit counts pixels from 1; no shift is applied here). A line of
``NaN`` (one or four values) or ``0,0,0,0`` marks a frame where the target is absent;
readers return such rows as NaN with ``valid`` False.

Some OTB sequences hold several targets as ``groundtruth_rect.1.txt``,
``groundtruth_rect.2.txt``; each of those files has this same format.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.errors import InputError

GT_NAME = "groundtruth_rect.txt"

_SPLIT = re.compile(r"[,;\s]+")


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, stripped text)`` of every line up to the last non-blank one.

    Raises:
        InputError: when the file is missing or has a blank line before the last box.
    """
    if not path.is_file():
        raise InputError(f"ground-truth file not found: {path}")
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = [(n, line.strip()) for n, line in enumerate(fh, 1)]
    while lines and not lines[-1][1]:
        lines.pop()
    for n, text in lines:
        if not text:
            raise InputError(f"{path}:{n}: empty line (write NaN or 0,0,0,0 for an absent target)")
    return lines


def parse_numbers(text: str, path: Path | str, lineno: int) -> list[float]:
    """Split one ground-truth line into floats (``nan`` allowed).

    Args:
        text: the line without its newline.
        path: the file, for the error message.
        lineno: the 1-based line number, for the error message.

    Raises:
        InputError: naming ``path:lineno`` when a value is not a number.
    """
    parts = [t for t in _SPLIT.split(text.strip()) if t]
    try:
        return [float(t) for t in parts]
    except ValueError:
        raise InputError(f"{path}:{lineno}: not a list of numbers: {text[:60]!r}") from None


def rect_from_values(vals: list[float], path: Path | str, lineno: int) -> tuple[np.ndarray, bool]:
    """Turn the four values of one line into ``(box (4,), valid)``.

    ``NaN`` anywhere or ``0,0,0,0`` gives an absent target (NaN box, ``valid`` False); so
    does a zero width or height. A negative width or height or an infinite value is an
    error.

    Raises:
        InputError: naming ``path:lineno``.
    """
    box = np.asarray(vals, dtype=np.float64)
    if np.isnan(box).any():
        return np.full(4, np.nan), False
    if not np.isfinite(box).all():
        raise InputError(f"{path}:{lineno}: infinite value in box")
    if box[2] < 0 or box[3] < 0:
        raise InputError(f"{path}:{lineno}: negative box width or height")
    if box[2] == 0 or box[3] == 0:
        return np.full(4, np.nan), False
    return box, True


def read_otb(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an OTB ``groundtruth_rect.txt``.

    Args:
        path: the ground-truth file.

    Returns:
        ``(boxes, valid)``: ``boxes`` is ``(N, 4)`` float64 ``x, y, w, h`` in pixels for
        the ``N`` frames (row ``i`` is frame ``i + 1``), NaN where the target is absent;
        ``valid`` is ``(N,)`` bool, False where the target is absent.

    Raises:
        InputError: a missing file, or a line that is not 4 numbers (or a lone ``NaN``);
            the message names the file and the 1-based line number.
    """
    p = Path(path)
    boxes, valid = [], []
    for lineno, text in _read_lines(p):
        vals = parse_numbers(text, p, lineno)
        if len(vals) == 1 and math.isnan(vals[0]):
            vals = [math.nan] * 4
        if len(vals) != 4:
            raise InputError(f"{p}:{lineno}: an OTB box needs 4 values x,y,w,h, got {len(vals)}")
        box, ok = rect_from_values(vals, p, lineno)
        boxes.append(box)
        valid.append(ok)
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0, dtype=bool)
    return np.stack(boxes), np.asarray(valid, dtype=bool)


def format_number(value: float) -> str:
    """A coordinate with at most 4 decimals and no trailing zeros (``12``, ``3.5``)."""
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def write_otb(path: str | os.PathLike, boxes, valid=None) -> None:
    """Write an OTB ``groundtruth_rect.txt`` (atomically), one ``x,y,w,h`` line per frame.

    Args:
        path: the file to write.
        boxes: ``(N, 4)`` ``x, y, w, h`` in pixels, row ``i`` for frame ``i + 1``.
        valid: optional ``(N,)`` bool; rows that are False, or hold NaN, are written as
            ``0,0,0,0`` (absent target).
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ok = np.ones(len(b), bool) if valid is None else np.asarray(valid, dtype=bool)
    if ok.shape != (len(b),):
        raise InputError(f"valid must have shape ({len(b)},), got {ok.shape}")
    ok = ok & np.isfinite(b).all(axis=1)
    with atomic_write(path) as fh:
        for box, good in zip(b, ok):
            fh.write(",".join(format_number(v) for v in box) + "\n" if good else "0,0,0,0\n")
