"""`track`'s output options end to end: --otb read back by `eval sot --pred`, --trail,
--video-format, and the one-line errors of --show and --otb."""

from __future__ import annotations

import cv2
import pytest


@pytest.fixture
def otb_sequence(tmp_path, moving_square_frames):
    """An OTB folder of the moving square (the frames `track` reads, the boxes `eval sot` scores)."""
    seq = tmp_path / "Square"
    (seq / "img").mkdir(parents=True)
    for i, f in enumerate(moving_square_frames(n=10)):
        cv2.imwrite(str(seq / "img" / f"{i + 1:04d}.png"), f)
    (seq / "groundtruth_rect.txt").write_text("".join(f"{20 + 3 * i},{30 + i},24,24\n" for i in range(10)))
    return seq


def test_otb_output_scores_like_eval_sot(otb_sequence, tmp_path, run_cli):
    out = tmp_path / "out"
    code, _, err = run_cli(["track", otb_sequence, "-m", "static", "--init", "20,30,24,24", "-o", out,
                            "--otb", "--trail", "5", "--video-format", "mp4", "-q"])
    assert code == 0, err
    lines = (out / "otb" / "Square.txt").read_text().splitlines()
    assert len(lines) == 10 and set(lines) == {"20,30,24,24"}
    assert (out / "Square.mp4").is_file() and not (out / "Square.webm").exists()
    code, saved, err = run_cli(["eval", "sot", "--pred", out / "otb", "--json", otb_sequence])
    assert code == 0, err
    code, ran, err = run_cli(["eval", "sot", "-m", "static", "--json", "-q", otb_sequence])
    assert code == 0, err
    import json

    saved_rows, ran_rows = json.loads(saved), json.loads(ran)
    assert saved_rows[0]["model"] == "otb" and saved_rows[0]["fps"] is None
    for key in ("auc", "precision20", "norm_precision", "mean_iou"):
        assert saved_rows[0][key] == pytest.approx(ran_rows[0][key]), key


@pytest.mark.parametrize("args, message", [
    (["--otb"], "--otb writes one object's boxes"),
    (["--otb", "--init", "1,1,5,5", "--init", "9,9,5,5"], "--otb writes one object's boxes"),
    (["--init", "20,30,24,24", "--show"], "--show needs"),
])
def test_output_option_errors(otb_sequence, tmp_path, monkeypatch, args, message, run_cli):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = tmp_path / "o"
    code, _, err = run_cli(["track", otb_sequence, "-m", "static", "-o", out, "-q", *args])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
