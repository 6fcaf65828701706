"""The result of a batch: one row per video (CSV and JSON), and MOT metrics per video and
combined when ground truth is present (computed as ``attentrack eval mot`` does)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.batch.jobs import FORMATS, JobResult
from attentrack.tracker.metrics.mot import MotEvaluation
from attentrack.tracker.tables import write_csv

#: ground-truth rows with a confidence below this are "ignore" rows (MOTChallenge): a file with no other
#: rows is refused before a batch starts (:func:`attentrack.tracker.batch.runner.check_ground_truth`)
GT_MIN_CONFIDENCE = 1.0
SUMMARY_COLUMNS = ("video", "frames", "seconds", "fps", "tracks", "status", "error", "warnings", "mota", "idf1", "hota")


@dataclass
class BatchSummary:
    """What a batch did.

    Attributes:
        results: one :class:`JobResult` per video, in input order.
        metrics: MOT metrics of the videos with ground truth (``None`` when none has it).
        wall_seconds: wall time of the whole batch, in seconds (start-up included).
    """

    results: list[JobResult] = field(default_factory=list)
    metrics: MotEvaluation | None = None
    wall_seconds: float = 0.0

    @property
    def failed(self) -> list[JobResult]:
        """The results of the videos that failed."""
        return [r for r in self.results if r.status == "failed"]

    @property
    def interrupted(self) -> list[JobResult]:
        """Videos the batch did not finish because it was stopped."""
        return [r for r in self.results if r.status == "interrupted"]

    @property
    def frames_run(self) -> int:
        """Frames tracked in this run (skipped videos excluded)."""
        return sum(r.frames for r in self.results if r.status == "done")

    @property
    def throughput(self) -> float:
        """Frames per second of wall time over all videos run now."""
        return self.frames_run / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def _metric(self, name: str, key: str):
        if self.metrics is None:
            return None
        for row in self.metrics.sequences:
            if row.sequence == name:
                v = getattr(row, key)
                return None if v != v else round(float(v), 6)  # NaN -> None
        return None

    def rows(self) -> list[dict]:
        """One dict per video with :data:`SUMMARY_COLUMNS`."""
        out = []
        for r in self.results:
            out.append({"video": r.name, "frames": r.frames, "seconds": round(r.seconds, 3), "fps": round(r.fps, 2),
                        "tracks": r.tracks, "status": r.status, "error": r.error,
                        "warnings": " | ".join(r.warnings),
                        **{k: self._metric(r.name, k) for k in ("mota", "idf1", "hota")}})
        return out

    def to_dict(self) -> dict:
        """The JSON summary: the rows (with each video's attempts and, for an unexpected failure,
        its whole error in ``details``), counts, timings and metrics."""
        videos = [{**row, "attempts": r.attempts, "details": r.details} for row, r in zip(self.rows(), self.results)]
        return {"videos": videos, "failed": len(self.failed), "interrupted": len(self.interrupted),
                "frames_run": self.frames_run,
                "wall_seconds": round(self.wall_seconds, 3), "throughput_fps": round(self.throughput, 2),
                "metrics": None if self.metrics is None else self.metrics.to_dict()}

    def save(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write ``summary.csv``, ``summary.json`` and (with ground truth) ``metrics.json``
        into ``out_dir``, each atomically; returns their paths."""
        out = Path(out_dir)
        paths = [out / "summary.csv", out / "summary.json"]
        write_csv(paths[0], self.rows(), SUMMARY_COLUMNS)
        with atomic_write(paths[1]) as fh:
            json.dump(self.to_dict(), fh, indent=1)
        if self.metrics is not None:
            paths.append(out / "metrics.json")
            self.metrics.save(paths[-1])
        return paths

    def format_table(self) -> str:
        """The per-video table as text."""
        rows = self.rows()
        w = max(8, *(len(r["video"]) for r in rows))
        head = f"{'video':<{w}} {'frames':>7} {'frames/s':>9} {'tracks':>6} {'status':<8} {'MOTA':>6} {'IDF1':>6}  error"
        lines = [head, "-" * len(head)]
        for r in rows:
            pct = ["-" if r[k] is None else f"{100 * r[k]:.1f}" for k in ("mota", "idf1")]
            lines.append(f"{r['video']:<{w}} {r['frames']:>7} {r['fps']:>9.1f} {r['tracks']:>6} {r['status']:<8} "
                         f"{pct[0]:>6} {pct[1]:>6}  {r['error']}")
        return "\n".join(lines)


def evaluate_results(results: list[JobResult], out_dir: str | os.PathLike) -> MotEvaluation | None:
    """MOT metrics of the finished videos that have ground truth, per video and
    ``COMBINED`` (:func:`attentrack.tracker.metrics.mot.evaluate_mot`, as ``attentrack eval mot``).

    Only the frames each video's run processed are scored (``--max-frames``, or a video
    shorter than its ground truth): the ground truth after them is not counted as missed.
    """
    from attentrack.datasets.mot import read_mot
    from attentrack.tracker.metrics.mot import evaluate_mot

    gt, pred, frames_run = {}, {}, {}
    for r in results:
        if r.gt and r.status in ("done", "skipped"):
            gt[r.name] = read_mot(r.gt)
            pred[r.name] = read_mot(Path(out_dir) / f"{r.name}{FORMATS['mot']}")
            frames_run[r.name] = r.frames
    return evaluate_mot(gt, pred, frames_run=frames_run) if gt else None
