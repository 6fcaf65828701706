"""Sequences: frames plus ground truth, whatever benchmark layout they come in.

:func:`open_sequence` recognises these layouts (checked in this order):

* **MOTChallenge** ``SEQ/``: ``gt/gt.txt`` and/or ``seqinfo.ini``; frames in
  ``SEQ/<imDir>/`` (``img1/`` by default) or one video file in ``SEQ/`` (as in
  ``mot15/TUD-Campus/TUD-Campus.mp4``).
* **OTB** ``SEQ/``: ``groundtruth_rect.txt`` (or ``groundtruth_rect.1.txt``,
  ``groundtruth_rect.2.txt`` ... for several targets, given ids 1, 2 ...) and frames in
  ``SEQ/img/``.
* **VOT** ``SEQ/``: ``groundtruth.txt`` and frames in ``SEQ/`` itself or ``SEQ/color/``.
* **KITTI tracking** ``.../image_02/SEQ/`` with labels at ``.../label_02/SEQ.txt``
  (the label file's path is accepted too).
* **video**: any other folder of images, or a video file; its ground truth is empty.

Whatever the layout, :attr:`Sequence.gt` uses MOTChallenge conventions: 1-based frames
(frame ``f`` is image ``f - 1`` of the source) and ``x, y, w, h`` boxes in pixels as
written in the file. Single-object sequences (OTB, VOT) have track id 1 and rows only
for frames where the target is visible.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from attentrack.datasets import kitti as kitti_io
from attentrack.datasets.mot import MotRows, read_mot, read_seqinfo
from attentrack.datasets.otb import GT_NAME as OTB_GT
from attentrack.datasets.otb import read_otb
from attentrack.datasets.vot import GT_NAME as VOT_GT
from attentrack.datasets.vot import read_vot
from attentrack.tracker.errors import InputError
from attentrack.tracker.sources import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    FrameSource,
    ImageFilesSource,
    VideoCaptureSource,
    open_source,
    prefetch,
)

log = logging.getLogger(__name__)

KINDS = ("mot", "otb", "vot", "kitti", "video")
_OTB_MULTI = re.compile(r"^groundtruth_rect\.(\d+)\.txt$")
_MAX_DEPTH = 4
_SKIP_DIRS = {"img1", "img", "color", "gt", "det", "__pycache__"}


@dataclass
class Sequence:
    """One video with its ground truth.

    Attributes:
        name: the sequence name (``TUD-Campus``, ``Crossing``, ``0001`` ...).
        kind: ``"mot"``, ``"otb"``, ``"vot"``, ``"kitti"`` or ``"video"``.
        source: the frames (an image folder or a video file).
        gt: ground truth with **1-based** frames, ``x, y, w, h`` boxes in pixels; for
            single-object sequences id 1 and rows only where the target is visible.
        fps: frames per second.
        size: ``(width, height)`` in pixels.
        path: the folder (or file) the sequence was opened from.
        gt_types: ``(len(gt),)`` class names of the ground-truth rows (KITTI only).
    """

    name: str
    kind: str
    source: FrameSource
    gt: MotRows
    fps: float
    size: tuple[int, int]
    path: Path | None = None
    gt_types: np.ndarray | None = None
    _cache: list[np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        """The number of frames (for a video, the container's count until decoded)."""
        if self._cache is not None:
            return len(self._cache)
        if isinstance(self.source, ImageFilesSource):
            return len(self.source.paths)
        if self.source.frame_count is None:
            self._decode_all()
            return len(self._cache)
        return int(self.source.frame_count)

    def frames(self, background: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """Iterate ``(index0, image)`` in order; ``image`` is ``(H, W, 3)`` uint8 BGR.

        Args:
            background: decode in a background thread (:func:`attentrack.tracker.sources.prefetch`)
                so decoding overlaps the caller's work.
        """
        if self._cache is not None:
            it: Iterable = ((i, img.copy()) for i, img in enumerate(self._cache))
        else:
            it = iter(self.source)
        return prefetch(it) if background else iter(it)

    def image(self, index0: int) -> np.ndarray:
        """Frame ``index0`` (0-based) as ``(H, W, 3)`` uint8 BGR, in any order.

        Image folders read the one file. Videos cannot seek reliably, so the first call
        decodes the whole video into memory and later calls copy from that cache: it
        costs ``len(self) * W * H * 3`` bytes (71 frames of 640x480: about 65 MB) until
        :meth:`release` is called.

        Raises:
            IndexError: ``index0`` outside ``[0, len(self))``.
        """
        index0 = int(index0)
        if isinstance(self.source, ImageFilesSource):
            if not 0 <= index0 < len(self.source.paths):
                raise IndexError(f"frame {index0} outside 0..{len(self.source.paths) - 1} of {self.name}")
            return self.source.read(index0)
        if self._cache is None:
            self._decode_all()
        if not 0 <= index0 < len(self._cache):
            raise IndexError(f"frame {index0} outside 0..{len(self._cache) - 1} of {self.name}")
        return self._cache[index0].copy()

    def release(self) -> None:
        """Drop the decoded-frame cache of a video sequence."""
        self._cache = None

    def _decode_all(self) -> None:
        self._cache = [frame for _, frame in self.source]
        if not self._cache:
            raise InputError(f"sequence {self.name} has no frames")

    def tracks(self, min_length: int = 2) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Ground-truth trajectories.

        Args:
            min_length: leave out tracks with fewer rows than this.

        Returns:
            ``{id: (frames, boxes)}`` for every id >= 0: ``frames`` ``(T,)`` int,
            1-based, increasing; ``boxes`` ``(T, 4)`` float ``x, y, w, h`` in pixels.
        """
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for tid in np.unique(self.gt.ids):
            if tid < 0:
                continue
            t = self.gt.track(int(tid))
            if len(t) >= min_length:
                out[int(tid)] = (t.frames.astype(int), t.boxes.astype(np.float64))
        return out


def single_target_rows(boxes: np.ndarray, valid: np.ndarray, track_id: int = 1) -> MotRows:
    """Turn one box per frame into :class:`MotRows`.

    Args:
        boxes: ``(N, 4)`` ``x, y, w, h`` in pixels, row ``i`` for frame ``i + 1``.
        valid: ``(N,)`` bool, False where the target is absent (no row is made).
        track_id: the id of every row.
    """
    idx = np.flatnonzero(valid)
    n = len(idx)
    return MotRows(
        idx + 1, np.full(n, track_id, dtype=int), np.asarray(boxes, np.float64)[idx].reshape(n, 4),
        np.ones(n), np.full((n, 3), -1.0),
    )


def _images_in(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return [str(p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


def _kitti_labels_for(folder: Path) -> Path | None:
    if folder.parent.name in ("image_02", "image_03"):
        label = folder.parent.parent / "label_02" / f"{folder.name}.txt"
        if label.is_file():
            return label
    return None


def detect_kind(path: str | os.PathLike) -> str | None:
    """The layout of ``path`` (one of :data:`KINDS`), or ``None`` when it is not a sequence.

    Only looks at file names; nothing is opened.
    """
    p = Path(path)
    if p.is_file():
        if p.name in ("gt.txt", "seqinfo.ini"):
            return "mot"
        if p.name == OTB_GT or _OTB_MULTI.match(p.name):
            return "otb"
        if p.name == VOT_GT:
            return "vot"
        if p.parent.name == "label_02" and p.suffix == ".txt":
            return "kitti"
        if p.suffix.lower() in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS:
            return "video"
        return None
    if not p.is_dir():
        return None
    if (p / "seqinfo.ini").is_file() or (p / "gt" / "gt.txt").is_file():
        return "mot"
    if (p / OTB_GT).is_file() or any(_OTB_MULTI.match(c.name) for c in p.glob("groundtruth_rect.*.txt")):
        return "otb"
    if (p / VOT_GT).is_file():
        return "vot"
    if _kitti_labels_for(p) is not None:
        return "kitti"
    if _images_in(p) or len(_videos_in(p)) == 1:
        return "video"
    return None


def _sequence_folder(p: Path, kind: str) -> Path:
    """The sequence folder when ``p`` names one of its files."""
    if not p.is_file() or kind == "video":
        return p
    if kind == "mot" and p.name == "gt.txt" and p.parent.name == "gt":
        return p.parent.parent
    if kind == "kitti":
        return p.parent.parent / "image_02" / p.stem
    return p.parent


def open_sequence(path: str | os.PathLike, min_confidence: float = 1.0, *,
                  classes: str | Iterable[str] | None = None,
                  require_gt: bool = True) -> Sequence:
    """Open a sequence folder, detecting its layout (see the module docstring).

    Args:
        path: a sequence folder (or its ground-truth file, or a video file).
        min_confidence: MOTChallenge ground truth: drop rows whose confidence is below this
            (1 drops the "ignore" rows marked 0). KITTI: ``DontCare`` rows have
            confidence 0, so they are kept only when this is 0.
        classes: KITTI only: keep these classes (e.g. ``"Car"``); ``None`` keeps all.
        require_gt: a MOTChallenge folder without ``gt/gt.txt`` raises when True, else
            gets an empty ground truth (test sequences).

    Raises:
        InputError: a missing path, a missing ground-truth file, a malformed ground-truth
            line (with its line number), a sequence without frames, or a ground truth whose
            length does not match the frames (OTB, VOT).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such sequence: {p}")
    kind = detect_kind(p)
    if kind is None:
        raise InputError(
            f"{p} is not a sequence (no gt/gt.txt, groundtruth_rect.txt, groundtruth.txt,"
            " images or video)"
        )
    folder = _sequence_folder(p, kind)
    if kind == "mot":
        return _open_mot(folder, min_confidence, require_gt)
    if kind == "otb":
        return _open_otb(folder)
    if kind == "vot":
        return _open_vot(folder)
    if kind == "kitti":
        return _open_kitti(folder, min_confidence, classes)
    source = open_source(p)
    return Sequence(p.stem if p.is_file() else p.name, "video", source, MotRows.empty(),
                    source.fps, source.size, path=p)


def _open_mot(folder: Path, min_confidence: float, require_gt: bool) -> Sequence:
    info = read_seqinfo(folder / "seqinfo.ini") if (folder / "seqinfo.ini").is_file() else None
    name = info.name if info and info.name else folder.name
    gt_path = folder / "gt" / "gt.txt"
    if gt_path.is_file():
        gt = read_mot(gt_path, min_confidence=min_confidence)
    elif require_gt:
        raise InputError(f"sequence {name} has no ground truth: {gt_path} not found")
    else:
        gt = MotRows.empty()
    im_dir = info.im_dir if info else "img1"
    images = _images_in(folder / im_dir)
    if images:
        source: FrameSource = ImageFilesSource(images, name=name)
    else:
        videos = _videos_in(folder)
        named = [v for v in videos if v.stem in (name, folder.name)]
        if len(videos) > 1 and len(named) == 1:
            videos = named
        if not videos:
            raise InputError(
                f"sequence {name} has no frames (no images in {folder / im_dir}, no video in {folder})"
            )
        if len(videos) > 1:
            raise InputError(f"sequence {name} has several videos in {folder}; keep one")
        source = VideoCaptureSource(str(videos[0]), name=name)
    fps = info.frame_rate if info and info.frame_rate > 0 else source.fps
    source.fps = fps
    return Sequence(name, "mot", source, gt, fps, source.size, path=folder)


def _check_length(gt_path: Path, n_boxes: int, source: ImageFilesSource) -> None:
    n_frames = len(source.paths)
    if n_boxes != n_frames:
        raise InputError(
            f"{gt_path} has {n_boxes} boxes but the sequence has {n_frames} frames"
            " (trim the frames or the ground truth so that line i is frame i)"
        )


def _open_otb(folder: Path) -> Sequence:
    single = folder / OTB_GT
    if single.is_file():
        gt_files = [(1, single)]
    else:
        gt_files = sorted(
            (int(m.group(1)), c) for c in folder.glob("groundtruth_rect.*.txt")
            if (m := _OTB_MULTI.match(c.name))
        )
    images = _images_in(folder / "img") or _images_in(folder)
    if not images:
        raise InputError(f"sequence {folder.name} has no frames (no images in {folder / 'img'})")
    source = ImageFilesSource(images, name=folder.name)
    parts = []
    for tid, gt_path in gt_files:
        boxes, valid = read_otb(gt_path)
        _check_length(gt_path, len(boxes), source)
        parts.append(single_target_rows(boxes, valid, tid))
    gt = _concat(parts)
    return Sequence(folder.name, "otb", source, gt, source.fps, source.size, path=folder)


def _open_vot(folder: Path) -> Sequence:
    gt_path = folder / VOT_GT
    boxes, valid = read_vot(gt_path)
    images = _images_in(folder) or _images_in(folder / "color")
    if not images:
        raise InputError(
            f"sequence {folder.name} has no frames (no images in {folder} or {folder / 'color'})"
        )
    source = ImageFilesSource(images, name=folder.name)
    _check_length(gt_path, len(boxes), source)
    gt = single_target_rows(boxes, valid, 1)
    return Sequence(folder.name, "vot", source, gt, source.fps, source.size, path=folder)


def _open_kitti(folder: Path, min_confidence: float, classes) -> Sequence:
    label_path = _kitti_labels_for(folder)
    if label_path is None:
        expected = folder.parent.parent / "label_02" / f"{folder.name}.txt"
        raise InputError(f"KITTI labels not found: {expected}")
    labels = kitti_io.read_kitti(label_path)
    if classes is not None:
        wanted = [classes] if isinstance(classes, str) else list(classes)
        labels = labels.of_class(wanted + [kitti_io.DONT_CARE])
    rows = labels.to_mot(include_dontcare=True)  # same rows, same order
    keep = rows.conf >= min_confidence
    images = _images_in(folder)
    if not images:
        raise InputError(f"sequence {folder.name} has no frames (no images in {folder})")
    source = ImageFilesSource(images, name=folder.name)
    source.fps = kitti_io.FPS
    return Sequence(folder.name, "kitti", source, rows.select(keep), kitti_io.FPS, source.size,
                    path=folder, gt_types=labels.types[keep])


def _concat(parts: list[MotRows]) -> MotRows:
    if not parts:
        return MotRows.empty()
    return MotRows(
        np.concatenate([r.frames for r in parts]), np.concatenate([r.ids for r in parts]),
        np.concatenate([r.boxes for r in parts]), np.concatenate([r.conf for r in parts]),
        np.concatenate([r.extra for r in parts]),
    )


def find_sequences(root: str | os.PathLike, min_confidence: float = 1.0, *,
                   strict: bool = False) -> list[Sequence]:
    """Every sequence with ground truth under ``root``, sorted by path.

    ``root`` may be one sequence (returned alone, whatever its kind), or a folder such as
    a MOTChallenge benchmark (``MOT17/train/SEQ/...``), a KITTI tracking ``training/``
    folder or a mix, searched up to four levels deep. Folders that look like sequences
    but cannot be opened (for instance MOTChallenge folders with ground truth but no
    frames) are skipped with a logged warning, unless ``strict``.

    Args:
        root: a folder (or one sequence).
        min_confidence: passed to :func:`open_sequence`.
        strict: raise on the first sequence that cannot be opened.

    Raises:
        InputError: ``root`` is missing, or holds no sequence that can be opened (the
            message gives the first problem met).
    """
    r = Path(root)
    if not r.exists():
        raise InputError(f"no such folder: {r}")
    if detect_kind(r) is not None:
        return [open_sequence(r, min_confidence)]
    found: list[Sequence] = []
    problems: list[str] = []

    def walk(folder: Path, depth: int) -> None:
        for child in sorted(folder.iterdir()):
            if not child.is_dir() or child.name.startswith(".") or child.name in _SKIP_DIRS:
                continue
            kind = detect_kind(child)
            if kind == "video":  # frames without ground truth: not for evaluation
                continue
            if kind is not None:
                try:
                    found.append(open_sequence(child, min_confidence))
                except InputError as exc:
                    if strict:
                        raise
                    log.debug("skipping %s: %s", child, exc)
                    problems.append(str(exc))
            elif depth < _MAX_DEPTH:
                walk(child, depth + 1)

    walk(r, 1)
    if problems and found:
        log.warning("skipped %d folder(s) under %s that cannot be opened, e.g. %s",
                    len(problems), r, problems[0])
    if not found:
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise InputError(f"no usable sequence under {r}: {problems[0]}{more}")
        raise InputError(f"no sequence found under {r}")
    return found
