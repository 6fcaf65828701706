"""Evaluation: multi-object (CLEAR MOT, IDF1, HOTA) and single-object (OTB-style) metrics.

* :mod:`attentrack.tracker.metrics.mot` — :func:`evaluate_mot`, :func:`evaluate_mot_files` ->
  :class:`MotEvaluation`.
* :mod:`attentrack.tracker.metrics.hota` — HOTA as TrackEval computes it.
* :mod:`attentrack.tracker.metrics.motchallenge` — TrackEval's MOTChallenge ground-truth rules.
* :mod:`attentrack.tracker.metrics.sot` — single-object scores (success AUC, precision,
  normalised precision, mean IoU), averaged over targets (OTB) or pooled over frames.
* :mod:`attentrack.tracker.metrics.sot_runs` — :func:`run_sot` runs a tracker on ground-truth
  tracks, :func:`read_saved_results` reads OTB-format result files; both give a :class:`SotResult`.
* :mod:`attentrack.tracker.metrics.plots` — success/precision plots and MOT bar charts (matplotlib).
"""

from attentrack.tracker.metrics.hota import ALPHAS, HotaResult, combine_hota, hota_boxes, hota_from_frames
from attentrack.tracker.metrics.mot import (
    MotEvaluation,
    MotMetrics,
    evaluate_mot,
    evaluate_mot_files,
    iou_distance,
    pair_mot_files,
)
from attentrack.tracker.metrics.sot import (
    SotEvaluation,
    SotResult,
    SotScores,
    combine_sot,
    format_sot_table,
    precision_curve,
    sot_scores,
    success_curve,
)
from attentrack.tracker.metrics.sot_runs import evaluate_sot, read_saved_results, run_sot

__all__ = [
    "ALPHAS", "HotaResult", "combine_hota", "hota_boxes", "hota_from_frames",
    "MotEvaluation", "MotMetrics", "evaluate_mot", "evaluate_mot_files", "iou_distance",
    "pair_mot_files",
    "SotEvaluation", "SotResult", "SotScores", "combine_sot", "evaluate_sot", "format_sot_table",
    "precision_curve", "read_saved_results", "run_sot", "sot_scores", "success_curve",
]
