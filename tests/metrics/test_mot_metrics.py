"""CLEAR MOT, identity and HOTA metrics: golden values on motmetrics' TUD data, pairing of
files, and hand-made cases."""

from __future__ import annotations

import math
import os
import shutil
import warnings

import numpy as np
import pytest

from attentrack.datasets.mot import MotRows, read_mot
from attentrack.tracker.errors import InputError
from attentrack.tracker.metrics.mot import (
    MotEvaluation,
    evaluate_mot,
    evaluate_mot_files,
    iou_distance,
    pair_mot_files,
)

mm = pytest.importorskip("motmetrics")
MM_DATA = os.path.join(os.path.dirname(mm.__file__), "data")
SEQS = ("TUD-Campus", "TUD-Stadtmitte")

# motmetrics' own numbers (its test suite) and TrackEval's HOTA on the same files
GOLDEN = {
    "TUD-Campus": {"mota": 0.526462, "idf1": 0.557659, "motp": 0.277201, "hota": 0.3914},
    "TUD-Stadtmitte": {"mota": 0.564014, "idf1": 0.644619, "hota": 0.3978},
    "COMBINED": {"mota": 0.555116, "idf1": 0.624296, "hota": 0.4000, "deta": 0.3977, "assa": 0.4124},
}


def _loadtxt_rows(path: str) -> MotRows:
    """A file loaded as motmetrics' ``mot15-2D`` format does, as MotRows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 deprecation inside motmetrics.io
        df = mm.io.loadtxt(path, fmt="mot15-2D")
    frames = df.index.get_level_values(0).to_numpy(int)
    ids = df.index.get_level_values(1).to_numpy(int)
    boxes = df[["X", "Y", "Width", "Height"]].to_numpy(float)
    conf = df["Confidence"].to_numpy(float)
    return MotRows(frames, ids, boxes, conf, np.full((len(df), 3), -1.0))


def _check_golden(ev: MotEvaluation) -> None:
    for name, want in GOLDEN.items():
        row = ev[name]
        for key, value in want.items():
            assert getattr(row, key) == pytest.approx(value, abs=1e-3), (name, key)


@pytest.fixture(scope="module")
def golden_eval():
    gt = {s: _loadtxt_rows(f"{MM_DATA}/{s}/gt.txt") for s in SEQS}
    pred = {s: _loadtxt_rows(f"{MM_DATA}/{s}/test.txt") for s in SEQS}
    return evaluate_mot(gt, pred)


def test_golden_motmetrics_loader(golden_eval):
    _check_golden(golden_eval)
    c = golden_eval["TUD-Campus"]
    assert (c.fp, c.fn, c.idsw, c.frag, c.mt, c.pt, c.ml, c.gt_ids) == (13, 150, 7, 7, 1, 6, 1, 8)
    assert [r.sequence for r in golden_eval.rows] == [*SEQS, "COMBINED"]


def test_golden_read_mot():
    gt = {s: read_mot(f"{MM_DATA}/{s}/gt.txt") for s in SEQS}
    pred = {s: read_mot(f"{MM_DATA}/{s}/test.txt") for s in SEQS}
    _check_golden(evaluate_mot(gt, pred))


def test_golden_from_folders(tmp_path):
    # a MOTChallenge-style GT folder (SEQ/gt/gt.txt) and a folder of SEQ.txt predictions
    for s in SEQS:
        (tmp_path / "gt" / s / "gt").mkdir(parents=True)
        shutil.copy(f"{MM_DATA}/{s}/gt.txt", tmp_path / "gt" / s / "gt" / "gt.txt")
        (tmp_path / "pred").mkdir(exist_ok=True)
        shutil.copy(f"{MM_DATA}/{s}/test.txt", tmp_path / "pred" / f"{s}.txt")
    (tmp_path / "pred" / "other.txt").write_text("")  # extra files are ignored
    _check_golden(evaluate_mot_files(tmp_path / "gt", tmp_path / "pred"))
    one = evaluate_mot_files(tmp_path / "gt" / "TUD-Campus" / "gt" / "gt.txt",
                             tmp_path / "pred" / "TUD-Campus.txt")
    assert [r.sequence for r in one.sequences] == ["TUD-Campus"]
    assert one["TUD-Campus"].mota == pytest.approx(GOLDEN["TUD-Campus"]["mota"], abs=1e-3)


def test_pairing(tmp_path):
    gt = tmp_path / "gt"
    gt.mkdir()
    for s in ("A", "B", "C"):
        (gt / f"{s}.txt").write_text("1,1,0,0,5,5,1,-1,-1,-1\n")
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "B.txt").write_text("1,1,0,0,5,5,1,-1,-1,-1\n")
    with pytest.raises(InputError, match=r"2 sequence\(s\): A.txt, C.txt"):
        pair_mot_files(gt, pred)
    (pred / "A.txt").write_text("")
    (pred / "C.txt").write_text("")
    assert [p[0] for p in pair_mot_files(gt, pred)] == ["A", "B", "C"]
    with pytest.raises(InputError, match="one file"):
        pair_mot_files(gt, pred / "A.txt")
    with pytest.raises(InputError, match="not found"):
        pair_mot_files(tmp_path / "nope", pred)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no ground truth"):
        pair_mot_files(tmp_path / "empty", pred)


def _rows(table):
    a = np.asarray(table, dtype=float).reshape(-1, 6)
    return MotRows(a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2:6], np.ones(len(a)),
                   np.full((len(a), 3), -1.0))


def test_perfect_and_swapped():
    gt = _rows([[f, i, 10 + 50 * i + f, 20, 30, 40] for f in range(1, 6) for i in (1, 2)])
    perfect = evaluate_mot({"s": gt}, {"s": gt})["s"]
    assert (perfect.mota, perfect.idf1, perfect.hota, perfect.motp) == pytest.approx((1, 1, 1, 0))
    assert (perfect.fp, perfect.fn, perfect.idsw, perfect.mt) == (0, 0, 0, 2)
    swapped = gt.ids.copy()
    swapped[gt.frames >= 4] = 3 - swapped[gt.frames >= 4]
    pred = MotRows(gt.frames, swapped, gt.boxes, gt.conf, gt.extra)
    r = evaluate_mot({"s": gt}, {"s": pred})["s"]
    assert r.idsw == 2 and r.deta == pytest.approx(1.0) and r.assa < 1 and r.idf1 < 1


def test_empty_prediction_and_json():
    gt = _rows([[1, 1, 0, 0, 10, 10], [2, 1, 1, 0, 10, 10]])
    ev = evaluate_mot({"s": gt}, {"s": MotRows.empty()})
    r = ev["s"]
    assert (r.fn, r.fp, r.mota, r.hota) == (2, 0, 0.0, 0.0)
    assert math.isnan(r.motp)
    d = ev.to_dict()
    assert d["sequences"][0]["motp"] is None and d["overall"]["sequence"] == "COMBINED"
    assert MotEvaluation.from_dict(d).to_dict() == d
    assert "COMBINED" in ev.format_table() and '"mota"' in ev.to_json()


def test_input_errors():
    gt = _rows([[1, 1, 0, 0, 10, 10], [1, 1, 5, 5, 10, 10]])
    with pytest.raises(InputError, match="track id 1 appears more than once in frame 1"):
        evaluate_mot({"s": gt}, {"s": MotRows.empty()})
    with pytest.raises(InputError, match="no prediction for sequence"):
        evaluate_mot({"s": gt, "t": gt}, {"s": gt})


def test_iou_distance():
    d = iou_distance([[0, 0, 10, 10]], [[0, 0, 10, 10], [0, 0, 10, 6], [0, 0, 10, 4]])
    assert d[0, 0] == pytest.approx(0.0) and d[0, 1] == pytest.approx(0.4)
    assert math.isnan(d[0, 2])  # IoU 0.4 < 0.5
