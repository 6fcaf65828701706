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
    lines = res.stdout.splitlines()  # the progress bar goes to stderr
    assert "static" in lines[0] and "mIoU" in lines[1] and "NPrec" in lines[1]
    assert lines[3].startswith("Crossing") and lines[4].startswith("all")
    assert "averaged" in lines[5]
    res = _invoke("sot", "--model", "static", "--json", "-q", crossing)
    rows = json.loads(res.stdout)
    assert [r["sequence"] for r in rows] == ["Crossing", "all"]
    row = rows[0]
    assert {"model", "sequence", "mean_iou", "auc", "sr50", "precision20", "fps"} <= set(row)
    assert row["model"] == "static" and row["frames"] == 119  # every frame but the first
    assert 0 <= row["mean_iou"] < 0.5 and row["fps"] > 0


def _png_colours(path):
    """The set of distinct BGR colours of a PNG, as tuples."""
    import cv2
    import numpy as np

    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 200 and img.shape[1] > 400
    return {tuple(int(c) for c in px) for px in np.unique(img.reshape(-1, 3), axis=0)}


# matplotlib's first three default colours (tab:blue, tab:orange, tab:green), BGR
TAB = [(180, 119, 31), (14, 127, 255), (44, 160, 44)]


def test_mot_csv_and_bar_chart(tmp_path):
    pytest.importorskip("matplotlib")
    import csv

    gt, pred = _mot_folders(tmp_path)
    res = _invoke("mot", "--gt", str(gt), "--pred", str(pred), "--csv", str(tmp_path / "s.csv"),
                  "--plot", str(tmp_path / "bars.png"))
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(open(tmp_path / "s.csv", newline="")))
    assert [r["sequence"] for r in rows] == ["TUD-Campus", "TUD-Stadtmitte", "COMBINED"]
    assert float(rows[2]["mota"]) == pytest.approx(0.555116, abs=1e-3) and rows[2]["benchmark"] == "MOT15"
    assert float(rows[0]["motp_iou"]) == pytest.approx(1 - float(rows[0]["motp"]))
    colours = _png_colours(tmp_path / "bars.png")
    assert all(c in colours for c in TAB)  # the HOTA, MOTA and IDF1 bars
    assert "MOTPd" in _invoke("mot", "--gt", str(gt), "--pred", str(pred)).stdout


def _square_sequence(root, n=12):
    import cv2
    import numpy as np

    seq = root / "Square"
    (seq / "img").mkdir(parents=True)
    for i in range(n):
        img = np.zeros((60, 80, 3), np.uint8)
        img[20:36, 10 + 2 * i:26 + 2 * i] = 255
        cv2.imwrite(str(seq / "img" / f"{i + 1:04d}.png"), img)
    (seq / "groundtruth_rect.txt").write_text("".join(f"{10 + 2 * i},20,16,16\n" for i in range(n)))
    return seq


def test_sot_saved_results_csv_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    seq = _square_sequence(tmp_path)
    (tmp_path / "perfect").mkdir()
    (tmp_path / "perfect" / "Square.txt").write_text((seq / "groundtruth_rect.txt").read_text())
    res = _invoke("sot", "-m", "static", "--pred", str(tmp_path / "perfect"), "--pred",
                  f"half={tmp_path / 'perfect'}", "--csv", str(tmp_path / "sot.csv"), "--plot",
                  str(tmp_path / "sot.png"), "-q", str(seq))
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "static" in lines[0] and "perfect" in lines[0] and "half" in lines[0]
    rows = (tmp_path / "sot.csv").read_text().splitlines()
    assert rows[0].startswith("model,sequence,mean_iou,auc") and len(rows) == 1 + 6
    assert "perfect,all,1.0," in (tmp_path / "sot.csv").read_text()
    colours = _png_colours(tmp_path / "sot.png")
    assert all(c in colours for c in TAB)  # one curve per tracker, in both plots
    # saved results only, pooled
    res = _invoke("sot", "--pred", str(tmp_path / "perfect"), "--pooled", str(seq))
    assert res.exit_code == 0 and "pooled" in res.stdout.splitlines()[-1]


def test_plot_errors(tmp_path, monkeypatch):
    gt, pred = _mot_folders(tmp_path)
    res = _invoke("mot", "--gt", str(gt), "--pred", str(pred), "--plot", str(tmp_path / "bars.jpg"))
    assert isinstance(res.exception, InputError) and ".png" in str(res.exception)
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    res = _invoke("mot", "--gt", str(gt), "--pred", str(pred), "--plot", str(tmp_path / "bars.png"))
    assert isinstance(res.exception, InputError) and "attentrack[plot]" in str(res.exception)
    assert "\n" not in str(res.exception) and not (tmp_path / "bars.png").exists()
    res = _invoke("sot", str(tmp_path))
    assert isinstance(res.exception, InputError) and "--pred" in str(res.exception)


def test_benchmark_choices_match_the_rules():
    from attentrack.tools.eval_cmd import BENCHMARK_CHOICES
    from attentrack.tracker.metrics.motchallenge import BENCHMARKS

    assert BENCHMARK_CHOICES == BENCHMARKS
