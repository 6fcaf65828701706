"""The local backend under faults: a per-video time limit, retries of lost workers, a killed fork
server, a stopped batch (summary so far, no worker left, a rerun resumes), whole errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from attentrack.tracker.atomic import partial_owner, pid_alive
from attentrack.tracker.batch import BatchOptions, JobResult, LocalBackend, VideoJob, run_batch
from attentrack.tracker.batch.backends import create_backend
from attentrack.tracker.errors import InputError

STATIC = BatchOptions(model="static")
LONG = "synthetic:frames=1000000,size=64x48,objects=1,seed={}"
SHORT = "synthetic:frames=30,size=64x48,objects=1,seed={}"


def _job(name: str, source: str) -> VideoJob:
    return VideoJob(name, source, ((5.0, 5.0, 10.0, 10.0),))


def _writer_pids(out: Path) -> list[int]:
    return [partial_owner(p)[1] for p in out.glob(".*.partial-*")] if out.exists() else []


def _when_writing(out: Path, act, name: str = "") -> threading.Thread:
    """A thread that calls ``act(pid)`` once a worker writes a temporary file (of video ``name``) in ``out``."""
    def watch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            files = list(out.glob(f".{name}*.partial-*")) if out.exists() else []
            if files:
                time.sleep(0.3)
                act(partial_owner(files[0])[1])
                return
            time.sleep(0.01)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_backend_settings_are_checked():
    with pytest.raises(InputError, match="does not take --gpus-per-video"):
        create_backend("local", gpus_per_video=0.5)
    with pytest.raises(InputError, match="time limit"):
        create_backend("local", video_timeout=0)
    with pytest.raises(InputError, match="retries"):
        create_backend("local", retries=-1)
    b = create_backend("local", workers=2, retries=2, video_timeout=30, cpus_per_video=2)
    assert (b.workers, b.retries, b.video_timeout, b.threads) == (2, 2, 30, 2)


def test_unexpected_errors_keep_their_traceback(monkeypatch, tmp_path):
    from attentrack.tracker.batch import jobs

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(jobs, "run_job", broken)
    result = JobResult.from_dict(jobs.run_job_safely(_job("a", SHORT.format(0)), STATIC, str(tmp_path), "k"))
    assert result.error == "RuntimeError: a bug" and "Traceback" in result.details and "broken" in result.details


@pytest.mark.slow
def test_time_limit_stops_the_video_and_cleans_up(tmp_path):
    out = tmp_path / "out"
    jobs = [_job("long", LONG.format(0)), _job("short", SHORT.format(1))]
    summary = run_batch(jobs, STATIC, out, LocalBackend(2, video_timeout=2))
    status = {r.name: (r.status, r.error) for r in summary.results}
    assert status["long"] == ("failed", "stopped after the time limit of 2 s (--video-timeout)")
    assert status["short"][0] == "done"
    assert not list(out.glob(".*partial*")) and not (out / "long.txt").exists()


@pytest.mark.slow
def test_a_lost_worker_is_retried(tmp_path):
    out = tmp_path / "out"
    jobs = [_job("a", "synthetic:frames=20000,size=64x48,objects=1,seed=2")]
    killer = _when_writing(out, lambda pid: os.kill(pid, signal.SIGKILL))
    summary = run_batch(jobs, STATIC, out, LocalBackend(1, retries=1))
    killer.join()
    (result,) = summary.results
    assert (result.status, result.attempts, result.frames) == ("done", 2, 20000)
    assert not list(out.glob(".*partial*"))


@pytest.mark.slow
def test_a_killed_fork_server_leaves_no_orphan(tmp_path):
    from attentrack.tools.faults import _forkservers

    out = tmp_path / "out"
    jobs = [_job("long", "synthetic:frames=100000,size=64x48,objects=1,seed=3"), _job("next", SHORT.format(4))]
    seen = []

    def kill_server(worker: int) -> None:
        seen.append(worker)
        for pid in _forkservers(os.getpid()):
            os.kill(pid, signal.SIGKILL)

    killer = _when_writing(out, kill_server, "long")
    summary = run_batch(jobs, STATIC, out, LocalBackend(1))
    killer.join()
    status = {r.name: (r.status, r.error) for r in summary.results}
    # which is seen first is a race: the orphaned worker is stopped by the batch, or it has
    # already died with its fork server (status 255); either way the fork server is named
    assert status["long"] == ("failed", "worker lost: the process pool's fork server died")
    assert status["next"][0] == "done"  # a new fork server ran the queued video
    assert seen and not pid_alive(seen[0]) and not list(out.glob(".*partial*"))


@pytest.mark.slow
def test_a_stopped_batch_stops_its_workers_writes_its_summary_and_resumes(tmp_path):
    out = tmp_path / "out"
    jobs = [_job("first", SHORT.format(5)), _job("second", "synthetic:frames=20000,size=64x48,objects=1,seed=6"),
            _job("third", SHORT.format(7))]
    writers = []

    def stop_after_first(result):
        writers.extend(_writer_pids(out))
        if result.name == "first":
            time.sleep(0.5)
            writers.extend(_writer_pids(out))
            raise KeyboardInterrupt  # as Ctrl-C or SIGTERM (Terminated) would, here

    with pytest.raises(KeyboardInterrupt):
        run_batch(jobs, STATIC, out, LocalBackend(2), on_result=stop_after_first)
    rows = {r["video"]: r for r in json.loads((out / "summary.json").read_text())["videos"]}
    assert rows["first"]["status"] == "done" and rows["second"]["status"] == "interrupted"
    assert not any(pid_alive(pid) for pid in writers) and not list(out.glob(".*partial*"))
    assert not (out / "second.txt").exists()
    again = run_batch(jobs, STATIC, out, LocalBackend(2))
    assert {r.name: r.status for r in again.results} == {"first": "skipped", "second": "done", "third": "done"}


def test_files_of_a_worker_that_died_unstopped_are_removed(tmp_path):
    """A worker that dies with its fork server is never stopped, so it cannot abort its outputs:
    the batch removes the partial files of every failed video whose writer is gone (a race the
    fork-server test above hits now and then)."""
    from attentrack.tracker.atomic import node_name
    from attentrack.tracker.batch.backends import Backend

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "out"

    class DiesUnstopped(Backend):
        def run(self, tasks, options, out_dir, on_result=None):
            results = []
            for job, _ in tasks:
                (out_dir / f".{job.name}.partial-{node_name()}-{dead.pid}.txt").write_text("1,1,")
                results.append(JobResult.failed(job, "worker exited with status 255 without a result"))
                on_result(results[-1])
            return results

    summary = run_batch([_job("long", SHORT.format(1))], STATIC, out, DiesUnstopped())
    assert summary.results[0].status == "failed"
    assert not list(out.glob(".*partial*"))


def test_a_stopped_batch_removes_what_its_killed_workers_left(tmp_path):
    """Stopping a batch (Ctrl-C, SIGTERM) cancels its workers, which delete their own files; one
    killed after the grace (or whose interrupt was lost) cannot: the batch removes the partial
    files of its unfinished videos once their writers are gone (the ray-batch-sigterm fault case
    left them once, 2026-12-08), waiting a little for a writer still dying."""
    from attentrack.tracker.atomic import node_name
    from attentrack.tracker.batch.backends import Backend

    out = tmp_path / "out"
    dying = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])

    class KilledWorkers(Backend):
        def run(self, tasks, options, out_dir, on_result=None):
            for job, _ in tasks:
                (out_dir / f".{job.name}.partial-{node_name()}-{dying.pid}.txt").write_text("1,1,")
            raise KeyboardInterrupt  # the batch is stopped; the worker is still dying

    with pytest.raises(KeyboardInterrupt):
        run_batch([_job("long", SHORT.format(1))], STATIC, out, KilledWorkers())
    dying.wait()
    assert not list(out.glob(".*partial*"))
    assert json.loads((out / "summary.json").read_text())["videos"][0]["status"] == "interrupted"


def test_the_death_of_the_fork_server_is_told():
    """A worker that died before the batch saw it is put down to its fork server when that has
    died too (so the message names the fork server whichever is seen first)."""
    import multiprocessing as mp
    from multiprocessing import forkserver

    from attentrack.tracker.batch.local import _fork_server_died

    worker = mp.get_context("forkserver").Process(target=time.sleep, args=(0.01,))
    worker.start()
    worker.join()
    assert not _fork_server_died()
    os.kill(forkserver._forkserver._forkserver_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while not _fork_server_died() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _fork_server_died()
