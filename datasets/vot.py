"""VOT ground truth: ``groundtruth.txt``, one region per frame.

Each line is either an axis-aligned rectangle ``x, y, w, h`` (4 numbers) or a rotated
rectangle given as the polygon ``x1, y1, x2, y2, x3, y3, x4, y4`` (8 numbers), in pixels,
separated by commas, tabs or spaces. Line ``i`` (1-based) is frame ``i``.

Polygons become axis-aligned boxes by taking their **bounding box** (min and max of the
corner coordinates). That box always contains the target, so it is larger than the
rotated rectangle; VOT's own toolkit instead fits an area-preserving box for some
trackers, which cuts off the corners. We keep the enclosing box because trackers here
predict enclosing boxes and the choice is simple to reproduce.

A lone ``NaN``, any ``NaN`` value, or all zeros (``0,0,0,0`` or eight zeros) marks a
frame where the target is absent. Segmentation-mask regions (VOT2020+, lines starting
with ``m``) are not supported.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from attentrack.datasets.otb import _read_lines, format_number, parse_numbers, rect_from_values
from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.errors import InputError

GT_NAME = "groundtruth.txt"


def polygon_to_box(polygons) -> np.ndarray:
    """Axis-aligned bounding boxes of polygons.

    Args:
        polygons: ``(N, 2K)`` corner coordinates ``x1, y1, ..., xK, yK`` in pixels.

    Returns:
        ``(N, 4)`` ``x, y, w, h`` in pixels enclosing each polygon (NaN rows stay NaN).
    """
    p = np.asarray(polygons, dtype=np.float64)
    p = p.reshape(len(p), -1, 2)
    lo = p.min(axis=1)
    hi = p.max(axis=1)
    return np.concatenate([lo, hi - lo], axis=1)


def box_to_polygon(boxes) -> np.ndarray:
    """``(N, 4)`` ``x, y, w, h`` -> ``(N, 8)`` corners, clockwise from the top-left."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0 = b[:, 0], b[:, 1]
    x1, y1 = x0 + b[:, 2], y0 + b[:, 3]
    return np.stack([x0, y0, x1, y0, x1, y1, x0, y1], axis=1)


def _parse(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = Path(path)
    boxes, polys, valid = [], [], []
    for lineno, text in _read_lines(p):
        if text[:1] in ("m", "M"):
            raise InputError(f"{p}:{lineno}: segmentation-mask regions are not supported")
        vals = parse_numbers(text, p, lineno)
        if len(vals) == 1 and math.isnan(vals[0]):
            vals = [math.nan] * 4
        if len(vals) == 4:
            box, ok = rect_from_values(vals, p, lineno)
            poly = box_to_polygon(box)[0]
        elif len(vals) == 8:
            poly = np.asarray(vals, dtype=np.float64)
            if np.isnan(poly).any() or not poly.any():
                box, ok = np.full(4, np.nan), False
            elif not np.isfinite(poly).all():
                raise InputError(f"{p}:{lineno}: infinite value in polygon")
            else:
                box = polygon_to_box(poly[None])[0]
                ok = bool(box[2] > 0 and box[3] > 0)
        else:
            raise InputError(
                f"{p}:{lineno}: a VOT region needs 4 values (x,y,w,h) or 8 (x1,y1,...,x4,y4),"
                f" got {len(vals)}"
            )
        if not ok:
            box, poly = np.full(4, np.nan), np.full(8, np.nan)
        boxes.append(box)
        polys.append(poly)
        valid.append(ok)
    if not boxes:
        return np.zeros((0, 4)), np.zeros((0, 8)), np.zeros(0, dtype=bool)
    return np.stack(boxes), np.stack(polys), np.asarray(valid, dtype=bool)


def read_vot(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a VOT ``groundtruth.txt`` as axis-aligned boxes.

    Args:
        path: the ground-truth file.

    Returns:
        ``(boxes, valid)``: ``boxes`` is ``(N, 4)`` float64 ``x, y, w, h`` in pixels (the
        bounding box of each polygon), row ``i`` for frame ``i + 1``, NaN where the
        target is absent; ``valid`` is ``(N,)`` bool.

    Raises:
        InputError: a missing file or a malformed line (the message names the file and the
            1-based line number).
    """
    boxes, _, valid = _parse(path)
    return boxes, valid


def read_vot_polygons(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a VOT ``groundtruth.txt`` keeping the rotated rectangles.

    Returns:
        ``(polygons, valid)``: ``(N, 8)`` corners ``x1, y1, ..., x4, y4`` in pixels
        (4-number lines become their rectangle's corners), NaN where absent; ``(N,)`` bool.

    Raises:
        InputError: as :func:`read_vot`.
    """
    _, polys, valid = _parse(path)
    return polys, valid


def write_vot(path: str | os.PathLike, regions, valid=None) -> None:
    """Write a VOT ``groundtruth.txt`` (atomically).

    Args:
        path: the file to write.
        regions: ``(N, 4)`` boxes ``x, y, w, h`` or ``(N, 8)`` polygons
            ``x1, y1, ..., x4, y4``, in pixels; row ``i`` is frame ``i + 1``.
        valid: optional ``(N,)`` bool; rows that are False, or hold NaN, are written as
            ``nan,nan,nan,nan`` (absent target, as in VOT long-term ground truth).
    """
    r = np.asarray(regions, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] not in (4, 8):
        raise InputError(f"VOT regions must have shape (N, 4) or (N, 8), got {r.shape}")
    ok = np.ones(len(r), bool) if valid is None else np.asarray(valid, dtype=bool)
    if ok.shape != (len(r),):
        raise InputError(f"valid must have shape ({len(r)},), got {ok.shape}")
    ok = ok & np.isfinite(r).all(axis=1)
    with atomic_write(path) as fh:
        for row, good in zip(r, ok):
            fh.write(",".join(format_number(v) for v in row) + "\n" if good else "nan,nan,nan,nan\n")
