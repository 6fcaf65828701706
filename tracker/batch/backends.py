"""Where the videos of a batch run: the backend interface and its registry.

A backend takes ``(job, key)`` pairs and returns one :class:`JobResult` per job. A video
is one task; its frames are processed in order inside that task (stateful trackers need
it). A task that raises gives a ``failed`` result with the reason; a worker that is lost
(it crashed, was killed, or its node went away) is started again up to ``retries`` times,
which is safe because outputs are written atomically under names keyed by the video; a video
that runs longer than ``video_timeout`` seconds is stopped and fails. The other tasks go on.
When the batch itself is stopped (Ctrl-C, SIGTERM), every worker is stopped before
:meth:`Backend.run` re-raises.

The built-in backends: ``local`` (:class:`attentrack.tracker.batch.local.LocalBackend`, a process
pool on this machine) and ``ray`` (:class:`attentrack.tracker.batch.ray_cluster.RayBackend`).
Adding a backend is one class: subclass :class:`Backend` and set ``backend_id``.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, ClassVar

from attentrack.tracker.batch.jobs import BatchOptions, JobResult, VideoJob
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import BACKENDS

#: called with each result as soon as its video ends
ResultCallback = Callable[[JobResult], None]
#: seconds a stopped worker gets to clean up (delete its temporary files) before it is killed
STOP_GRACE_SECONDS = 5.0


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


def describe_exit(code: int | None) -> str:
    """Why a worker process ended without a result, from its exit code (negative: a signal)."""
    if code is not None and code < 0:
        try:
            return f"worker killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with status {code} without a result"


def timeout_message(seconds: float) -> str:
    """The error of a video stopped at the per-video time limit."""
    return f"stopped after the time limit of {seconds:g} s (--video-timeout)"


def lost_message(reason: str, attempts: int) -> str:
    """The error of a video whose worker was lost ``attempts`` times."""
    return reason if attempts == 1 else f"{reason} (lost on each of {attempts} attempts)"


def check_limits(retries: int, video_timeout: float | None, cpus_per_video: float) -> None:
    """Check the settings every backend takes.

    Raises:
        InputError: negative retries, or a time limit or CPU share that is not positive.
    """
    if int(retries) != retries or retries < 0:
        raise InputError(f"retries must be a whole number >= 0, got {retries}")
    if video_timeout is not None and not video_timeout > 0:
        raise InputError(f"the per-video time limit must be positive seconds, got {video_timeout}")
    if not cpus_per_video > 0:
        raise InputError(f"CPUs per video must be positive, got {cpus_per_video}")


def create_backend(name: str, workers: int | None = None, address: str = "auto", **settings) -> Backend:
    """A backend by id (``local``, ``ray`` or one from the ``attentrack.backends`` entry points).

    Args:
        name: the backend's id.
        workers: videos at once (backends that take it).
        address: where the cluster is (backends that take one).
        **settings: further constructor options (``retries``, ``video_timeout``,
            ``cpus_per_video``, ``gpus_per_video``, ``code``, ``worker_logs`` ...); ``None``
            values keep the backend's default.

    Raises:
        InputError: an unknown backend, or a setting it does not take.
    """
    cls = BACKENDS.get(name)
    takes = {p.name for p in BACKENDS.params(name)}
    given = {k: v for k, v in settings.items() if v is not None}
    refused = sorted(set(given) - takes)
    if refused:
        raise InputError(f"the {name} backend does not take --{refused[0].replace('_', '-')}")
    fixed = {k: v for k, v in (("workers", workers), ("address", address)) if k in takes}
    return cls(**fixed, **given)
