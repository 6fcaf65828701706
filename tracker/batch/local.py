"""The ``local`` backend: a pool of worker processes on this machine, one process per video.

Processes are forked from a server that has imported torch and OpenCV once, so a new process
starts in milliseconds; one process per video means a crash or a kill costs only that video,
and the parent always knows which video it was.

No worker outlives the batch. A worker asks Linux to send it SIGTERM when its parent (the fork
server) dies, and the fork server ends when the batch process does, however it ends. SIGTERM
makes a worker delete its temporary files and exit. When the batch is stopped (Ctrl-C,
SIGTERM), it stops its workers before it exits; a worker still alive
:data:`~attentrack.tracker.batch.backends.STOP_GRACE_SECONDS` later is killed. A video past
``video_timeout`` is stopped the same way.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait

from attentrack.tracker.atomic import pid_alive
from attentrack.tracker.batch.backends import (
    STOP_GRACE_SECONDS,
    Backend,
    check_limits,
    describe_exit,
    lost_message,
    timeout_message,
)
from attentrack.tracker.batch.jobs import BatchOptions, JobResult, VideoJob, run_job_safely
from attentrack.tracker.registry import TRACKERS
from attentrack.tracker.termination import SIGTERM_STATUS, Terminated, raise_terminated

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux for SIGTERM when this process's parent dies (elsewhere: nothing)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request
        raise Terminated()


def _child(conn, job: VideoJob, options: BatchOptions, out_dir: str, key: str, threads: int) -> None:
    """A worker: runs one video and sends its result; on SIGTERM it deletes its temporary
    files (the sinks abort) and exits with status 143 without a result."""
    signal.signal(signal.SIGTERM, raise_terminated)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the batch, which stops its workers
    try:
        _die_with_parent()
        conn.send(run_job_safely(job, options, out_dir, key, threads))
    except Terminated:
        sys.exit(SIGTERM_STATUS)
    finally:
        conn.close()


@dataclass
class _Running:
    """A worker process at work on task ``index``."""

    index: int
    attempt: int
    proc: mp.Process
    recv: object
    started: float
    stopping: str = ""  # why the batch is stopping it ("" while it runs)


FORK_SERVER_DIED = "worker lost: the process pool's fork server died"


def _fork_server_died() -> bool:
    """Whether this process's multiprocessing fork server has died (False when there is none or
    it cannot be told: the server's PID is multiprocessing's own record of it)."""
    from multiprocessing import forkserver

    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    return pid is not None and not pid_alive(pid)


def stop_processes(procs: list, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every process in ``procs`` (a :class:`multiprocessing.Process` each), wait up to
    ``grace`` seconds for them to end, SIGKILL what is left and wait for it to go."""
    pids = [p.pid for p in procs if p.pid is not None]
    for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        pids = [pid for pid in pids if pid_alive(pid)]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait_s
        while pids and time.monotonic() < deadline:
            time.sleep(0.02)
            pids = [pid for pid in pids if pid_alive(pid)]
        if not pids:
            break
    for p in procs:
        p.join(0.1)


class LocalBackend(Backend):
    """A pool of at most ``workers`` processes on this machine, one process per video.

    Args:
        workers: videos run at once (default: the number of cores).
        retries: times a video whose worker was lost (killed, crashed) is started again.
        video_timeout: stop a video after this many seconds, and fail it (None: no limit).
        cpus_per_video: threads each video's torch and OpenCV use (a whole number).
    """

    backend_id = "local"

    def __init__(self, workers: int | None = None, retries: int = 0, video_timeout: float | None = None,
                 cpus_per_video: float = 1) -> None:
        check_limits(retries, video_timeout, cpus_per_video)
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.retries = int(retries)
        self.video_timeout = video_timeout
        self.threads = max(1, round(cpus_per_video))

    def run(self, tasks, options, out_dir, on_result=None):
        """Run every task in a worker process of its own (see the module docstring)."""
        ctx = mp.get_context("forkserver")
        model = (TRACKERS.target(options.model) or "").partition(":")[0]
        ctx.set_forkserver_preload(["attentrack.tracker.batch.jobs", "torch", "cv2", *([model] if model else [])])
        pending = deque((i, 1) for i in range(len(tasks)))
        running: dict[int, _Running] = {}
        results: list[JobResult | None] = [None] * len(tasks)

        def finish(i: int, result: JobResult) -> None:
            results[i] = result
            if on_result is not None:
                on_result(result)

        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    i, attempt = pending.popleft()
                    started = self._start(ctx, tasks[i], options, out_dir, i, attempt)
                    if isinstance(started, JobResult):
                        finish(i, started)
                    else:
                        running[started.proc.sentinel] = started
                if not running:
                    continue
                for sentinel in wait(list(running), timeout=self._wait_seconds(running.values())):
                    run = running.pop(sentinel)
                    result = self._ended(run, tasks[run.index][0])
                    if result is None:
                        pending.append((run.index, run.attempt + 1))
                    else:
                        finish(run.index, result)
                self._stop_late(running.values())
        finally:
            if running:
                stop_processes([r.proc for r in running.values()])
                for r in running.values():
                    r.recv.close()
        return results

    def _start(self, ctx, task: tuple[VideoJob, str], options: BatchOptions, out_dir, index: int,
               attempt: int) -> _Running | JobResult:
        """A worker for ``task``, or a failed result when none can be started (twice: a fork
        server that died is restarted by the first failure)."""
        job, key = task
        error = ""
        for _ in range(2):
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(send, job, options, str(out_dir), key, self.threads),
                               name=f"attentrack-batch-{job.name}", daemon=True)
            try:
                proc.start()
            except (OSError, EOFError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                recv.close()
                continue
            finally:
                send.close()
            return _Running(index, attempt, proc, recv, time.monotonic())
        return JobResult.failed(job, f"cannot start a worker process: {error}", attempts=attempt)

    def _wait_seconds(self, running) -> float | None:
        """How long to wait for a worker before checking the time limits again."""
        if self.video_timeout is None:
            return None
        now = time.monotonic()
        return max(0.05, min(r.started + self.video_timeout - now if not r.stopping else 0.5 for r in running))

    def _stop_late(self, running) -> None:
        """SIGTERM the workers past the time limit (their sentinels then say they ended)."""
        if self.video_timeout is None:
            return
        now = time.monotonic()
        for r in running:
            if not r.stopping and now - r.started > self.video_timeout:
                r.stopping = timeout_message(self.video_timeout)
                os.kill(r.proc.pid, signal.SIGTERM)
            elif r.stopping and now - r.started > self.video_timeout + STOP_GRACE_SECONDS and pid_alive(r.proc.pid):
                os.kill(r.proc.pid, signal.SIGKILL)

    def _ended(self, run: _Running, job: VideoJob) -> JobResult | None:
        """The result of a worker whose sentinel fired; None when the video is to be retried."""
        try:
            data = run.recv.recv() if run.recv.poll() else None
        except (EOFError, OSError):
            data = None
        run.recv.close()
        if data:
            run.proc.join()
            result = JobResult.from_dict(data)
            result.attempts = run.attempt
            return result
        if run.proc.pid is not None and pid_alive(run.proc.pid):
            # the sentinel fired but the worker lives: its fork server died; no orphan may go on writing
            stop_processes([run.proc])
            reason = FORK_SERVER_DIED
        else:
            run.proc.join(1.0)
            # a worker may also die with its fork server before the batch sees it (a race)
            reason = FORK_SERVER_DIED if _fork_server_died() else describe_exit(run.proc.exitcode)
        if run.stopping:
            return JobResult.failed(job, run.stopping, attempts=run.attempt)
        if run.attempt <= self.retries:
            return None
        return JobResult.failed(job, lost_message(reason, run.attempt), attempts=run.attempt)
