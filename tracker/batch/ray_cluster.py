"""The ``ray`` backend: one Ray task per video, on a Ray cluster (``pip install 'attentrack[ray]'``).

What a real cluster needs, and what this backend does about it:

* **The code.** With ``code="ship"`` (the default for a cluster) the driver's attentrack is
  copied and shipped to the workers as Ray's ``py_modules``, so nodes need only the
  dependencies (torch, OpenCV, ...), as with Ray Client or KubeRay. With ``code="installed"``
  every node must have attentrack installed. Either way a check task on every node compares
  its attentrack with the driver's (version and a fingerprint of the code) before any video
  starts, and a mismatch is one line naming the node.
* **Storage.** Inputs are read and outputs written by the workers, in place: every node must
  see the inputs and the output folder at the same paths as the driver (a shared file
  system). The check task verifies that too (a probe file in the output folder, the input
  paths), so a node without the share fails the batch before any work instead of every video
  failing.
* **Lost nodes.** A video whose worker or node is lost (preemption, a crash, Ray's memory
  monitor) is resubmitted up to ``retries`` times: outputs are atomic and keyed, so a retry
  never sees a half-written file.
* **Resources.** Each task asks for ``cpus_per_video`` CPUs and ``gpus_per_video`` GPUs;
  fractions share a device (``gpus_per_video=0.25``: four videos per GPU).
* **Errors.** A task's error comes back whole (Ray's remote traceback) in the result's
  ``details``; worker output (warnings, crashes) is forwarded to the driver's terminal unless
  ``worker_logs`` is off.
* **Time limit.** A task reports when it starts; ``video_timeout`` seconds later it is
  cancelled (then forced), and the video fails.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from attentrack.tracker.atomic import make_folder
from attentrack.tracker.batch.backends import (
    STOP_GRACE_SECONDS,
    Backend,
    check_limits,
    lost_message,
    timeout_message,
)
from attentrack.tracker.batch.jobs import STATE_DIR, BatchOptions, JobResult, VideoJob, run_job_safely
from attentrack.tracker.batch.shipping import code_fingerprint, installed_version, stage_package
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import TRACKERS
from attentrack.tracker.termination import raise_if_terminated, reclaim_sigterm

#: ``code`` choices: how the workers get attentrack
CODE_CHOICES = ("auto", "ship", "installed")
#: seconds the nodes get to answer the check before the batch gives up
CHECK_SECONDS = 300.0
#: what a task yields first, as soon as it runs
STARTED = "started"
#: a task that ``ray.wait`` called ready had nothing to read after all
NOT_YET = "not yet"
#: longest wait for a ready task's next item (seconds): a task cancelled at its time limit ends
#: its stream at once but runs on until it stops, and reading its result must not block the
#: loop that forces it after the grace
READ_SECONDS = 0.5
#: longest wait for any task before the loop checks the time limits and whether the batch was
#: told to stop (a SIGTERM whose interrupt a Ray call caught)
WAIT_SECONDS = 0.5


def run_video(job: VideoJob, options: BatchOptions, out_dir: str, key: str, threads: int):
    """A Ray task (a generator): yields :data:`STARTED`, then the result dict of
    :func:`~attentrack.tracker.batch.jobs.run_job_safely`."""
    yield STARTED
    yield run_job_safely(job, options, out_dir, key, threads)


def node_report(probe: str, paths: list[str]) -> dict:
    """What a node sees (the check task): its host, its attentrack (version, code fingerprint,
    folder), whether the probe file in the output folder is visible, and which ``paths`` are missing."""
    import socket

    import attentrack

    return {"host": socket.gethostname(), "version": installed_version(), "fingerprint": code_fingerprint(),
            "package": str(Path(attentrack.__file__).parent), "probe": os.path.exists(probe),
            "missing": [p for p in paths if not os.path.exists(p)]}


def _whole(exc: BaseException) -> str:
    """A Ray error's whole text (its remote traceback included), without terminal colours."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()


def _next_ref(gen, timeout: float):
    """The reference of a streaming task's next item, or None when none comes within
    ``timeout`` seconds (Ray's own bounded read where this Ray has one; raises StopIteration
    at the end of the stream, as ``next`` does)."""
    read = getattr(gen, "_next_sync", None)
    if read is None:
        return next(gen)
    ref = read(timeout_s=timeout)
    return None if ref.is_nil() else ref


def _first_line(exc: BaseException) -> str:
    """The line of a Ray error that says what went wrong (its last)."""
    lines = [ln for ln in _whole(exc).splitlines() if ln.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


@dataclass
class _InFlight:
    """A submitted task: its generator, task index, attempt and when it started running."""

    index: int
    attempt: int
    started: float | None = None
    cancelled: float | None = None
    why: str = ""


def _local_paths(tasks: list[tuple[VideoJob, str]]) -> list[str]:
    """The input files and folders of ``tasks`` that the driver sees (not streams, synthetic
    clips or glob patterns): every node must see them too. A missing input fails its video alone."""
    paths = []
    for job, _ in tasks:
        for p in (job.source, job.gt):
            if p and os.path.isabs(p) and not any(ch in p for ch in "*?[") and os.path.exists(p):
                paths.append(p)
    return sorted(set(paths))


def verify_reports(reports: list[dict], nodes: list[str], out_dir: Path, mine: tuple[str, str]) -> None:
    """Check the nodes' :func:`node_report` answers against the driver's ``(version, fingerprint)``:
    the same code (by fingerprint; the version is only shown), the output folder, the inputs.

    Raises:
        InputError: a node with other attentrack code, or one that does not see the output
            folder or an input (one line naming the node).
    """
    for node, r in zip(nodes, reports):
        where = f"Ray node {r['host']} ({node})"
        if r["fingerprint"] != mine[1]:  # the code itself: a shipped copy has no installed version
            raise InputError(f"{where} runs other attentrack code than this driver (version {r['version']} at "
                             f"{r['package']}, driver {mine[0]}): install the same version, or use --ray-code ship")
        if not r["probe"]:
            raise InputError(f"{where} does not see the output folder {out_dir}: the ray backend needs the "
                             "inputs and outputs on a file system shared by every node (docs/batch.md)")
        if r["missing"]:
            raise InputError(f"{where} does not see {len(r['missing'])} input(s), e.g. {r['missing'][0]}: the "
                             "ray backend needs the inputs on a file system shared by every node (docs/batch.md)")


class RayBackend(Backend):
    """The videos as Ray tasks (see the module docstring).

    Args:
        address: ``auto`` (the cluster this machine belongs to, as ``ray start`` set up),
            ``ray://HOST:PORT`` (Ray Client), ``HOST:PORT``, or ``local`` (start a
            private Ray on this machine with ``workers`` CPUs). Ignored when Ray is
            already initialised in this process.
        workers: CPUs of a ``local`` Ray.
        retries: times a video whose worker or node was lost is submitted again.
        video_timeout: cancel a video this many seconds after it started, and fail it (None: no limit).
        cpus_per_video: CPUs each task reserves (fractions allowed); its torch and OpenCV use
            that many threads (at least 1).
        gpus_per_video: GPUs each task reserves (fractions share a GPU); None: 1 when the model
            runs on CUDA (``device=cuda``, or ``auto`` on a cluster with GPUs), else 0.
        code: ``ship`` (send this attentrack to the workers), ``installed`` (use the one installed
            on each node), or ``auto`` (``installed`` for a ``local`` Ray, else ``ship``).
        worker_logs: forward the workers' output to this terminal.
    """

    backend_id = "ray"

    def __init__(self, address: str = "auto", workers: int | None = None, retries: int = 1,
                 video_timeout: float | None = None, cpus_per_video: float = 1.0,
                 gpus_per_video: float | None = None, code: str = "auto", worker_logs: bool = True) -> None:
        check_limits(retries, video_timeout, cpus_per_video)
        if gpus_per_video is not None and (gpus_per_video < 0 or (gpus_per_video > 1 and gpus_per_video % 1)):
            raise InputError(f"GPUs per video must be >= 0, a fraction or a whole number; got {gpus_per_video}")
        if code not in CODE_CHOICES:
            raise InputError(f"code must be one of {', '.join(CODE_CHOICES)}; got {code!r}")
        self.address = address or "auto"
        self._started = False
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.retries = int(retries)
        self.video_timeout = video_timeout
        self.cpus_per_video = float(cpus_per_video)
        self.gpus_per_video = gpus_per_video
        self.code = code
        self.worker_logs = bool(worker_logs)
        #: what each node reported in the last run's start-up check (:func:`node_report`)
        self.node_reports: list[dict] = []

    @property
    def ships_code(self) -> bool:
        """Whether this attentrack is shipped to the workers (else the installed one is used)."""
        return self.code == "ship" or (self.code == "auto" and self.address != "local")

    def connect(self):
        """Import Ray and initialise it unless it is (then :meth:`run` shuts it down at the end),
        shipping this attentrack to the workers when :attr:`ships_code`.

        Raises:
            InputError: Ray is not installed, no cluster answers at ``address``, or ``code="ship"``
                with Ray already initialised in this process (code is shipped when Ray starts).
        """
        try:
            import ray
        except ImportError:
            raise InputError("the ray backend needs Ray: pip install 'attentrack[ray]'") from None
        if ray.is_initialized():
            if self.code == "ship" and not (ray.get_runtime_context().runtime_env or {}).get("py_modules"):
                raise InputError("Ray is already initialised in this process without attentrack in its py_modules: "
                                 "let the batch start Ray, or use code=installed")
            return ray
        with tempfile.TemporaryDirectory(prefix="attentrack-ray-code-") as staging:
            env = {"py_modules": [str(stage_package(staging))]} if self.ships_code else None
            try:
                if self.address == "local":
                    ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=self.worker_logs,
                             runtime_env=env)
                else:
                    ray.init(address=self.address, log_to_driver=self.worker_logs, runtime_env=env)
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError ...
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise InputError(f"cannot connect to a Ray cluster at {self.address!r}: {first} "
                                 "(start one with `ray start --head`, or use --address local)") from None
        reclaim_sigterm()  # Ray's own SIGTERM handler would end the driver without stopping the tasks
        self._started = True
        return ray

    def _gpus(self, ray, options: BatchOptions) -> float:
        if self.gpus_per_video is not None:
            if self.gpus_per_video > 0 and not ray.cluster_resources().get("GPU", 0):
                warnings.warn(f"the Ray cluster has no GPU now: tasks asking for {self.gpus_per_video:g} GPU "
                              "wait until a GPU node joins", stacklevel=2)
            return float(self.gpus_per_video)
        if "device" not in {p.name for p in TRACKERS.params(options.model)}:
            return 0
        device = options.device.lower()
        if device.startswith("cuda"):
            return 1
        return 1 if device == "auto" and ray.cluster_resources().get("GPU", 0) > 0 else 0

    def run(self, tasks, options, out_dir, on_result=None):
        """Check every node, then run each task as a Ray task (see the module docstring)."""
        ray = self.connect()
        try:
            self.node_reports = self.check_nodes(ray, Path(out_dir), _local_paths(tasks))
            remote = ray.remote(run_video).options(
                num_returns="streaming", num_cpus=self.cpus_per_video, num_gpus=self._gpus(ray, options),
                max_retries=0)
            return self._run_tasks(ray, remote, tasks, options, str(out_dir), on_result)
        finally:
            if self._started:
                ray.shutdown()
                reclaim_sigterm()  # ray.shutdown leaves SIGTERM's default action: a second one would end us silently
                self._started = False

    def check_nodes(self, ray, out_dir: Path, paths: list[str]) -> list[dict]:
        """Run :func:`node_report` on every alive node; returns the reports.

        Raises:
            InputError: a node that cannot import attentrack, runs other code than this driver,
                does not see the output folder or an input, or does not answer in
                :data:`CHECK_SECONDS`.
        """
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        probe = make_folder(out_dir / STATE_DIR) / f"probe-{uuid.uuid4().hex}"
        probe.write_text("attentrack batch: is this folder shared with every node?\n")
        try:
            nodes = [n for n in ray.nodes() if n.get("Alive")]
            check = ray.remote(node_report)
            refs = {check.options(num_cpus=0, scheduling_strategy=
                                  NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(str(probe), paths):
                    n.get("NodeManagerAddress", n["NodeID"]) for n in nodes}
            try:
                reports = ray.get(list(refs), timeout=CHECK_SECONDS)
            except ray.exceptions.GetTimeoutError:
                raise InputError(f"the Ray nodes did not answer the start-up check within {CHECK_SECONDS:g} s") from None
            except ray.exceptions.RayError as exc:
                how = "shipped with --ray-code ship" if self.ships_code else "installed on every node (or --ray-code ship)"
                raise InputError(f"a Ray node cannot run attentrack ({how}): {_first_line(exc)}") from None
        finally:
            probe.unlink(missing_ok=True)
        verify_reports(reports, list(refs.values()), out_dir, (installed_version(), code_fingerprint()))
        return reports

    def _run_tasks(self, ray, remote, tasks, options, out_dir: str, on_result) -> list:
        threads = max(1, int(self.cpus_per_video))
        results: list[JobResult | None] = [None] * len(tasks)
        flying: dict = {}

        def submit(i: int, attempt: int) -> None:
            job, key = tasks[i]
            flying[remote.remote(job, options, out_dir, key, threads)] = _InFlight(i, attempt)

        for i in range(len(tasks)):
            submit(i, 1)
        try:
            while flying:
                ready, _ = ray.wait(list(flying), num_returns=1, timeout=WAIT_SECONDS)
                raise_if_terminated()  # a SIGTERM whose interrupt a Ray call caught and carried on from
                for gen in ready:
                    task = flying[gen]
                    kind, result = self._next(ray, gen, task, tasks[task.index][0])
                    if kind in (STARTED, NOT_YET):
                        continue
                    del flying[gen]
                    if kind == "retry":
                        submit(task.index, task.attempt + 1)
                        continue
                    results[task.index] = result
                    if on_result is not None:
                        on_result(result)
                self._cancel_late(ray, flying)
        finally:
            self._cancel_all(ray, flying)
        return results

    def _next(self, ray, gen, task: _InFlight, job: VideoJob) -> tuple[str, JobResult | None]:
        """Read the next item of a ready task: ``(STARTED, None)`` when it just started (its
        time limit begins), ``(NOT_YET, None)`` when nothing came after all, ``("retry", None)``
        when its worker was lost and it may run again, else ``("done", result)``."""
        try:
            ref = _next_ref(gen, READ_SECONDS)
            if ref is None:
                return NOT_YET, None
            value = ray.get(ref)
        except StopIteration:
            return "done", JobResult.failed(job, "ray task ended without a result", attempts=task.attempt)
        except ray.exceptions.RayError as exc:
            if task.cancelled is not None:
                return "done", JobResult.failed(job, task.why, attempts=task.attempt)
            if isinstance(exc, ray.exceptions.RayTaskError):  # the task's own error: retrying repeats it
                return "done", JobResult.failed(job, f"ray task failed: {_first_line(exc)}", details=_whole(exc),
                                                attempts=task.attempt)
            if task.attempt <= self.retries:
                return "retry", None
            reason = f"ray worker lost: {type(exc).__name__}: {_first_line(exc)}"
            return "done", JobResult.failed(job, lost_message(reason, task.attempt), details=_whole(exc),
                                            attempts=task.attempt)
        if value == STARTED:
            task.started = time.monotonic()
            return STARTED, None
        result = JobResult.from_dict(value)
        result.attempts = task.attempt
        return "done", result

    def _cancel_late(self, ray, flying: dict) -> None:
        """Cancel the tasks past the time limit; force those that did not stop within the grace."""
        if self.video_timeout is None:
            return
        now = time.monotonic()
        for gen, task in flying.items():
            if task.started is not None and task.cancelled is None and now - task.started > self.video_timeout:
                task.cancelled, task.why = now, timeout_message(self.video_timeout)
                ray.cancel(gen)
            elif task.cancelled is not None and now - task.cancelled > STOP_GRACE_SECONDS:
                ray.cancel(gen, force=True)

    def _cancel_all(self, ray, flying: dict) -> None:
        """Stop every task still in flight (the batch was stopped, or failed): cancel them (a
        task then deletes its temporary files), and force those still running after the grace."""
        for gen in flying:
            ray.cancel(gen)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        waiting = list(flying)
        while waiting and time.monotonic() < deadline:
            ready, waiting = ray.wait(waiting, num_returns=len(waiting), timeout=0.2)
            for gen in ready:
                try:
                    ref = _next_ref(gen, READ_SECONDS)
                    if ref is None or ray.get(ref) == STARTED:
                        waiting.append(gen)  # it runs on (or said it started): its end is still to come
                except (StopIteration, ray.exceptions.RayError):
                    pass  # it ended
        for gen in waiting:
            ray.cancel(gen, force=True)
