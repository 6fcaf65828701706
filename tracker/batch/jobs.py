"""One video of a batch: what to run (:class:`VideoJob`, :class:`BatchOptions`), its key,
and :func:`run_job`, which runs the same pipeline as ``attentrack track``.

Outputs of a video named ``NAME`` in ``OUT``: ``NAME.txt`` (MOTChallenge), ``NAME.jsonl``
(one JSON object per frame), ``NAME.mp4`` (annotated, optional). Each is written to a
temporary name and renamed when complete. After all of them are in place, a record
``OUT/.batch/NAME.json`` is written (also atomically) with the job's key and the size of
every output; a video counts as done only when that record matches the key of the
current inputs and options and every output is present with its recorded size.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from attentrack.tracker.atomic import atomic_write, make_folder, remove_stale_partials
from attentrack.tracker.errors import InputError

#: output formats and the file suffix each writes
FORMATS = {"mot": ".txt", "json": ".jsonl", "video": ".mp4"}
#: folder (inside the output folder) of the per-video completion records
STATE_DIR = ".batch"
#: warnings kept per video (the rest are counted)
MAX_WARNINGS = 5
#: bump when the meaning of outputs changes, so that old results are redone
KEY_VERSION = 1


@dataclass(frozen=True)
class VideoJob:
    """One input of a batch.

    Attributes:
        name: base name of the outputs (unique within a batch).
        source: what :func:`attentrack.tracker.sources.open_source` opens: a video file,
            an image folder or glob, a sequence folder, or ``synthetic:...``.
        init: ``x, y, w, h`` pixel boxes of the objects in the first frame, as a tuple of
            4-tuples; empty: start tracks from proposals.
        gt: a MOTChallenge ground-truth file, or ``None``.
    """

    name: str
    source: str
    init: tuple[tuple[float, float, float, float], ...] = ()
    gt: str | None = None

    def to_dict(self) -> dict:
        """The job as a JSON-ready dict (boxes as lists)."""
        return {"name": self.name, "source": self.source, "init": [list(b) for b in self.init], "gt": self.gt}


@dataclass(frozen=True)
class BatchOptions:
    """What every video of a batch is run with.

    Attributes:
        model: a registered tracker id.
        params: the model's options (``-p NAME=VALUE``, plus ``device`` and ``weights``
            where the model takes them), as ``(name, value)`` pairs.
        proposals: proposer id for videos without ``init`` boxes.
        formats: output formats, a subset of :data:`FORMATS`.
        max_frames: stop each video after this many frames (``None``: all).
        reconnect: cameras and stream URLs: reopen a stream that stops up to this many times
            in a row (:func:`attentrack.tracker.sources.open_source`); files ignore it. Not part of a
            job's key: it does not change what a complete run writes.
        runner: the multi-object runner's settings (``-r NAME=VALUE``), as ``(name, value)`` pairs.
        detections: ``"auto"``: each video without ``init`` boxes is tracked from the
            ``SEQ/det/det.txt`` of its sequence folder instead of from proposals; None: proposals.
        det_threshold: detections scoring less are ignored (None: all).
        proposal_options: the proposer's options (``-P NAME=VALUE``), as ``(name, value)`` pairs.
    """

    model: str = "hart"
    params: tuple[tuple[str, str], ...] = ()
    proposals: str = "mog2"
    formats: tuple[str, ...] = ("mot", "json")
    max_frames: int | None = None
    reconnect: int = 0
    runner: tuple[tuple[str, str], ...] = ()
    detections: str | None = None
    det_threshold: float | None = None
    proposal_options: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise InputError(f"unknown output format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
        if "mot" not in self.formats:
            raise InputError("the mot format is always written (it is what resuming and metrics read)")
        if self.reconnect < 0:
            raise InputError(f"reconnect must not be negative, got {self.reconnect}")
        if self.detections not in (None, "auto"):
            raise InputError(f"batch detections must be 'auto' (each video's SEQ/det/det.txt), got {self.detections!r}")

    @property
    def device(self) -> str:
        """The ``device`` option (``auto`` when not given)."""
        return dict(self.params).get("device", "auto")


@dataclass
class JobResult:
    """What happened to one video.

    Attributes:
        name: the video's name.
        source: its source.
        status: ``done`` (run now), ``skipped`` (complete from an earlier run) or ``failed``.
        frames: frames processed.
        seconds: wall time of the tracking loop, in seconds.
        tracks: distinct track ids reported.
        error: one line saying why it failed (empty otherwise).
        outputs: output file names (relative to the output folder).
        gt: ground-truth file, if any.
        warnings: what the run warned about (a moving camera under a static-camera model, a
            stream that stopped and was reopened, ...), one line each, at most
            :data:`MAX_WARNINGS`; a worker's own stderr is not where a batch's user looks.
        details: the whole story of an unexpected failure (a traceback, a Ray worker's
            error), several lines; ``error`` is its one-line summary.
        attempts: times the video was started (more than 1 when a lost worker was retried).
    """

    name: str
    source: str
    status: str
    frames: int = 0
    seconds: float = 0.0
    tracks: int = 0
    error: str = ""
    outputs: list[str] = field(default_factory=list)
    gt: str | None = None
    warnings: list[str] = field(default_factory=list)
    details: str = ""
    attempts: int = 1

    @property
    def fps(self) -> float:
        """Frames per second of the tracking loop."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        """The result as a JSON-ready dict (times rounded)."""
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        d["fps"] = round(self.fps, 2)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "JobResult":
        """A result from :meth:`to_dict`'s output; keys of other versions are ignored."""
        keys = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in keys})

    @classmethod
    def failed(cls, job: VideoJob, error: str, details: str = "", attempts: int = 1) -> "JobResult":
        """A ``failed`` result; ``error`` is made one line (at most 500 characters)."""
        return cls(job.name, job.source, "failed", error=" ".join(str(error).split())[:500], gt=job.gt,
                   details=details, attempts=attempts)

    @classmethod
    def interrupted(cls, job: VideoJob) -> "JobResult":
        """The result of a video the batch did not finish because it was stopped (Ctrl-C, SIGTERM)."""
        return cls(job.name, job.source, "interrupted", error="the batch was stopped before this video ended",
                   gt=job.gt)


# -- keys ---------------------------------------------------------------------------------------


def _file_identity(path: Path) -> list:
    st = path.stat()
    return [path.name, st.st_size, st.st_mtime_ns]


def source_identity(source: str) -> list:
    """What identifies a source's content cheaply: for files, resolved path, size and
    modification time; for folders and globs, those of every file; otherwise the text."""
    import glob as globmod

    from attentrack.tracker.synthetic import PREFIX, SyntheticSpec

    if source.startswith(PREFIX):
        return [SyntheticSpec.parse(source).text]
    if "://" in source or source.isdigit():
        return [source]
    if any(ch in source for ch in "*?["):
        return [source] + [_file_identity(Path(p)) for p in sorted(globmod.glob(source))]
    p = Path(source)
    if not p.exists():
        return [source]
    if p.is_file():
        return [str(p.resolve()), *_file_identity(p)]
    files = sorted(f for f in p.rglob("*") if f.is_file() and "gt" not in f.relative_to(p).parts[:1])
    return [str(p.resolve())] + [[str(f.relative_to(p)), *_file_identity(f)[1:]] for f in files]


def _weights_identity(options: BatchOptions) -> str:
    """sha256 of the weights the model will load: the given file, or the shipped one."""
    from attentrack.tracker.registry import TRACKERS

    path = dict(options.params).get("weights")
    cls = TRACKERS.get(options.model) if options.model in TRACKERS else None
    module = sys.modules.get(cls.__module__ if cls else "")
    variants = getattr(module, "SHIPPED_VARIANTS", {})
    if path in variants:  # shipped weights named, e.g. weights=fast
        path = str(variants[path])
    if not path:
        shipped = getattr(module, "SHIPPED_WEIGHTS", None)
        path = str(shipped) if shipped else None
    if not path or not Path(path).is_file():
        return ""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def job_key(job: VideoJob, options: BatchOptions, weights_hash: str | None = None) -> str:
    """A hex digest of everything an output depends on: the source's identity, the
    initial boxes, the model, its weights and options, the proposer, the formats and
    ``max_frames``. Two runs with the same key write the same files.

    Args:
        job: the video, its initial boxes and ground truth.
        options: the batch's model, options, proposer, formats and frame limit.
        weights_hash: :func:`_weights_identity` computed once per batch (computed here when
            ``None``).
    """
    record = {
        "version": KEY_VERSION,
        "name": job.name,
        "source": source_identity(job.source),
        "init": [list(map(float, b)) for b in job.init],
        "model": options.model,
        "weights": _weights_identity(options) if weights_hash is None else weights_hash,
        "params": sorted([k, str(v)] for k, v in options.params if k != "weights"),
        "proposals": options.proposals if not job.init else None,
        "formats": sorted(options.formats),
        "max_frames": options.max_frames,
    }
    if options.runner or options.detections:  # (absent when unused: keys of earlier runs stay valid)
        record.update(runner=sorted([k, str(v)] for k, v in options.runner),
                      detections=options.detections if not job.init else None, det_threshold=options.det_threshold)
    if options.proposal_options and not job.init:
        record["proposal_options"] = sorted([k, str(v)] for k, v in options.proposal_options)
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


# -- completion records -------------------------------------------------------------------------


def record_path(out_dir: Path, name: str) -> Path:
    """Where the completion record of video ``name`` lives."""
    return Path(out_dir) / STATE_DIR / f"{name}.json"


def completed_result(job: VideoJob, key: str, out_dir: Path) -> JobResult | None:
    """The earlier result of ``job`` when its outputs are complete for ``key``, else ``None``."""
    path = record_path(out_dir, job.name)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("key") != key:
        return None
    for fname, size in record.get("sizes", {}).items():
        f = Path(out_dir) / fname
        if not f.is_file() or f.stat().st_size != size:
            return None
    result = JobResult.from_dict(record["result"])
    result.status = "skipped"
    return result


# -- running ------------------------------------------------------------------------------------


def limit_threads(threads: int = 1) -> None:
    """``threads`` threads for torch and OpenCV: several workers share the machine's cores."""
    import cv2
    import torch

    torch.set_num_threads(max(1, int(threads)))
    cv2.setNumThreads(max(1, int(threads)))


def run_job(job: VideoJob, options: BatchOptions, out_dir: str | os.PathLike, key: str) -> JobResult:
    """Track one video with the pipeline ``attentrack track`` uses; write its outputs and
    completion record. The run's warnings go into the result (:attr:`JobResult.warnings`).

    Raises:
        InputError: an unreadable source, a bad box or model option.
    """
    out = make_folder(out_dir)
    remove_stale_partials(out, job.name)  # what killed runs of this video left
    record_path(out, job.name).unlink(missing_ok=True)  # the outputs are redone: not complete until rewritten
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _track_job(job, options, out)
    result.warnings = _warning_lines(caught)
    record = {"key": key, "job": job.to_dict(), "result": result.to_dict(),
              "sizes": {n: (out / n).stat().st_size for n in result.outputs}, "finished": time.time()}
    with atomic_write(record_path(out, job.name)) as fh:
        json.dump(record, fh, indent=1)
    return result


def _warning_lines(caught: list) -> list[str]:
    """The toolkit's warnings (``UserWarning`` and subclasses) among ``caught``, one line each,
    repeats dropped, at most :data:`MAX_WARNINGS` (plus a line counting the rest); any other
    warning (a library's deprecation, ...) is shown on stderr as usual."""
    lines = []
    for w in caught:
        if issubclass(w.category, UserWarning):
            line = " ".join(str(w.message).split())
            if line not in lines:
                lines.append(line)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if len(lines) > MAX_WARNINGS:
        lines = lines[:MAX_WARNINGS] + [f"... and {len(lines) - MAX_WARNINGS} more"]
    return lines


def _track_job(job: VideoJob, options: BatchOptions, out: Path) -> JobResult:
    """:func:`run_job`'s tracking into ``out`` (which exists, its stale partial files and
    completion record removed): the outputs written, the record not yet."""
    from attentrack.tracker.base import create_tracker
    from attentrack.tracker.detections import DetectionFile, check_follows_given_objects, find_detections
    from attentrack.tracker.pipeline import run_tracking, static_camera_part
    from attentrack.tracker.proposals import create_proposer
    from attentrack.tracker.runner import RunnerSettings, multi_object_tracker
    from attentrack.tracker.sinks import JsonlSink, MotTxtSink, VideoSink
    from attentrack.tracker.sources import open_source

    source = open_source(job.source, reconnect=options.reconnect)
    tracker = create_tracker(options.model, dict(options.params))
    init = np.asarray(job.init, dtype=float) if job.init else None
    starts_own = getattr(tracker, "self_starting", False)
    if options.detections:
        check_follows_given_objects(options.model, tracker)  # (the command line checks it before any job)
    detections = None
    if options.detections and init is None:
        detections = DetectionFile(find_detections(options.detections, job.source), options.det_threshold)
    proposer = (create_proposer(options.proposals, dict(options.proposal_options))
                if init is None and detections is None and not starts_own else None)
    settings = RunnerSettings.from_options(dict(options.runner))
    runner = multi_object_tracker(tracker, proposer, settings, source=source)  # the same runner as `track`'s
    sinks = []
    try:  # whatever stops the run (an error, SIGTERM) deletes the temporary files
        sinks.append(MotTxtSink(out / f"{job.name}{FORMATS['mot']}"))
        if "json" in options.formats:
            sinks.append(JsonlSink(out / f"{job.name}{FORMATS['json']}"))
        if "video" in options.formats:
            sinks.append(VideoSink(out / f"{job.name}{FORMATS['video']}", source.fps, source.size))
        summary = run_tracking(source, runner, sinks, init_boxes=init, detections=detections,
                               max_frames=options.max_frames, progress=False,
                               static_camera_user=static_camera_part(tracker, options.proposals if proposer else None))
    except BaseException:
        for s in sinks:
            s.abort()
        raise
    names = [Path(p).name for p in summary.outputs]
    return JobResult(job.name, job.source, "done", summary.frames, summary.seconds, summary.tracks,
                     outputs=names, gt=job.gt)


def run_job_safely(job: VideoJob, options: BatchOptions, out_dir: str, key: str, threads: int = 1) -> dict:
    """:func:`run_job` in a worker with ``threads`` threads; any error becomes a failed result
    (as a dict, which crosses process boundaries cheaply), an unexpected one with its
    traceback in :attr:`JobResult.details`."""
    import traceback

    limit_threads(threads)
    try:
        return run_job(job, options, out_dir, key).to_dict()
    except InputError as exc:
        return JobResult.failed(job, str(exc)).to_dict()
    except Exception as exc:  # a bug or an unexpected library error: keep the batch going
        return JobResult.failed(job, f"{type(exc).__name__}: {exc}", details=traceback.format_exc()).to_dict()
