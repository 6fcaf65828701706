"""Turning command-line inputs into :class:`~attentrack.tracker.batch.jobs.VideoJob` lists.

An input is one of:

* a video file, or a ``synthetic:...`` clip: one job;
* a sequence folder (frames in ``img1/`` or ``img/``, or images, or one video inside;
  ground truth from ``gt/gt.txt`` when present): one job;
* a MOTChallenge benchmark root (folders ``SEQ/img1`` at depth one or two, e.g.
  ``MOT17/train``), or any folder of videos: one job per sequence or video;
* a glob: a glob of images is one image-sequence job (as ``attentrack track``); otherwise
  each match is expanded as above;
* a manifest (``--manifest``, or an input ending in ``.csv``, ``.jsonl``, ``.ndjson``): CSV with a
  header, or JSON lines, with the fields ``source`` (required), ``name``, ``init`` and ``gt``.
  ``init`` is ``x,y,w,h`` boxes in pixels joined by ``;`` (CSV) or a list of ``[x, y, w, h]``
  (JSON); relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import re
from pathlib import Path

from attentrack.tracker.batch.jobs import VideoJob
from attentrack.tracker.boxes import parse_box
from attentrack.tracker.errors import InputError
from attentrack.tracker.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from attentrack.tracker.synthetic import PREFIX

MANIFEST_FIELDS = ("source", "name", "init", "gt")
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.iterdir())


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


def is_sequence(folder: Path) -> bool:
    """A folder that ``attentrack track`` reads as one clip."""
    return (_has_images(folder / "img1") or _has_images(folder / "img") or _has_images(folder)
            or len(_videos_in(folder)) == 1)


def _gt_of(folder: Path) -> str | None:
    gt = folder / "gt" / "gt.txt"
    return str(gt) if gt.is_file() else None


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._") or "video"
    return name


def _expand_folder(folder: Path) -> list[VideoJob]:
    if is_sequence(folder) and not _videos_in(folder)[1:]:
        return [VideoJob(folder.name, str(folder), gt=_gt_of(folder))]
    jobs = []
    videos = _videos_in(folder)
    jobs += [VideoJob(v.stem, str(v)) for v in videos]
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        if child.name in ("gt", "det"):
            continue
        if is_sequence(child):
            jobs.append(VideoJob(child.name, str(child), gt=_gt_of(child)))
        else:  # MOT17/train/SEQ, one level deeper
            jobs += [VideoJob(g.name, str(g), gt=_gt_of(g)) for g in sorted(child.iterdir())
                     if g.is_dir() and (_has_images(g / "img1") or _has_images(g / "img"))]
    return jobs


def expand_input(spec: str) -> list[VideoJob]:
    """The jobs of one command-line input (see the module docstring).

    Raises:
        InputError: a path that does not exist, or an input with nothing to track.
    """
    if spec.startswith(PREFIX):
        from attentrack.tracker.synthetic import SyntheticSpec

        s = SyntheticSpec.parse(spec)
        return [VideoJob(_safe_name(f"synthetic-{s.frames}-{s.width}x{s.height}-{s.objects}-{s.seed}"), s.text)]
    if any(ch in spec for ch in "*?["):
        matches = sorted(glob.glob(spec))
        if not matches:
            raise InputError(f"nothing matches {spec}")
        if all(m.lower().endswith(IMAGE_EXTENSIONS) for m in matches):
            return [VideoJob(Path(spec).parent.name or "images", spec)]
        jobs = []
        for m in matches:
            if Path(m).is_dir() or m.lower().endswith(VIDEO_EXTENSIONS):
                jobs += expand_input(m)
        if not jobs:
            raise InputError(f"no videos or sequence folders match {spec}")
        return jobs
    path = Path(spec)
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    if path.is_file():
        if path.suffix.lower() in MANIFEST_SUFFIXES:
            return read_manifest(str(path))
        return [VideoJob(path.stem, str(path))]
    jobs = _expand_folder(path)
    if not jobs:
        raise InputError(f"folder {path} holds no videos, images or sequence folders")
    return jobs


def _parse_init(value, where: str) -> tuple:
    if value in (None, ""):
        return ()
    try:
        if isinstance(value, str):
            boxes = [parse_box(part.strip()) for part in value.split(";") if part.strip()]
        else:
            boxes = [parse_box(",".join(str(v) for v in b)) for b in value]
    except InputError as exc:
        raise InputError(f"{where}: init: {exc}") from None
    except TypeError:
        raise InputError(f"{where}: init must be boxes x,y,w,h") from None
    return tuple(tuple(float(v) for v in b) for b in boxes)


def _resolve(value: str, base: Path) -> str:
    if value.startswith(PREFIX) or "://" in value or Path(value).is_absolute():
        return value
    return str(base / value)


def read_manifest(path: str) -> list[VideoJob]:
    """The jobs listed in a CSV (with a header row) or JSON-lines manifest.

    Raises:
        InputError: a missing file, a row without ``source``, an unknown column, or a
            malformed ``init`` (the message names the line).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"manifest not found: {p}")
    base = p.parent
    rows: list[tuple[str, dict]] = []
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise InputError(f"{p}:{lineno}: not a JSON object") from None
            if not isinstance(row, dict):
                raise InputError(f"{p}:{lineno}: not a JSON object")
            rows.append((f"{p}:{lineno}", row))
    else:
        reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
        for lineno, row in enumerate(reader, 2):
            rows.append((f"{p}:{lineno}", {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}))
    jobs = []
    for where, row in rows:
        unknown = sorted(set(row) - set(MANIFEST_FIELDS))
        if unknown:
            raise InputError(f"{where}: unknown field {unknown[0]!r}; fields: {', '.join(MANIFEST_FIELDS)}")
        source = row.get("source")
        if not source or not isinstance(source, str):
            raise InputError(f"{where}: no source")
        source = _resolve(source, base)
        name = row.get("name") or None
        gt = row.get("gt") or None
        init = _parse_init(row.get("init"), where)
        if name is None:
            found = expand_input(source)
            if len(found) != 1:
                raise InputError(f"{where}: {source} holds {len(found)} videos; a manifest row is one video")
            name = found[0].name
            gt = gt or found[0].gt
        gt = _resolve(gt, base) if gt else None
        if gt and not Path(gt).is_file():
            raise InputError(f"{where}: ground truth not found: {gt}")
        jobs.append(VideoJob(_safe_name(name), source, init, gt))
    if not jobs:
        raise InputError(f"manifest {p} lists no videos")
    return jobs


def _absolute(source: str) -> str:
    """A local path made absolute (workers may run elsewhere, e.g. on Ray); other specs as they are."""
    if source.startswith(PREFIX) or "://" in source or source.isdigit():
        return source
    return os.path.abspath(source)


def collect_jobs(inputs: tuple[str, ...] = (), manifests: tuple[str, ...] = ()) -> list[VideoJob]:
    """Every job of the inputs and manifests, in the order given, with absolute paths.

    Raises:
        InputError: nothing to do, or two videos with the same name (their outputs would
            collide; name them in a manifest).
    """
    jobs: list[VideoJob] = []
    for spec in inputs:
        jobs += expand_input(str(spec))
    for m in manifests:
        jobs += read_manifest(str(m))
    if not jobs:
        raise InputError("no inputs: give videos, folders, globs or --manifest")
    jobs = [VideoJob(j.name, _absolute(j.source), j.init, _absolute(j.gt) if j.gt else None) for j in jobs]
    seen: dict[str, str] = {}
    for j in jobs:
        if j.name in seen:
            raise InputError(f"two inputs are both named {j.name!r} ({seen[j.name]} and {j.source}); "
                             "give them names in a manifest")
        seen[j.name] = j.source
    return jobs
