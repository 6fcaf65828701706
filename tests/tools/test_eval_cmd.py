"""``attentrack eval mot`` and ``attentrack eval sot`` through click's CliRunner."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

from attentrack.tools.eval_cmd import eval_group
from attentrack.tracker.errors import InputError

mm = pytest.importorskip("motmetrics")
MM_DATA = os.path.join(os.path.dirname(mm.__file__), "data")


def _invoke(*args):
    return CliRunner().invoke(eval_group, list(args))


@pytest.mark.parametrize("sub", ["mot", "sot"])
def test_help_has_example(sub):
    res = _invoke(sub, "--help")
    assert res.exit_code == 0 and "Example" in res.output


def _mot_folders(tmp_path, seqs=("TUD-Campus", "TUD-Stadtmitte")):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    for s in seqs:
        shutil.copy(f"{MM_DATA}/{s}/gt.txt", gt / f"{s}.txt")
        shutil.copy(f"{MM_DATA}/{s}/test.txt", pred / f"{s}.txt")
    return gt, pred


def test_mot_json_and_table(tmp_path):
    gt, pred = _mot_folders(tmp_path)
    res = _invoke("mot", "--gt", str(gt), "--pred", str(pred), "--json")
    assert res.exit_code == 0, res.output
    rows = {r["sequence"]: r for r in json.loads(res.output)}
    assert list(rows) == ["TUD-Campus", "TUD-Stadtmitte", "COMBINED"]
    assert rows["COMBINED"]["mota"] == pytest.approx(0.555116, abs=1e-3)
    assert rows["COMBINED"]["idf1"] == pytest.approx(0.624296, abs=1e-3)
    assert rows["COMBINED"]["hota"] == pytest.approx(0.4000, abs=1e-3)
    assert {"mota", "motp", "idf1", "idp", "idr", "precision", "recall", "mt", "pt", "ml", "fp",
            "fn", "idsw", "frag", "hota", "deta", "assa"} <= set(rows["COMBINED"])
    table = _invoke("mot", "--gt", str(gt), "--pred", str(pred))
    assert table.exit_code == 0 and "COMBINED" in table.output and "MOTA" in table.output


def test_mot_missing_prediction(tmp_path):
    gt, pred = _mot_folders(tmp_path)
    os.remove(pred / "TUD-Stadtmitte.txt")
    res = _invoke("mot", "--gt", str(gt), "--pred", str(pred))
    assert isinstance(res.exception, InputError) and "TUD-Stadtmitte.txt" in str(res.exception)


def test_sot_bad_input(tmp_path):
    res = _invoke("sot", "--model", "no-such-model", str(tmp_path))
    assert isinstance(res.exception, InputError) and "unknown model" in str(res.exception)
    res = _invoke("sot", "--model", "static", str(tmp_path / "missing"))
    assert isinstance(res.exception, InputError)
    res = _invoke("sot", "--model", "static", "-p", "nope=1", str(tmp_path))
    assert isinstance(res.exception, InputError) and "nope" in str(res.exception)


@pytest.mark.data
def test_sot_static_on_crossing(data_dir):
    crossing = str(data_dir / "sot" / "Crossing")
    res = _invoke("sot", "--model", "static", crossing)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "static" in lines[0] and "mIoU" in lines[1]
    assert lines[3].startswith("Crossing") and lines[4].startswith("all")
    res = _invoke("sot", "--model", "static", "--json", crossing)
    rows = json.loads(res.output)
    assert [r["sequence"] for r in rows] == ["Crossing", "all"]
    row = rows[0]
    assert {"model", "sequence", "mean_iou", "auc", "sr50", "precision20", "fps"} <= set(row)
    assert row["model"] == "static" and row["frames"] == 119  # every frame but the first
    assert 0 <= row["mean_iou"] < 0.5 and row["fps"] > 0
