"""TrackEval's MOTChallenge ground-truth rules on hand-made MOT17/MOT20-style files (values
derived by hand from the rules), and parity with the TrackEval package itself."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest

from attentrack.datasets.mot import read_mot
from attentrack.tracker.errors import InputError
from attentrack.tracker.metrics.mot import evaluate_mot_files
from attentrack.tracker.metrics.motchallenge import apply_ground_truth_rules, detect_benchmark, has_classes

FRAMES = 10


def _gt_line(f, i, box, conf, cls, vis=1.0):
    return f"{f},{i},{box[0]},{box[1]},{box[2]},{box[3]},{conf},{cls},{vis}\n"


def _pred_line(f, i, box):
    return f"{f},{i},{box[0]},{box[1]},{box[2]},{box[3]},1,-1,-1,-1\n"


def _write_sequence(root, name, gt_lines, pred_lines):
    """``root/gt/NAME/gt/gt.txt`` and ``root/trk/t/data/NAME.txt`` (TrackEval's layout)."""
    (root / "gt" / name / "gt").mkdir(parents=True)
    (root / "gt" / name / "gt" / "gt.txt").write_text("".join(gt_lines))
    (root / "trk" / "t" / "data").mkdir(parents=True, exist_ok=True)
    (root / "trk" / "t" / "data" / f"{name}.txt").write_text("".join(pred_lines))


def _issue_case(root, name="MOT17-90"):
    """The issue's example: a pedestrian and a class-7 static person, predictions on both."""
    ped = lambda f: (10 + 2 * f, 10, 20, 40)  # noqa: E731
    static = (100, 10, 20, 40)
    gt = [_gt_line(f, 1, ped(f), 1, 1) for f in range(1, FRAMES + 1)]
    gt += [_gt_line(f, 2, static, 1, 7) for f in range(1, FRAMES + 1)]
    pred = [_pred_line(f, 1, ped(f)) for f in range(1, FRAMES + 1)]
    pred += [_pred_line(f, 2, static) for f in range(1, FRAMES + 1)]
    _write_sequence(root, name, gt, pred)


def _mixed_case(root, name="MOT17-91"):
    """Every rule at once (see test_mixed_case for the expected counts)."""
    ped = lambda f: (10 + 2 * f, 10, 20, 40)  # noqa: E731
    static, car, ignored, vehicle = (100, 10, 20, 40), (200, 10, 40, 20), (300, 10, 20, 40), (400, 100, 60, 30)
    gt = [_gt_line(f, 1, ped(f), 1, 1) for f in range(1, FRAMES + 1)]
    gt += [_gt_line(f, 2, static, 0, 7, 0.5) for f in range(1, FRAMES + 1)]  # static person, distractor
    gt += [_gt_line(f, 3, car, 0, 3) for f in range(1, 6)]  # a car: not scored, not a distractor
    gt += [_gt_line(f, 4, ignored, 0, 1) for f in range(1, FRAMES + 1)]  # a zero-marked pedestrian
    gt += [_gt_line(f, 5, vehicle, 0, 6) for f in range(1, 4)]  # non-MOT vehicle: a distractor in MOT20 only
    pred = [_pred_line(f, 1, ped(f)) for f in range(1, FRAMES + 1)]  # 10 TP
    pred += [_pred_line(f, 2, static) for f in range(1, FRAMES + 1)]  # removed
    pred += [_pred_line(f, 3, car) for f in range(1, 6)]  # 5 FP
    pred += [_pred_line(f, 4, ignored) for f in range(1, 5)]  # 4 FP
    pred += [_pred_line(f, 5, (112, 10, 20, 40)) for f in range(1, 3)]  # IoU 0.25 with the static person: 2 FP
    pred += [_pred_line(f, 6, vehicle) for f in range(1, 4)]  # 3 FP in MOT17, removed in MOT20
    _write_sequence(root, name, gt, pred)


def test_issue_example_scores_as_trackeval(tmp_path):
    _issue_case(tmp_path)
    r = evaluate_mot_files(tmp_path / "gt", tmp_path / "trk" / "t" / "data")["MOT17-90"]
    # TrackEval: the static person's prediction is removed and the static person is not scored
    assert (r.benchmark, r.gt_dets, r.pred_dets, r.fp, r.fn, r.idsw) == ("MOT17", 10, 10, 0, 0, 0)
    assert (r.mota, r.idf1, r.hota, r.motp_iou) == pytest.approx((1.0, 1.0, 1.0, 1.0))
    # without the rules (MOT15's), the static person is a pedestrian like any other
    plain = evaluate_mot_files(tmp_path / "gt", tmp_path / "trk" / "t" / "data", benchmark="MOT15")["MOT17-90"]
    assert (plain.benchmark, plain.gt_dets, plain.fp, plain.fn) == ("MOT15", 20, 0, 0)


def test_mixed_case(tmp_path):
    _mixed_case(tmp_path)
    gt, pred = tmp_path / "gt", tmp_path / "trk" / "t" / "data"
    r = evaluate_mot_files(gt, pred)["MOT17-91"]
    # ground truth scored: pedestrian 1 only (10 boxes); predictions: 10 TP, and as FP the car's 5,
    # the zero-marked pedestrian's 4, the 2 that miss the static person and the vehicle's 3
    assert (r.gt_dets, r.gt_ids, r.matches, r.fn, r.fp, r.pred_dets) == (10, 1, 10, 0, 14, 24)
    assert r.mota == pytest.approx((10 - 14) / 10)
    assert r.idf1 == pytest.approx(2 * 10 / (2 * 10 + 14))
    assert r.deta == pytest.approx(10 / 24) and r.assa == pytest.approx(1.0)
    assert r.hota == pytest.approx(math.sqrt(10 / 24))
    # MOT20 (from the sequence name, or asked for) also removes what matches the non-MOT vehicle
    r20 = evaluate_mot_files(gt, pred, benchmark="MOT20")["MOT17-91"]
    assert (r20.benchmark, r20.fp, r20.pred_dets) == ("MOT20", 11, 21)


def test_detection_and_rules_on_rows(tmp_path):
    _mixed_case(tmp_path)
    gt = read_mot(tmp_path / "gt" / "MOT17-91" / "gt" / "gt.txt")
    pred = read_mot(tmp_path / "trk" / "t" / "data" / "MOT17-91.txt")
    assert has_classes(gt) and detect_benchmark("MOT17-91", gt) == "MOT17"
    assert detect_benchmark("MOT20-01", gt) == "MOT20"
    kept_gt, kept_pred = apply_ground_truth_rules("s", gt, pred, "MOT17")
    assert set(kept_gt.ids.tolist()) == {1} and 2 not in set(kept_pred.ids.tolist())
    # 2D MOT 2015 ground truth: world coordinates (or -1) where MOT17 has classes
    mot15 = read_mot(os.path.join(os.path.dirname(pytest.importorskip("motmetrics").__file__),
                                  "data", "TUD-Stadtmitte", "gt.txt"))
    assert not has_classes(mot15) and detect_benchmark("TUD-Stadtmitte", mot15) == "MOT15"
    zero = mot15.select(np.arange(len(mot15)))
    zero.conf[:3] = 0
    assert len(apply_ground_truth_rules("s", zero, pred, "MOT15")[0]) == len(mot15) - 3


def test_rule_errors(tmp_path):
    _issue_case(tmp_path)
    gt_file = tmp_path / "gt" / "MOT17-90" / "gt" / "gt.txt"
    pred_file = tmp_path / "trk" / "t" / "data" / "MOT17-90.txt"
    with pytest.raises(InputError, match="unknown benchmark"):
        evaluate_mot_files(gt_file, pred_file, benchmark="MOT99")
    with pytest.raises(InputError, match="class 14 is not a MOTChallenge class"):
        gt_file.write_text(gt_file.read_text() + _gt_line(1, 9, (0, 0, 5, 5), 1, 14))
        evaluate_mot_files(gt_file, pred_file, benchmark="MOT17")
    _issue_case(tmp_path, "MOT17-92")
    pred_file = tmp_path / "trk" / "t" / "data" / "MOT17-92.txt"
    pred_file.write_text(pred_file.read_text().replace("1,-1,-1,-1", "1,3,-1,-1", 1))
    with pytest.raises(InputError, match="class 3 in column 8"):
        evaluate_mot_files(tmp_path / "gt" / "MOT17-92", pred_file)


def test_frames_run_limits_scoring(tmp_path):
    _issue_case(tmp_path)
    gt, pred = tmp_path / "gt" / "MOT17-90", tmp_path / "trk" / "t" / "data" / "MOT17-90.txt"
    lines = pred.read_text().splitlines(keepends=True)
    pred.write_text("".join(line for line in lines if int(line.split(",")[0]) <= 4))  # a run of 4 frames
    whole = evaluate_mot_files(gt, pred)["MOT17-90"]
    assert (whole.fn, whole.recall) == (6, pytest.approx(0.4))
    run = evaluate_mot_files(gt, pred, max_frames=4)["MOT17-90"]
    assert (run.fn, run.gt_dets, run.recall, run.mota) == (0, 4, 1.0, 1.0)


# -- parity with the TrackEval package -------------------------------------------------------


def _trackeval(root, seqs, benchmark):
    """TrackEval's COMBINED and per-sequence results for the tracker ``t`` under ``root``."""
    trackeval = pytest.importorskip("trackeval")
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(root / "gt"), "TRACKERS_FOLDER": str(root / "trk"), "BENCHMARK": benchmark,
        "SKIP_SPLIT_FOL": True, "SEQ_INFO": seqs, "TRACKERS_TO_EVAL": ["t"], "PRINT_CONFIG": False,
        "OUTPUT_FOLDER": str(root / "out")})
    evaluator = trackeval.Evaluator({
        "USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False, "OUTPUT_SUMMARY": False,
        "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "TIME_PROGRESS": False, "DISPLAY_LESS_PROGRESS": True,
        "LOG_ON_ERROR": None})
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
               trackeval.metrics.Identity({"PRINT_CONFIG": False})]
    out, _ = evaluator.evaluate([dataset], metrics)
    return {k: v["pedestrian"] for k, v in out["MotChallenge2DBox"]["t"].items()}


def _assert_parity(ours, theirs):
    hota, clear, ident = theirs["HOTA"], theirs["CLEAR"], theirs["Identity"]
    for name, field in (("HOTA", "hota"), ("DetA", "deta"), ("AssA", "assa"), ("LocA", "loca")):
        assert getattr(ours, field) == pytest.approx(float(np.mean(hota[name])), abs=1e-9), name
    for name, field in (("MOTA", "mota"), ("MOTP", "motp_iou"), ("CLR_Re", "recall"), ("CLR_Pr", "precision")):
        assert getattr(ours, field) == pytest.approx(float(clear[name]), abs=1e-9), name
    for name, field in (("CLR_FP", "fp"), ("CLR_FN", "fn"), ("IDSW", "idsw"), ("MT", "mt"), ("PT", "pt"),
                        ("ML", "ml"), ("Frag", "frag")):
        assert getattr(ours, field) == int(clear[name]), name
    for name, field in (("IDF1", "idf1"), ("IDP", "idp"), ("IDR", "idr")):
        assert getattr(ours, field) == pytest.approx(float(ident[name]), abs=1e-9), name


# (not named ``benchmark``: pytest-benchmark, where installed, owns a fixture of that name)
@pytest.mark.parametrize("suite", ["MOT17", "MOT20"])
def test_parity_with_trackeval_on_mot17_style_files(tmp_path, suite):
    _issue_case(tmp_path, f"{suite}-90")
    _mixed_case(tmp_path, f"{suite}-91")
    theirs = _trackeval(tmp_path, {f"{suite}-90": FRAMES, f"{suite}-91": FRAMES}, suite)
    ours = evaluate_mot_files(tmp_path / "gt", tmp_path / "trk" / "t" / "data")
    assert [r.benchmark for r in ours.rows] == [suite] * 3
    for seq in (f"{suite}-90", f"{suite}-91"):
        _assert_parity(ours[seq], theirs[seq])
    _assert_parity(ours["COMBINED"], theirs["COMBINED_SEQ"])


def test_parity_with_trackeval_on_mot15_files(tmp_path):
    mm_data = os.path.join(os.path.dirname(pytest.importorskip("motmetrics").__file__), "data")
    seqs = {}
    for s in ("TUD-Campus", "TUD-Stadtmitte"):
        (tmp_path / "gt" / s / "gt").mkdir(parents=True)
        (tmp_path / "trk" / "t" / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy(f"{mm_data}/{s}/gt.txt", tmp_path / "gt" / s / "gt" / "gt.txt")
        shutil.copy(f"{mm_data}/{s}/test.txt", tmp_path / "trk" / "t" / "data" / f"{s}.txt")
        seqs[s] = int(max(read_mot(f"{mm_data}/{s}/{f}.txt").frames.max() for f in ("gt", "test")))
    theirs = _trackeval(tmp_path, seqs, "MOT15")
    ours = evaluate_mot_files(tmp_path / "gt", tmp_path / "trk" / "t" / "data")
    for seq in seqs:
        _assert_parity(ours[seq], theirs[seq])
    _assert_parity(ours["COMBINED"], theirs["COMBINED_SEQ"])
