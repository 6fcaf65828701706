"""Running a batch: skip what is complete, run the rest on a backend, summarise."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from attentrack.tracker.atomic import make_folder, partial_files, partial_owner, remove_stale_partials
from attentrack.tracker.batch.backends import STOP_GRACE_SECONDS, Backend
from attentrack.tracker.batch.jobs import BatchOptions, JobResult, VideoJob, _weights_identity, completed_result, job_key
from attentrack.tracker.batch.local import LocalBackend
from attentrack.tracker.batch.summary import GT_MIN_CONFIDENCE, BatchSummary, evaluate_results


def plan(jobs: list[VideoJob], options: BatchOptions, out_dir: str | os.PathLike,
         resume: bool = True) -> tuple[list[tuple[VideoJob, str]], dict[str, JobResult]]:
    """Split ``jobs`` into tasks to run and results of complete ones.

    Returns:
        ``([(job, key), ...] to run, {name: skipped result})``; with ``resume=False``
        everything is run.
    """
    weights = _weights_identity(options)
    todo, done = [], {}
    for job in jobs:
        key = job_key(job, options, weights)
        prior = completed_result(job, key, Path(out_dir)) if resume else None
        if prior is not None:
            done[job.name] = prior
        else:
            todo.append((job, key))
    return todo, done


def run_batch(jobs: list[VideoJob], options: BatchOptions, out_dir: str | os.PathLike,
              backend: Backend | None = None, resume: bool = True,
              on_result: Callable[[JobResult], None] | None = None, evaluate: bool = True) -> BatchSummary:
    """Run every job not already complete, then write ``summary.csv``, ``summary.json``
    and (with ground truth) ``metrics.json`` into ``out_dir``.

    A batch that is stopped (Ctrl-C, SIGTERM: ``KeyboardInterrupt``) stops its workers, writes
    the summary so far (the videos it did not finish are ``interrupted``) and re-raises; a
    rerun does the unfinished ones.

    Args:
        jobs: the videos (names unique).
        options: model and outputs, the same for every video.
        out_dir: output folder (created).
        backend: where to run (default: a local pool with one worker per core).
        resume: skip videos whose outputs are complete for the same key.
        on_result: called with each result as it arrives (skipped ones first).
        evaluate: compute MOT metrics for videos with ground truth.

    Raises:
        InputError: the output folder cannot be created, or a ground-truth file is malformed
            or empty (checked before any video runs).
    """
    if evaluate:
        check_ground_truth(jobs)
    out = make_folder(out_dir)
    t0 = time.perf_counter()
    todo, done = plan(jobs, options, out, resume)
    arrived = dict(done)
    if on_result is not None:
        for r in done.values():
            on_result(r)

    def collect(result: JobResult) -> None:
        arrived[result.name] = result
        if result.status == "failed":  # a worker that died unstopped (with its fork server) left its files
            remove_stale_partials(out, result.name)
        if on_result is not None:
            on_result(result)

    try:
        if todo:
            (backend or LocalBackend()).run(todo, options, out, collect)
    except KeyboardInterrupt:
        _remove_partials_of_stopped([j.name for j in jobs if j.name not in arrived], out)
        results = [arrived.get(j.name) or JobResult.interrupted(j) for j in jobs]
        BatchSummary(results, wall_seconds=time.perf_counter() - t0).save(out)
        raise
    results = [arrived[j.name] for j in jobs]
    summary = BatchSummary(results, wall_seconds=time.perf_counter() - t0)
    if evaluate:
        summary.metrics = evaluate_results(results, out)
    summary.save(out)
    return summary


def _remove_partials_of_stopped(names: list[str], out: Path, wait: float = STOP_GRACE_SECONDS) -> None:
    """Delete the temporary files that the stopped videos ``names`` left in ``out``: a worker
    cancelled or stopped deletes its own, but one killed after the grace (or at a moment its
    interrupt was lost) cannot. Files of workers still alive are waited for (they may still be
    dying) up to ``wait`` seconds, then left (a rerun deletes them)."""
    deadline = time.monotonic() + wait
    while True:
        for name in names:
            remove_stale_partials(out, name)
        left = [p for name in names for p in partial_files(out, name)
                if (partial_owner(p) or ("", os.getpid()))[1] != os.getpid()]  # (this process's own: not waited for)
        if not left or time.monotonic() >= deadline:
            return
        time.sleep(0.1)


def check_ground_truth(jobs: list[VideoJob]) -> None:
    """Read every job's ground truth once, before any video runs.

    Raises:
        InputError: a missing, malformed or empty ground-truth file (the message names the
            file and line).
    """
    from attentrack.tracker.metrics.mot import read_ground_truth

    for path in dict.fromkeys(j.gt for j in jobs if j.gt):
        read_ground_truth(path, min_confidence=GT_MIN_CONFIDENCE)
