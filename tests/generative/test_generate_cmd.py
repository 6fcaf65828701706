"""``attentrack generate`` and the generative eval commands: outputs, and one-line errors for bad input."""

import json

import cv2
import pytest

from attentrack.tools.generate_cmd import WEIGHTS_DIR


def test_generate_caption_png_grid_and_gif(tmp_path, run_cli):
    code, out, err = run_cli(["generate", "the digit 3 is on the left of the digit 5", "-o", tmp_path / "a.png",
                              "-n", "4", "--scale", "2", "--gif", tmp_path / "a.gif"])
    assert code == 0, err
    png = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
    assert png.shape[:2] == (2 * (120 + 2) + 2,) * 2  # 2 x 2 grid of 60x60 canvases at scale 2
    ok, frames = cv2.imreadmulti(str(tmp_path / "a.gif"))
    assert ok and len(frames) > 2
    red = (frames[0][..., 2] > 200) & (frames[0][..., 1] < 50)  # the write window is drawn in red
    assert red.any()


def test_generate_digits_without_a_caption(tmp_path, run_cli):
    code, _, err = run_cli(["generate", "-o", tmp_path / "d.png", "--scale", "1"])
    assert code == 0, err
    assert cv2.imread(str(tmp_path / "d.png"), cv2.IMREAD_UNCHANGED).shape[:2] == (28, 28)


@pytest.mark.parametrize("args, message", [
    (["the digit 7 is in the garden"], "vocabulary: the digit"),
    ([""], "empty caption"),
    (["the digit 7 is at the top", "--weights", WEIGHTS_DIR / "draw.pt"], "holds DRAW weights (draw), not aligndraw"),
    (["--weights", "{tmp}/missing.pt"], "not found"),
    (["--weights", "{tmp}/bad.pt"], "bad.pt is not a readable torch weights file"),
])
def test_generate_bad_input_is_one_line(tmp_path, args, message, run_cli):
    (tmp_path / "bad.pt").write_bytes(b"not torch")
    args = [str(a).replace("{tmp}", str(tmp_path)) for a in args]
    code, out, err = run_cli(["generate", *args, "-o", tmp_path / "x.png"])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.png").exists()


def test_generate_rejects_other_output_types(tmp_path, run_cli):
    code, _, err = run_cli(["generate", "-o", tmp_path / "x.jpg"])
    assert code == 2 and ".png" in err
    code, _, err = run_cli(["generate", "-o", tmp_path / "x.png", "--gif", tmp_path / "x.mp4"])
    assert code == 2 and ".gif" in err


def test_eval_draw_on_a_few_test_digits(data_dir, run_cli):
    code, out, err = run_cli(["eval", "draw", "--data", data_dir, "--count", "50", "--json"])
    assert code == 0, err
    res = json.loads(out)
    assert res["test"]["images"] == 50 and res["test"]["bound"] < 200  # the mean-digit model scores ~ 206


def test_eval_with_wrong_weights_is_one_line(tmp_path, data_dir, run_cli):
    code, _, err = run_cli(["eval", "draw", "--data", data_dir, "--weights", WEIGHTS_DIR / "aligndraw.pt"])
    assert code == 2 and "holds alignDRAW weights (aligndraw), not draw" in err and len(err.strip().splitlines()) == 1
