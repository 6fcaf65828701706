"""Batch offline processing: many videos, one task per video, on a local process pool or
a Ray cluster; resumable (complete videos are skipped), crash-safe (atomic outputs,
failures recorded per video), bounded memory (frames are streamed).

Main entry points: :func:`collect_jobs` (inputs -> jobs), :func:`run_batch`,
:class:`BatchOptions`, the backends ``local`` and ``ray`` (:func:`create_backend`).
"""

from attentrack.tracker.batch.backends import Backend, create_backend
from attentrack.tracker.batch.jobs import FORMATS, BatchOptions, JobResult, VideoJob, job_key, run_job
from attentrack.tracker.batch.local import LocalBackend
from attentrack.tracker.batch.manifest import collect_jobs, expand_input, read_manifest
from attentrack.tracker.batch.ray_cluster import RayBackend
from attentrack.tracker.batch.runner import plan, run_batch
from attentrack.tracker.batch.summary import BatchSummary
from attentrack.tracker.synthetic import SyntheticSource, SyntheticSpec

__all__ = [
    "Backend", "BatchOptions", "BatchSummary", "FORMATS", "JobResult", "LocalBackend", "RayBackend",
    "SyntheticSource", "SyntheticSpec", "VideoJob", "collect_jobs", "create_backend", "expand_input", "job_key",
    "plan", "read_manifest", "run_batch", "run_job",
]
