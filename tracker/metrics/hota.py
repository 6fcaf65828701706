"""HOTA: Higher Order Tracking Accuracy (Luiten et al., IJCV 2021).

This follows TrackEval's ``trackeval/metrics/hota.py`` (``eval_sequence``,
``combine_sequences``, ``_compute_final_fields``) so that the numbers agree with the
MOTChallenge server:

1. Similarity is the IoU of a ground-truth box and a predicted box.
2. **Global alignment.** Over the whole sequence, every pair (ground-truth id ``i``,
   predicted id ``j``) collects a soft match count: in each frame the similarity is
   normalised as ``S / (row_sum + col_sum - S)``, and these values are summed into
   ``potential[i, j]``. The alignment score is
   ``A[i, j] = potential / (n_gt[i] + n_pred[j] - potential)``, where ``n_gt`` and
   ``n_pred`` count the frames in which each id is present.
3. **Matching.** In each frame, the Hungarian algorithm maximises ``A * S`` (pairs with
   ``S < eps`` score 0). For every localisation threshold ``alpha`` in
   :data:`ALPHAS` (0.05, 0.10, ..., 0.95) the matched pairs with ``S >= alpha`` are true
   positives (TP); unmatched ground truth is a false negative (FN), unmatched
   predictions false positives (FP).
4. **Per alpha.** ``DetA = TP / (TP + FN + FP)``; with ``c[i, j]`` the number of TP
   between ids ``i`` and ``j``,
   ``AssA = sum over TP of c / (n_gt + n_pred - c) / TP``
   (``AssRe`` and ``AssPr`` divide by ``n_gt`` and ``n_pred`` alone);
   ``LocA`` is the mean similarity of the TP; ``HOTA = sqrt(DetA * AssA)``.
5. The reported values are means over the 19 alphas.

Sequences are combined as TrackEval does: TP, FN and FP are summed, AssA, AssRe, AssPr
and LocA are averaged weighted by each sequence's TP (per alpha), and DetA and HOTA are
recomputed from the combined values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from attentrack.tracker.boxes import iou_matrix

#: the 19 localisation thresholds 0.05, 0.10, ..., 0.95
ALPHAS = np.round(np.arange(1, 20) * 0.05, 2)
_EPS = np.finfo(float).eps


@dataclass
class HotaResult:
    """HOTA counts and scores of one sequence (or a combination), per alpha.

    Every array has shape ``(19,)``, one entry per threshold of :data:`ALPHAS`. The
    properties without ``_alpha`` are the means over alphas (the reported numbers).

    Attributes:
        tp: true positives (matched boxes with IoU >= alpha).
        fn: false negatives (ground-truth boxes left unmatched).
        fp: false positives (predicted boxes left unmatched).
        ass_a_alpha: association accuracy.
        ass_re_alpha: association recall.
        ass_pr_alpha: association precision.
        loc_a_alpha: localisation accuracy, the mean IoU of the true positives.
    """

    tp: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    fn: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    fp: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    ass_a_alpha: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    ass_re_alpha: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    ass_pr_alpha: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    loc_a_alpha: np.ndarray = field(default_factory=lambda: np.ones(len(ALPHAS)))

    # -- per alpha ---------------------------------------------------------------------
    @property
    def det_a_alpha(self) -> np.ndarray:
        """``(19,)`` detection accuracy ``TP / (TP + FN + FP)``."""
        return self.tp / np.maximum(1.0, self.tp + self.fn + self.fp)

    @property
    def det_re_alpha(self) -> np.ndarray:
        """``(19,)`` detection recall ``TP / (TP + FN)``."""
        return self.tp / np.maximum(1.0, self.tp + self.fn)

    @property
    def det_pr_alpha(self) -> np.ndarray:
        """``(19,)`` detection precision ``TP / (TP + FP)``."""
        return self.tp / np.maximum(1.0, self.tp + self.fp)

    @property
    def hota_alpha(self) -> np.ndarray:
        """``(19,)`` ``sqrt(DetA * AssA)``."""
        return np.sqrt(self.det_a_alpha * self.ass_a_alpha)

    # -- means over alpha --------------------------------------------------------------
    @property
    def hota(self) -> float:
        """HOTA, mean over alphas, in ``[0, 1]``."""
        return float(np.mean(self.hota_alpha))

    @property
    def det_a(self) -> float:
        """DetA, mean over alphas."""
        return float(np.mean(self.det_a_alpha))

    @property
    def ass_a(self) -> float:
        """AssA, mean over alphas."""
        return float(np.mean(self.ass_a_alpha))

    @property
    def det_re(self) -> float:
        """DetRe, mean over alphas."""
        return float(np.mean(self.det_re_alpha))

    @property
    def det_pr(self) -> float:
        """DetPr, mean over alphas."""
        return float(np.mean(self.det_pr_alpha))

    @property
    def ass_re(self) -> float:
        """AssRe, mean over alphas."""
        return float(np.mean(self.ass_re_alpha))

    @property
    def ass_pr(self) -> float:
        """AssPr, mean over alphas."""
        return float(np.mean(self.ass_pr_alpha))

    @property
    def loc_a(self) -> float:
        """LocA, mean over alphas."""
        return float(np.mean(self.loc_a_alpha))

    def summary(self) -> dict[str, float]:
        """The reported scores: ``hota, deta, assa, loca, detre, detpr, assre, asspr``."""
        return {
            "hota": self.hota, "deta": self.det_a, "assa": self.ass_a, "loca": self.loc_a,
            "detre": self.det_re, "detpr": self.det_pr, "assre": self.ass_re,
            "asspr": self.ass_pr,
        }


FrameData = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One frame: ground-truth ids ``(n,)``, predicted ids ``(m,)``, similarity ``(n, m)``."""


def hota_from_frames(frames: Sequence[FrameData]) -> HotaResult:
    """HOTA of one sequence from per-frame ids and similarities.

    Args:
        frames: one ``(gt_ids, pred_ids, similarity)`` per frame: ``gt_ids`` ``(n,)`` and
            ``pred_ids`` ``(m,)`` are any integer ids (unique within the frame),
            ``similarity`` ``(n, m)`` in ``[0, 1]`` (IoU for boxes). The list is read
            twice, so pass a list, not a generator.

    Returns:
        the per-alpha counts and scores.
    """
    frames = list(frames)
    res = HotaResult()
    n_alpha = len(ALPHAS)
    gt_dets = sum(len(g) for g, _, _ in frames)
    pr_dets = sum(len(p) for _, p, _ in frames)
    if gt_dets == 0 or pr_dets == 0:  # TrackEval's early returns: LocA stays 1
        res.fn = np.full(n_alpha, float(gt_dets))
        res.fp = np.full(n_alpha, float(pr_dets))
        return res

    # ids -> contiguous indices
    gt_uni, gt_idx = _index_ids([g for g, _, _ in frames])
    pr_uni, pr_idx = _index_ids([p for _, p, _ in frames])
    sims = [np.asarray(s, dtype=np.float64).reshape(len(g), len(p)) for g, p, s in frames]

    potential = np.zeros((len(gt_uni), len(pr_uni)))
    gt_count = np.zeros((len(gt_uni), 1))
    pr_count = np.zeros((1, len(pr_uni)))
    for gi, pi, sim in zip(gt_idx, pr_idx, sims):
        denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
        norm = np.zeros_like(sim)
        ok = denom > _EPS
        norm[ok] = sim[ok] / denom[ok]
        potential[gi[:, None], pi[None, :]] += norm
        gt_count[gi] += 1
        pr_count[0, pi] += 1
    alignment = potential / (gt_count + pr_count - potential)

    matches = np.zeros((n_alpha, len(gt_uni), len(pr_uni)))
    loc_sum = np.zeros(n_alpha)
    for gi, pi, sim in zip(gt_idx, pr_idx, sims):
        if len(gi) == 0 or len(pi) == 0:
            res.fn += len(gi)
            res.fp += len(pi)
            continue
        score = alignment[gi[:, None], pi[None, :]] * sim
        score[sim < _EPS] = 0.0
        rows, cols = linear_sum_assignment(-score)
        matched_sim = sim[rows, cols]
        for a, alpha in enumerate(ALPHAS):
            keep = matched_sim >= alpha - _EPS
            n = int(keep.sum())
            res.tp[a] += n
            res.fn[a] += len(gi) - n
            res.fp[a] += len(pi) - n
            if n:
                loc_sum[a] += matched_sim[keep].sum()
                matches[a, gi[rows[keep]], pi[cols[keep]]] += 1

    tp = np.maximum(1.0, res.tp)
    for a in range(n_alpha):
        c = matches[a]
        res.ass_a_alpha[a] = np.sum(c * c / np.maximum(1.0, gt_count + pr_count - c)) / tp[a]
        res.ass_re_alpha[a] = np.sum(c * c / np.maximum(1.0, gt_count)) / tp[a]
        res.ass_pr_alpha[a] = np.sum(c * c / np.maximum(1.0, pr_count)) / tp[a]
    res.loc_a_alpha = np.maximum(1e-10, loc_sum) / np.maximum(1e-10, res.tp)
    return res


def _index_ids(id_lists: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Map the ids of every frame to indices into their sorted union."""
    arrays = [np.asarray(a, dtype=np.int64).reshape(-1) for a in id_lists]
    uni = np.unique(np.concatenate(arrays)) if arrays else np.zeros(0, np.int64)
    return uni, [np.searchsorted(uni, a) for a in arrays]


def hota_boxes(frames: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> HotaResult:
    """HOTA from boxes: the similarity is their IoU.

    Args:
        frames: one ``(gt_ids, gt_boxes, pred_ids, pred_boxes)`` per frame; ids ``(n,)``
            and ``(m,)``, boxes ``(n, 4)`` and ``(m, 4)`` ``x, y, w, h`` in pixels.
    """
    return hota_from_frames(
        [(gi, pi, iou_matrix(gb, pb)) for gi, gb, pi, pb in frames]
    )


def combine_hota(results: Sequence[HotaResult]) -> HotaResult:
    """Combine sequences as TrackEval's ``combine_sequences`` does.

    TP, FN and FP are summed; AssA, AssRe, AssPr and LocA are averaged per alpha,
    weighted by each sequence's TP. DetA and HOTA follow from the combined values.
    """
    out = HotaResult()
    if not results:
        return out
    out.tp = np.sum([r.tp for r in results], axis=0)
    out.fn = np.sum([r.fn for r in results], axis=0)
    out.fp = np.sum([r.fp for r in results], axis=0)
    weight = np.maximum(1.0, out.tp)
    out.ass_a_alpha = np.sum([r.ass_a_alpha * r.tp for r in results], axis=0) / weight
    out.ass_re_alpha = np.sum([r.ass_re_alpha * r.tp for r in results], axis=0) / weight
    out.ass_pr_alpha = np.sum([r.ass_pr_alpha * r.tp for r in results], axis=0) / weight
    loc = np.sum([r.loc_a_alpha * r.tp for r in results], axis=0)
    out.loc_a_alpha = np.maximum(1e-10, loc) / np.maximum(1e-10, out.tp)
    return out
