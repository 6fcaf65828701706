"""HOTA on hand-made cases (exact values) and combination of sequences."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.tracker.metrics.hota import ALPHAS, HotaResult, combine_hota, hota_boxes, hota_from_frames

A = np.array([0.0, 0.0, 10.0, 10.0])
B = np.array([100.0, 100.0, 10.0, 10.0])


def _frame(gt_ids, gt_boxes, pred_ids, pred_boxes):
    return (np.asarray(gt_ids, int), np.asarray(gt_boxes, float).reshape(-1, 4),
            np.asarray(pred_ids, int), np.asarray(pred_boxes, float).reshape(-1, 4))


def test_alphas():
    assert len(ALPHAS) == 19
    assert ALPHAS[0] == pytest.approx(0.05) and ALPHAS[-1] == pytest.approx(0.95)


def test_perfect_tracking_is_one():
    frames = [_frame([1, 2], [A + t, B - t], [7, 9], [A + t, B - t]) for t in range(6)]
    r = hota_boxes(frames)
    for v in r.summary().values():
        assert v == pytest.approx(1.0)
    assert r.tp.tolist() == [12] * 19 and r.fn.sum() == 0 and r.fp.sum() == 0


def test_id_swap_lowers_assa_not_deta():
    # prediction 1 follows A for 5 frames then B for 5 frames; prediction 2 the opposite
    frames = [_frame([1, 2], [A, B], [1, 2], [A, B] if t < 5 else [B, A]) for t in range(10)]
    r = hota_boxes(frames)
    assert r.det_a == pytest.approx(1.0)
    # each (gt, pred) pair has 5 matches out of 10 + 10 frames: Jaccard 5 / 15
    assert r.ass_a == pytest.approx(1 / 3)
    assert r.ass_re == pytest.approx(0.5) and r.ass_pr == pytest.approx(0.5)
    assert r.hota == pytest.approx(np.sqrt(1 / 3))


def test_missed_frames_lower_deta_and_assa():
    frames = [_frame([1], [A], [1] if t < 2 else [], [A] if t < 2 else []) for t in range(4)]
    r = hota_boxes(frames)
    assert r.det_a == pytest.approx(0.5)  # TP 2, FN 2
    assert r.ass_a == pytest.approx(0.5)  # 2 matches / (4 gt + 2 pred - 2)
    assert r.det_re == pytest.approx(0.5) and r.det_pr == pytest.approx(1.0)
    assert r.hota == pytest.approx(0.5)


def test_localisation_threshold():
    half = np.array([0.0, 0.0, 10.0, 5.0])  # IoU with A is exactly 0.5
    r = hota_boxes([_frame([1], [A], [1], [half]) for _ in range(3)])
    # matched at alpha 0.05 .. 0.50 (10 of 19 thresholds), unmatched above
    assert r.tp.tolist() == [3] * 10 + [0] * 9
    assert r.hota == pytest.approx(10 / 19)
    # TrackEval's LocA is 1 where there is no TP
    assert r.loc_a == pytest.approx((10 * 0.5 + 9 * 1.0) / 19)


def test_similarity_input_and_empty():
    sim = np.array([[0.9]])
    r = hota_from_frames([(np.array([3]), np.array([4]), sim)] * 2)
    assert r.tp.tolist() == [2] * 18 + [0]  # 0.9 < 0.95
    empty = hota_boxes([_frame([1], [A], [], [])] * 3)
    assert empty.hota == 0.0 and empty.fn.tolist() == [3] * 19
    none = hota_boxes([_frame([], [], [1], [A])])
    assert none.hota == 0.0 and none.fp.tolist() == [1] * 19


def test_combine_weights_by_tp():
    perfect = hota_boxes([_frame([1], [A], [1], [A])] * 6)
    swap = hota_boxes([_frame([1, 2], [A, B], [1, 2], [A, B] if t < 5 else [B, A]) for t in range(10)])
    c = combine_hota([perfect, swap])
    assert c.tp.tolist() == [26] * 19
    assert c.ass_a == pytest.approx((6 * 1 + 20 * (1 / 3)) / 26)
    assert c.hota == pytest.approx(np.sqrt(c.ass_a))
    same = combine_hota([swap])
    assert same.summary() == pytest.approx(swap.summary())
    assert combine_hota([]).tp.sum() == 0 and isinstance(combine_hota([]), HotaResult)
