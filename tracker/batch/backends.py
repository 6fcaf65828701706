"""Where the videos of a batch run: a local process pool or a Ray cluster.

A backend takes ``(job, key)`` pairs and returns one :class:`JobResult` per job. A video
is one task; its frames are processed in order inside that task (stateful trackers need
it). A task that raises, or a worker that crashes or is killed, gives a ``failed`` result
with the reason; the other tasks go on.

Adding a backend is one class: subclass :class:`Backend` and set ``backend_id``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from abc import ABC, abstractmethod
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable, ClassVar

from attentrack.tracker.batch.jobs import BatchOptions, JobResult, VideoJob, run_job_safely
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import BACKENDS, TRACKERS

#: called with each result as soon as its video ends
ResultCallback = Callable[[JobResult], None]


class Backend(ABC):
    """Runs the videos of a batch; subclasses with a ``backend_id`` register themselves."""

    backend_id: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        BACKENDS.register_subclass(cls)

    @abstractmethod
    def run(self, tasks: list[tuple[VideoJob, str]], options: BatchOptions, out_dir: Path,
            on_result: ResultCallback | None = None) -> list[JobResult]:
        """Run every ``(job, key)`` task; results in the order of ``tasks``."""


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"worker killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with status {code} without a result"


def _child(conn, job: VideoJob, options: BatchOptions, out_dir: str, key: str) -> None:
    try:
        conn.send(run_job_safely(job, options, out_dir, key))
    finally:
        conn.close()


class LocalBackend(Backend):
    """A pool of at most ``workers`` processes on this machine, one process per video.

    Processes are forked from a server that has imported torch and OpenCV once, so a new
    process starts in milliseconds; one process per video means a crash or a kill costs
    only that video, and the parent always knows which video it was.

    Args:
        workers: videos run at once (default: the number of cores).
    """

    backend_id = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))

    def run(self, tasks, options, out_dir, on_result=None):
        ctx = mp.get_context("forkserver")
        model = (TRACKERS.target(options.model) or "").partition(":")[0]
        ctx.set_forkserver_preload(["attentrack.tracker.batch.jobs", "torch", "cv2", *([model] if model else [])])
        pending = deque(enumerate(tasks))
        running: dict[int, tuple[int, mp.Process, object]] = {}
        results: list[JobResult | None] = [None] * len(tasks)
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    i, (job, key) = pending.popleft()
                    recv, send = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_child, args=(send, job, options, str(out_dir), key),
                                       name=f"attentrack-batch-{job.name}", daemon=True)
                    proc.start()
                    send.close()
                    running[proc.sentinel] = (i, proc, recv)
                for sentinel in wait(list(running)):
                    i, proc, recv = running.pop(sentinel)
                    job = tasks[i][0]
                    try:
                        data = recv.recv() if recv.poll() else None
                    except (EOFError, OSError):
                        data = None
                    recv.close()
                    proc.join()
                    result = JobResult.from_dict(data) if data else JobResult.failed(job, _describe_exit(proc.exitcode))
                    results[i] = result
                    if on_result is not None:
                        on_result(result)
        finally:
            for _, proc, recv in running.values():
                proc.terminate()
            for _, proc, recv in running.values():
                proc.join(5)
                recv.close()
        return results


class RayBackend(Backend):
    """The same tasks on a Ray cluster (``pip install 'attentrack[ray]'``).

    Each video is a Ray task asking for one CPU, and one GPU when the model runs on CUDA
    (``device=cuda``, or ``auto`` on a cluster that has GPUs). Tasks are not retried: a
    crashed worker is reported as a failed video, as with the local backend. Input and
    output paths must be visible to every node (a shared file system).

    Args:
        address: ``auto`` (the cluster this machine belongs to, as ``ray start`` set up),
            ``ray://HOST:PORT`` (Ray Client), ``HOST:PORT``, or ``local`` (start a
            private Ray on this machine with ``workers`` CPUs). Ignored when Ray is
            already initialised in this process.
        workers: CPUs of a ``local`` Ray.
    """

    backend_id = "ray"

    def __init__(self, address: str = "auto", workers: int | None = None) -> None:
        self.address = address or "auto"
        self._started = False
        self.workers = max(1, int(workers or os.cpu_count() or 1))

    def connect(self):
        """Import Ray and initialise it unless it is (then :meth:`run` shuts it down at the end).

        Raises:
            InputError: Ray is not installed, or no cluster answers at ``address``.
        """
        try:
            import ray
        except ImportError:
            raise InputError("the ray backend needs Ray: pip install 'attentrack[ray]'") from None
        if ray.is_initialized():
            return ray
        try:
            if self.address == "local":
                ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=self.address, log_to_driver=False)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError ...
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"cannot connect to a Ray cluster at {self.address!r}: {first} "
                             "(start one with `ray start --head`, or use --address local)") from None
        self._started = True
        return ray

    def _gpus(self, ray, options: BatchOptions) -> float:
        if "device" not in {p.name for p in TRACKERS.params(options.model)}:
            return 0
        device = options.device.lower()
        if device.startswith("cuda"):
            return 1
        return 1 if device == "auto" and ray.cluster_resources().get("GPU", 0) > 0 else 0

    def run(self, tasks, options, out_dir, on_result=None):
        ray = self.connect()
        try:
            remote = ray.remote(run_job_safely).options(
                num_cpus=1, num_gpus=self._gpus(ray, options), max_retries=0)
            refs = {remote.remote(job, options, str(out_dir), key): i for i, (job, key) in enumerate(tasks)}
            results: list[JobResult | None] = [None] * len(tasks)
            waiting = list(refs)
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                i = refs[done[0]]
                try:
                    result = JobResult.from_dict(ray.get(done[0]))
                except ray.exceptions.RayError as exc:
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    result = JobResult.failed(tasks[i][0], f"ray task failed: {type(exc).__name__}: {first}")
                results[i] = result
                if on_result is not None:
                    on_result(result)
            return results
        finally:
            if self._started:
                ray.shutdown()
                self._started = False


def create_backend(name: str, workers: int | None = None, address: str = "auto") -> Backend:
    """A backend by id (``local``, ``ray`` or one from the ``attentrack.backends`` entry points);
    ``address`` goes to backends that take one."""
    cls = BACKENDS.get(name)
    takes = {p.name for p in BACKENDS.params(name)}
    return cls(workers=workers, **({"address": address} if "address" in takes else {}))
