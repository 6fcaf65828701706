"""Measurements behind ``attentrack bench batch`` and ``attentrack bench stream``.

* Throughput: frames per second of wall time over all videos of a batch, for a backend
  and a number of workers, after a warm-up batch (so worker start-up, paid once per
  session, is not counted; per-video start-up such as opening the video and building the
  model is).
* Streaming memory: the peak resident set size of a fresh process that tracks a
  synthetic clip generated on the fly, through the pipeline ``attentrack track`` runs.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing as mp
import resource
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from attentrack.tracker.batch.backends import create_backend
from attentrack.tracker.batch.jobs import BatchOptions, VideoJob
from attentrack.tracker.batch.runner import run_batch
from attentrack.tracker.errors import InputError


@dataclass
class ThroughputRow:
    """One measured batch configuration.

    Attributes:
        clips: which clips (a label).
        backend: ``local`` or ``ray``.
        workers: videos at once.
        videos: videos in the batch.
        frames: frames tracked.
        seconds: wall time of the batch, in seconds.
        efficiency: ``fps / (workers * fps with 1 worker)`` for the same clips and backend
            (1 = perfect scaling; ``None`` without a 1-worker row).
    """

    clips: str
    backend: str
    workers: int
    videos: int
    frames: int
    seconds: float
    efficiency: float | None = None

    @property
    def fps(self) -> float:
        """Frames per second of wall time (0 when nothing was timed)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        """The row as a JSON-ready dict, with the frame rate."""
        return {**asdict(self), "fps": round(self.fps, 2), "seconds": round(self.seconds, 3)}


def _warm_jobs(n: int) -> list[VideoJob]:
    return [VideoJob(f"warmup{k}", f"synthetic:frames=3,size=64x48,objects=1,seed={k}") for k in range(n)]


def measure_throughput(jobs: list[VideoJob], options: BatchOptions, backend: str, workers: int,
                       label: str) -> ThroughputRow:
    """Run ``jobs`` (all of them: nothing is resumed) and time the whole batch."""
    ray_started = False
    if backend == "ray":
        try:
            import ray
        except ImportError:
            raise InputError("the ray backend needs Ray: pip install 'attentrack[ray]'") from None
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        ray_started = True
    try:
        runner = create_backend(backend, workers=workers)
        with tempfile.TemporaryDirectory(prefix="attentrack-bench-batch-") as tmp:
            run_batch(_warm_jobs(workers), options, Path(tmp) / "warm", runner, resume=False, evaluate=False)
            summary = run_batch(jobs, options, Path(tmp) / "out", runner, resume=False, evaluate=False)
    finally:
        if ray_started:
            ray.shutdown()
    failed = summary.failed
    if failed:
        raise InputError(f"benchmark video {failed[0].name} failed: {failed[0].error}")
    return ThroughputRow(label, backend, workers, len(jobs), summary.frames_run, summary.wall_seconds)


def add_efficiency(rows: list[ThroughputRow]) -> None:
    """Fill :attr:`ThroughputRow.efficiency` from the 1-worker row of the same clips and backend."""
    base = {(r.clips, r.backend): r.fps for r in rows if r.workers == 1}
    for r in rows:
        one = base.get((r.clips, r.backend))
        r.efficiency = r.fps / (r.workers * one) if one else None


def format_throughput(rows: list[ThroughputRow]) -> str:
    """The rows as a plain-text table."""
    head = (f"{'clips':<14} {'backend':<7} {'workers':>7} {'videos':>6} {'frames':>7} {'seconds':>8} {'frames/s':>9} "
            f"{'efficiency':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        eff = "-" if r.efficiency is None else f"{r.efficiency:.2f}"
        lines.append(f"{r.clips:<14} {r.backend:<7} {r.workers:>7} {r.videos:>6} {r.frames:>7} {r.seconds:>8.1f} "
                     f"{r.fps:>9.1f} {eff:>10}")
    return "\n".join(lines)


# -- streaming memory -----------------------------------------------------------------------------


def _stream_child(spec: str, model: str) -> dict:
    """In a fresh process: track ``spec`` from its first-frame boxes into a MOT file."""
    from attentrack.tracker.base import create_tracker
    from attentrack.tracker.batch.jobs import limit_threads
    from attentrack.tracker.pipeline import run_tracking
    from attentrack.tracker.sinks import MotTxtSink
    from attentrack.tracker.synthetic import SyntheticSource

    limit_threads()
    source = SyntheticSource(spec)
    tracker = create_tracker(model, {"device": "cpu"} if model == "hart" else {})
    with tempfile.TemporaryDirectory(prefix="attentrack-bench-stream-") as tmp:
        summary = run_tracking(source, tracker, [MotTxtSink(Path(tmp) / "out.txt")], init_boxes=source.boxes(0),
                               progress=False)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"frames": summary.frames, "seconds": summary.seconds, "peak_mb": peak_mb}


def measure_stream(frames: int, size: tuple[int, int], objects: int, model: str) -> dict:
    """Peak RSS (MB), frames and seconds of tracking a ``frames``-long synthetic clip in a
    fresh (spawned) interpreter."""
    spec = f"synthetic:frames={frames},size={size[0]}x{size[1]},objects={objects},seed=0"
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        t0 = time.perf_counter()
        result = pool.submit(_stream_child, spec, model).result()
    return {"frames": result["frames"], "seconds": result["seconds"], "peak_mb": result["peak_mb"],
            "fps": result["frames"] / result["seconds"] if result["seconds"] > 0 else 0.0,
            "process_seconds": time.perf_counter() - t0}
