"""KITTI tracking labels: ``label_02/SEQ.txt``.

One object per line, separated by spaces::

    frame track_id type truncated occluded alpha left top right bottom h w l x y z rotation_y [score]

* ``frame`` is **0-based** in KITTI (it matches ``image_02/SEQ/000000.png``);
  :meth:`KittiLabels.to_mot` adds 1 so :class:`~attentrack.datasets.mot.MotRows` keeps its 1-based
  MOTChallenge frames, and :meth:`KittiLabels.from_mot` subtracts it again.
* ``type`` is a class name: ``Car, Van, Truck, Pedestrian, Person_sitting, Cyclist,
  Tram, Misc`` or ``DontCare``. ``DontCare`` rows have track id -1 and mark regions where
  objects were not labelled; they become "ignore" rows (confidence 0) when kept.
* ``left top right bottom`` is the 2D box in pixels (0-based image coordinates).
* ``h w l`` are the 3D dimensions in metres, ``x y z`` the location in camera
  coordinates in metres, ``rotation_y`` and ``alpha`` angles in radians; unlabelled
  values are written as -1, -1000 or -10 by KITTI.
* ``score`` only appears in tracker results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from attentrack.datasets.mot import MotRows
from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.errors import InputError

KITTI_CLASSES = (
    "Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc", "DontCare",
)
DONT_CARE = "DontCare"
FPS = 10.0
"""KITTI sequences were recorded at 10 frames per second."""


def _class_mask(types: np.ndarray, classes: str | Iterable[str]) -> np.ndarray:
    """``(N,)`` bool: which of ``types`` are among ``classes`` (case-insensitive)."""
    wanted = {classes.lower()} if isinstance(classes, str) else {c.lower() for c in classes}
    return np.array([str(t).lower() in wanted for t in types], dtype=bool).reshape(len(types))


@dataclass
class KittiLabels:
    """A KITTI tracking label (or result) file as arrays, one entry per row.

    Attributes:
        frames: ``(N,)`` int, **0-based** frame numbers as in the file.
        ids: ``(N,)`` int track ids (-1 for ``DontCare``).
        types: ``(N,)`` str class names.
        truncated: ``(N,)`` float truncation level (tracking: 0, 1, 2; -1 unknown).
        occluded: ``(N,)`` int occlusion level (0 visible ... 3 unknown; -1 unknown).
        alpha: ``(N,)`` float observation angle in radians.
        bbox: ``(N, 4)`` float ``left, top, right, bottom`` in pixels.
        dimensions: ``(N, 3)`` float ``h, w, l`` in metres.
        location: ``(N, 3)`` float ``x, y, z`` in camera coordinates, metres.
        rotation_y: ``(N,)`` float yaw in radians.
        score: ``(N,)`` float detection score, NaN where the file has none.
    """

    frames: np.ndarray
    ids: np.ndarray
    types: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    alpha: np.ndarray
    bbox: np.ndarray
    dimensions: np.ndarray
    location: np.ndarray
    rotation_y: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def class_names(self) -> list[str]:
        """The distinct class names in the file, sorted."""
        return sorted({str(t) for t in self.types})

    def select(self, keep) -> "KittiLabels":
        """Rows where the boolean or index array ``keep`` selects."""
        return KittiLabels(
            self.frames[keep], self.ids[keep], self.types[keep], self.truncated[keep],
            self.occluded[keep], self.alpha[keep], self.bbox[keep], self.dimensions[keep],
            self.location[keep], self.rotation_y[keep], self.score[keep],
        )

    def of_class(self, classes: str | Iterable[str]) -> "KittiLabels":
        """Rows whose type is one of ``classes`` (case-insensitive, e.g. ``"Car"``)."""
        return self.select(_class_mask(self.types, classes))

    def to_mot(self, classes: str | Iterable[str] | None = None,
               include_dontcare: bool = False) -> MotRows:
        """These rows as :class:`MotRows` (frames made **1-based**, boxes ``x, y, w, h``).

        Args:
            classes: keep only these class names, case-insensitive (``None``: every
                class).
            include_dontcare: keep ``DontCare`` rows as ignore rows (id -1, confidence 0)
                whatever ``classes`` says; by default they are dropped.

        Returns:
            Rows with ``frames = kitti_frame + 1``, confidence the score (1 when the file
            has none, 0 for ``DontCare``) and ``extra`` the 3D location ``x, y, z``.
        """
        is_dc = np.array([str(t) == DONT_CARE for t in self.types], dtype=bool)
        keep = np.ones(len(self), dtype=bool)
        if classes is not None:
            keep = _class_mask(self.types, classes)
        keep = np.where(is_dc, include_dontcare, keep)
        sel, is_dc = self.select(keep), is_dc[keep]
        conf = np.where(np.isfinite(sel.score), sel.score, 1.0)
        conf = np.where(is_dc, 0.0, conf)
        boxes = np.concatenate([sel.bbox[:, :2], sel.bbox[:, 2:] - sel.bbox[:, :2]], axis=1)
        return MotRows(sel.frames + 1, sel.ids.copy(), boxes, conf, sel.location.copy())

    @classmethod
    def from_mot(cls, rows: MotRows, types: str | Iterable[str] = "Car",
                 with_score: bool = True) -> "KittiLabels":
        """Build KITTI rows from :class:`MotRows` (e.g. tracker output) for writing.

        Args:
            rows: 1-based frames, ``x, y, w, h`` boxes in pixels, confidence as score.
            types: one class name for every row, or ``(N,)`` names.
            with_score: keep ``rows.conf`` as the score column (results files).

        Returns:
            Labels with 0-based frames and KITTI's "unknown" values for the 3D fields.
        """
        n = len(rows)
        names = np.array([types] * n if isinstance(types, str) else list(types), dtype=object)
        if names.shape != (n,):
            raise InputError(f"need one class name per row ({n}), got {names.shape[0]}")
        b = np.asarray(rows.boxes, dtype=np.float64).reshape(-1, 4)
        return cls(
            frames=np.asarray(rows.frames, dtype=int) - 1,
            ids=np.asarray(rows.ids, dtype=int).copy(),
            types=names,
            truncated=np.full(n, -1.0),
            occluded=np.full(n, -1, dtype=int),
            alpha=np.full(n, -10.0),
            bbox=np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1),
            dimensions=np.full((n, 3), -1.0),
            location=np.full((n, 3), -1000.0),
            rotation_y=np.full(n, -10.0),
            score=np.asarray(rows.conf, dtype=np.float64).copy() if with_score else np.full(n, np.nan),
        )


def _empty() -> KittiLabels:
    return KittiLabels(
        np.zeros(0, int), np.zeros(0, int), np.zeros(0, dtype=object), np.zeros(0),
        np.zeros(0, int), np.zeros(0), np.zeros((0, 4)), np.zeros((0, 3)), np.zeros((0, 3)),
        np.zeros(0), np.zeros(0),
    )


def read_kitti(path: str | os.PathLike) -> KittiLabels:
    """Read a KITTI tracking ``label_02/SEQ.txt`` (or a results file with scores).

    Args:
        path: the label file.

    Returns:
        Every row, frames **0-based** as in the file; use :meth:`KittiLabels.to_mot` for
        1-based :class:`MotRows`.

    Raises:
        InputError: a missing file, or a line without 17 or 18 columns, with a non-numeric
            value, a non-integer frame or id, or a box whose right/bottom is left of/above
            its left/top; the message names the file and 1-based line number.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"KITTI label file not found: {p}")
    frames, ids, types, nums, scores = [], [], [], [], []
    with open(p, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in (17, 18):
                raise InputError(
                    f"{p}:{lineno}: a KITTI tracking row needs 17 values (18 with a score),"
                    f" got {len(parts)}"
                )
            try:
                vals = [float(t) for t in parts[:2] + parts[3:]]
            except ValueError:
                raise InputError(f"{p}:{lineno}: non-numeric value in {line.strip()[:60]!r}") from None
            frame, tid = vals[0], vals[1]
            if frame < 0 or frame != int(frame):
                raise InputError(f"{p}:{lineno}: frame must be a non-negative integer")
            if tid != int(tid) or tid < -1:
                raise InputError(f"{p}:{lineno}: track id must be an integer >= -1")
            rest = vals[2:]
            left, top, right, bottom = rest[3:7]
            if not np.all(np.isfinite(rest[3:7])):
                raise InputError(f"{p}:{lineno}: non-finite box coordinate")
            if right < left or bottom < top:
                raise InputError(f"{p}:{lineno}: box right/bottom lies before left/top")
            frames.append(int(frame))
            ids.append(int(tid))
            types.append(parts[2])
            nums.append(rest[:14])
            scores.append(rest[14] if len(rest) > 14 else np.nan)
    if not frames:
        return _empty()
    a = np.asarray(nums, dtype=np.float64)
    return KittiLabels(
        frames=np.asarray(frames, dtype=int),
        ids=np.asarray(ids, dtype=int),
        types=np.asarray(types, dtype=object),
        truncated=a[:, 0],
        occluded=a[:, 1].astype(int),
        alpha=a[:, 2],
        bbox=a[:, 3:7],
        dimensions=a[:, 7:10],
        location=a[:, 10:13],
        rotation_y=a[:, 13],
        score=np.asarray(scores, dtype=np.float64),
    )


def _f(value: float) -> str:
    return f"{float(value):.6f}"


def write_kitti(path: str | os.PathLike, labels: KittiLabels, with_score: bool | None = None) -> None:
    """Write a KITTI tracking label or results file (atomically), sorted by frame then id.

    Args:
        path: the file to write.
        labels: rows with **0-based** frames.
        with_score: write the score column; ``None`` writes it when any score is set.
            Rows without a score then get 1.
    """
    if with_score is None:
        with_score = bool(np.isfinite(labels.score).any())
    order = np.lexsort((labels.ids, labels.frames))
    with atomic_write(path) as fh:
        for i in order:
            cols = [
                str(int(labels.frames[i])), str(int(labels.ids[i])), str(labels.types[i]),
                f"{float(labels.truncated[i]):g}", str(int(labels.occluded[i])),
                _f(labels.alpha[i]),
                *(_f(v) for v in labels.bbox[i]),
                *(_f(v) for v in labels.dimensions[i]),
                *(_f(v) for v in labels.location[i]),
                _f(labels.rotation_y[i]),
            ]
            if with_score:
                s = labels.score[i]
                cols.append(_f(s if np.isfinite(s) else 1.0))
            fh.write(" ".join(cols) + "\n")
