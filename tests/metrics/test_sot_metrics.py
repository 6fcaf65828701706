"""Single-object metrics on hand-made boxes, and run_sot's bookkeeping with fakes and a
tiny OTB folder opened by datasets.sequence."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from attentrack.datasets.sequence import open_sequence
from attentrack.tracker.base import Track, Tracker
from attentrack.tracker.errors import InputError
from attentrack.tracker.metrics.sot import (
    NORM_PRECISION_THRESHOLDS,
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    SotEvaluation,
    SotResult,
    combine_sot,
    format_sot_table,
    normalised_centre_errors,
    precision_curve,
    score_frames,
    sot_scores,
    success_curve,
)
from attentrack.tracker.metrics.sot_runs import evaluate_sot, read_saved_results, run_sot


def test_identity_boxes():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 30]], float)
    ious, errors = sot_scores(boxes, boxes)
    assert ious.tolist() == [1.0, 1.0] and errors.tolist() == [0.0, 0.0]


def test_success_convention():
    # strict "IoU > t" at t = 0, 0.05, ..., 1: perfect tracking fails only at t = 1
    assert len(SUCCESS_THRESHOLDS) == 21
    curve = success_curve(np.ones(5))
    assert curve.tolist() == [1.0] * 20 + [0.0]
    r = SotResult("m", "s", np.ones(5, int), np.arange(2, 7), np.ones(5), np.zeros(5))
    assert r.auc == pytest.approx(20 / 21) and r.mean_iou == 1.0 and r.sr50 == 1.0
    # IoU 0.5 beats t = 0 .. 0.45 (10 thresholds), IoU 1 beats 20, IoU 0 none
    r = SotResult("m", "s", np.ones(3, int), np.arange(3), np.array([0.0, 0.5, 1.0]), np.zeros(3))
    assert r.auc == pytest.approx(10 / 21)
    assert r.sr50 == pytest.approx(1 / 3)  # 0.5 is not > 0.5
    assert math.isnan(success_curve([])[0])


def test_precision_and_missing_prediction():
    gt = np.array([[0, 0, 10, 10]] * 3, float)
    pred = np.array([[20, 0, 10, 10], [20.5, 0, 10, 10], [np.nan] * 4])
    ious, errors = sot_scores(pred, gt)
    assert errors[:2].tolist() == [20.0, 20.5] and math.isinf(errors[2])
    assert ious.tolist() == [0.0, 0.0, 0.0]
    r = SotResult("m", "s", np.ones(3, int), np.arange(3), ious, errors)
    assert r.precision20 == pytest.approx(1 / 3)  # OTB counts error <= 20 px
    with pytest.raises(InputError):
        sot_scores(pred[:2], gt)


class FakeSequence:
    """Frames of ``n`` black images and hand-written ground-truth tracks."""

    def __init__(self, n, tracks, name="fake"):
        self.name, self.n, self._tracks, self.decoded = name, n, tracks, 0

    def frames(self):
        for i in range(self.n):
            self.decoded += 1
            yield i, np.zeros((8, 8, 3), np.uint8)

    def tracks(self, min_length=2):
        return {k: (np.asarray(f), np.asarray(b, float)) for k, (f, b) in self._tracks.items()
                if len(f) >= min_length}


class ShiftTracker(Tracker):
    """Moves every box by ``dx`` pixels per update; records calls (not registered)."""

    def __init__(self, dx=0.0, lose=()):
        super().__init__()
        self.dx, self.lose, self.boxes, self.calls = dx, set(lose), {}, []

    def start(self, frame, boxes):
        ids = self.new_ids(len(boxes))
        self.boxes.update({i: np.asarray(b, float) for i, b in zip(ids, boxes)})
        self.calls.append(("start", ids))
        return ids

    def update(self, frame):
        self.calls.append(("update", sorted(self.boxes)))
        for i in self.boxes:
            self.boxes[i] = self.boxes[i] + [self.dx, 0, 0, 0]
        return [Track(i, b.copy()) for i, b in self.boxes.items() if i not in self.lose]

    def remove(self, track_ids):
        self.calls.append(("remove", sorted(track_ids)))
        for i in track_ids:
            self.boxes.pop(i, None)

    @property
    def track_ids(self):
        return list(self.boxes)


def test_run_sot_follows_overlapping_tracks_in_one_tracker():
    box = [0, 0, 10, 10]
    seq = FakeSequence(8, {
        5: ([1, 2, 3, 4], [box] * 4),
        9: ([3, 4, 6], [box] * 3),  # gap at frame 5: not scored
        2: ([7], [box]),  # too short: left out
    })
    tracker = ShiftTracker()
    r = run_sot(tracker, seq)
    assert tracker.calls == [
        ("start", [1]), ("update", [1]), ("update", [1]), ("start", [2]),
        ("update", [1, 2]), ("remove", [1]), ("update", [2]), ("update", [2]), ("remove", [2]),
    ]
    assert seq.decoded == 6  # stops after the last frame of the last track
    assert r.tracks == 2 and r.object_frames == 6
    assert r.track_ids.tolist() == [5, 5, 5, 9, 9] and r.frames.tolist() == [2, 3, 4, 4, 6]
    assert (r.mean_iou, r.sr50, r.precision20) == (1.0, 1.0, 1.0)
    assert r.auc == pytest.approx(20 / 21)
    assert r.fps > 0 and r.seconds > 0
    assert {k: v.scored_frames for k, v in r.per_track().items()} == {5: 3, 9: 2}


def test_run_sot_scores_drift_and_lost_tracks():
    gt = [[0, 0, 10, 10]] * 3
    r = run_sot(ShiftTracker(dx=5), FakeSequence(3, {1: ([1, 2, 3], gt)}))
    # after 1 update the box is 5 px off (IoU 50/150), after 2 it is 10 px off (IoU 0)
    assert r.ious == pytest.approx([1 / 3, 0.0])
    assert r.centre_errors == pytest.approx([5.0, 10.0])
    lost = run_sot(ShiftTracker(lose={1}), FakeSequence(3, {1: ([1, 2, 3], gt)}))
    assert lost.ious.tolist() == [0.0, 0.0] and lost.precision20 == 0.0
    two = run_sot(ShiftTracker(), FakeSequence(3, {1: ([1, 2, 3], gt), 2: ([1, 2], gt[:2])}),
                  max_tracks=1)
    assert two.tracks == 1


def test_run_sot_errors():
    with pytest.raises(InputError, match="no ground-truth track"):
        run_sot(ShiftTracker(), FakeSequence(3, {1: ([1], [[0, 0, 1, 1]])}))
    with pytest.raises(InputError, match="unknown model"):
        run_sot("no-such-model", FakeSequence(3, {}))


def _otb(tmp_path, n=5):
    """A tiny OTB folder: a bright square moving 1 px per frame to the right."""
    seq = tmp_path / "Square"
    (seq / "img").mkdir(parents=True)
    lines = []
    for i in range(n):
        img = np.zeros((40, 60, 3), np.uint8)
        img[10:20, 10 + i:20 + i] = 255
        cv2.imwrite(str(seq / "img" / f"{i + 1:04d}.jpg"), img)
        lines.append(f"{10 + i},10,10,10")
    (seq / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return seq


def test_static_on_opened_otb_sequence(tmp_path):
    seq = open_sequence(_otb(tmp_path))
    r = run_sot("static", seq)
    assert r.sequence == "Square" and r.model == "static" and r.scored_frames == 4
    # static box vs. a square shifted by k px: IoU = (10 - k) / (10 + k)
    assert r.ious == pytest.approx([(10 - k) / (10 + k) for k in range(1, 5)])
    assert r.centre_errors == pytest.approx([1, 2, 3, 4])


def test_combine_table_and_dicts():
    a = SotResult("m", "A", np.ones(2, int), np.array([2, 3]), np.array([1.0, 0.0]),
                  np.array([0.0, 50.0]), 1, 2, 0.5)
    b = SotResult("m", "B", np.ones(1, int), np.array([2]), np.array([1.0]), np.array([0.0]), 1, 1, 0.5)
    c = combine_sot([a, b])
    assert c.sequence == "all" and c.mean_iou == pytest.approx((0.5 + 1.0) / 2)  # per target, averaged
    assert c.scores("frame").mean_iou == pytest.approx(2 / 3)  # frame-weighted
    assert c.targets.tolist() == [0, 0, 1]  # track 1 of A and track 1 of B are two targets
    assert c.fps == pytest.approx(3.0) and c.tracks == 2
    d = c.to_dict()
    assert {"model", "sequence", "mean_iou", "auc", "sr50", "precision20", "norm_precision", "fps",
            "pooled_mean_iou", "pooled_auc", "pooled_precision20", "pooled_norm_precision"} <= set(d)
    assert d["pooled_mean_iou"] == pytest.approx(2 / 3, abs=1e-6)
    back = SotResult.from_dict(c.to_dict(per_frame=True))
    assert back.to_dict() == d
    with pytest.raises(InputError, match="per_frame"):
        SotResult.from_dict(d)
    other = SotResult("n", "A", np.ones(1, int), np.array([2]), np.array([0.2]), np.array([3.0]), 1, 1, 0.1)
    with pytest.raises(InputError, match="several models"):
        combine_sot([a, other])
    table = format_sot_table([a, b, c, other])
    assert "m" in table.splitlines()[0] and "n" in table.splitlines()[0]
    assert table.splitlines()[3].startswith("A") and table.splitlines()[5].startswith("all")
    ev = SotEvaluation([a, b, c])
    assert ev.models == ["m"] and ev[("m", "all")] is c
    assert SotEvaluation.from_dict(ev.to_dict(per_frame=True)).to_rows() == ev.to_rows()


def test_evaluate_sot_two_models(tmp_path):
    seq = open_sequence(_otb(tmp_path))
    ev = evaluate_sot(["static", "mil"], [seq])
    assert [(r.model, r.sequence) for r in ev.results] == [
        ("static", "Square"), ("static", "all"), ("mil", "Square"), ("mil", "all")]
    assert ev[("mil", "all")].scored_frames == 4


def test_precision_curves_and_normalised_error():
    assert len(PRECISION_THRESHOLDS) == 51 and PRECISION_THRESHOLDS[-1] == 50
    assert len(NORM_PRECISION_THRESHOLDS) == 51 and NORM_PRECISION_THRESHOLDS[-1] == pytest.approx(0.5)
    curve = precision_curve([0.0, 10.0, 30.0, np.inf])
    assert curve[0] == 0.25 and curve[10] == 0.5 and curve[29] == 0.5 and curve[30] == 0.75 and curve[50] == 0.75
    gt = np.array([[0, 0, 10, 20], [0, 0, 10, 20], [0, 0, 10, 20]], float)
    pred = np.array([[3, 4, 10, 20], [5, 0, 10, 20], [np.nan] * 4])
    # centre offsets (3, 4) and (5, 0) px over a 10 x 20 box: (0.3, 0.2) and (0.5, 0)
    assert normalised_centre_errors(pred, gt)[:2] == pytest.approx([np.hypot(0.3, 0.2), 0.5])
    assert math.isinf(normalised_centre_errors(pred, gt)[2])


def test_target_and_frame_averaging():
    # target 0: 3 perfect frames; target 1: 1 frame, lost
    ious, errors, norm = [1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, np.inf], [0.0, 0.0, 0.0, np.inf]
    by_target = score_frames(ious, errors, norm, [0, 0, 0, 1], "target")
    pooled = score_frames(ious, errors, norm, [0, 0, 0, 1], "frame")
    assert (by_target.targets, by_target.frames) == (2, 4)
    assert by_target.mean_iou == 0.5 and pooled.mean_iou == 0.75
    assert by_target.auc == pytest.approx(0.5 * 20 / 21) and pooled.auc == pytest.approx(0.75 * 20 / 21)
    assert by_target.precision20 == 0.5 and pooled.precision20 == 0.75
    assert by_target.norm_precision_auc == 0.5 and pooled.sr50 == 0.75
    # one target: both averagings agree
    one = score_frames(ious[:3], errors[:3], norm[:3], None, "target")
    assert one.summary() == score_frames(ious[:3], errors[:3], norm[:3], None, "frame").summary()
    with pytest.raises(InputError, match="averaging"):
        score_frames(ious, errors, norm, None, "sequence")
    table = format_sot_table([SotResult("m", "s", np.array([1, 1, 1, 2]), np.arange(4), np.array(ious),
                                        np.array(errors), 2, 0, 0.0, np.array(norm))], "frame")
    assert "pooled" in table.splitlines()[-1] and "NPrec" in table.splitlines()[1]


def test_saved_otb_results_score_like_a_run(tmp_path):
    seq = open_sequence(_otb(tmp_path))
    ran = run_sot("static", seq)
    results = tmp_path / "results"
    results.mkdir()
    # what pytracking writes: tab-separated, one line per frame, line 1 the initial box
    (results / "Square.txt").write_text("10\t10\t10\t10\n" * 5)
    saved = read_saved_results("static-saved", results, seq)
    assert saved.ious == pytest.approx(ran.ious) and saved.centre_errors == pytest.approx(ran.centre_errors)
    assert saved.model == "static-saved" and math.isnan(saved.fps)
    (results / "Square.txt").write_text("10,10,10,10\n0,0,0,0\n")  # a lost frame, then the file ends
    short = read_saved_results("s", results, seq)
    assert short.ious.tolist() == [0.0, 0.0, 0.0, 0.0]
    with pytest.raises(InputError, match="Square.txt not found"):
        read_saved_results("s", tmp_path, seq)
    (results / "Square.txt").write_text("10,10,10\n")
    with pytest.raises(InputError, match="Square.txt:1"):
        read_saved_results("s", results, seq)
    (results / "Square.txt").write_text("10,10,10,10\n" * 5)
    ev = evaluate_sot(["static"], [seq], saved={"mine": results})
    assert [(r.model, r.sequence) for r in ev.results] == [
        ("static", "Square"), ("static", "all"), ("mine", "Square"), ("mine", "all")]
    with pytest.raises(InputError, match="names both"):
        evaluate_sot(["static"], [seq], saved={"static": results})


def test_saved_results_of_several_targets(tmp_path):
    box = [0, 0, 10, 10]
    seq = FakeSequence(4, {1: ([1, 2, 3], [box] * 3), 2: ([2, 3, 4], [box] * 3)}, name="Jogging")
    (tmp_path / "Jogging-1.txt").write_text("0,0,10,10\n" * 3)
    with pytest.raises(InputError, match="Jogging-2.txt not found"):
        read_saved_results("t", tmp_path, seq)
    (tmp_path / "Jogging-2.txt").write_text("0,0,10,10\n5,0,10,10\n5,0,10,10\n5,0,10,10\n")
    r = read_saved_results("t", tmp_path, seq)
    assert r.targets.tolist() == [0, 0, 1, 1] and r.ious == pytest.approx([1, 1, 1 / 3, 1 / 3])
    assert r.mean_iou == pytest.approx((1 + 1 / 3) / 2)
