"""Evaluation: multi-object (CLEAR MOT, IDF1, HOTA) and single-object (OTB-style) metrics.

* :mod:`attentrack.tracker.metrics.mot` — :func:`evaluate_mot`, :func:`evaluate_mot_files` ->
  :class:`MotEvaluation`.
* :mod:`attentrack.tracker.metrics.hota` — HOTA as TrackEval computes it.
* :mod:`attentrack.tracker.metrics.sot` — :func:`run_sot` runs a tracker on ground-truth tracks
  and scores it (mean IoU, success AUC, SR50, precision at 20 px, frames/s).
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
    combine_sot,
    evaluate_sot,
    format_sot_table,
    run_sot,
    sot_scores,
    success_curve,
)

__all__ = [
    "ALPHAS", "HotaResult", "combine_hota", "hota_boxes", "hota_from_frames",
    "MotEvaluation", "MotMetrics", "evaluate_mot", "evaluate_mot_files", "iou_distance",
    "pair_mot_files",
    "SotEvaluation", "SotResult", "combine_sot", "evaluate_sot", "format_sot_table",
    "run_sot", "sot_scores", "success_curve",
]
