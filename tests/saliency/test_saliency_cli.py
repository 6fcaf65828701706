"""The saliency commands write what they say, and bad input gives one line and exit status 2."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


@pytest.fixture
def clip(tmp_path, moving_square_frames, write_video):
    path = tmp_path / "clip.avi"
    write_video(path, moving_square_frames(n=6))
    return path


def test_overlay_image_and_video(tmp_path, clip, moving_square_frames, run_cli):
    code, out, err = run_cli(["saliency", clip, "--method", "eb", "-o", tmp_path / "o.png"])
    assert code == 0, err
    img = cv2.imread(str(tmp_path / "o.png"))
    assert img is not None and img.shape[:2] == moving_square_frames(n=1)[0].shape[:2]
    code, out, err = run_cli(["saliency", clip, "--method", "gradcam", "-o", tmp_path / "o.mp4", "--max-frames", "3", "-q"])
    assert code == 0, err
    cap = cv2.VideoCapture(str(tmp_path / "o.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    digit = tmp_path / "digit.png"
    canvas = np.zeros((112, 112), np.uint8)
    cv2.putText(canvas, "7", (40, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 255, 3)
    cv2.imwrite(str(digit), canvas)
    code, out, err = run_cli(["saliency", digit, "--classifier", "digits", "--target", "7", "--method", "grad",
                              "-o", tmp_path / "d.png"])
    assert code == 0, err
    assert "'7'" in out


def test_track_with_saliency_init_and_overlay(tmp_path, clip, run_cli):
    code, out, err = run_cli(["track", clip, "-m", "static", "--init", "saliency", "--show-saliency",
                              "-o", tmp_path / "t", "-q"])
    assert code == 0, err
    assert (tmp_path / "t" / "clip.txt").is_file() and (tmp_path / "t" / "clip.webm").is_file()


@pytest.mark.parametrize("args,message", [
    (["saliency", "{tmp}/none.mp4", "-o", "{tmp}/o.png"], "no such file"),
    (["saliency", "{clip}", "-o", "{tmp}/o.txt"], "must end in"),
    (["saliency", "{clip}", "--target", "cat", "-o", "{tmp}/o.png"], "unknown class"),
    (["saliency", "{clip}", "--classifier", "{tmp}/none.pt", "-o", "{tmp}/o.png"], "not found"),
    (["saliency", "{clip}", "--classifier", "{tmp}/bad.pt", "-o", "{tmp}/o.png"], "not a readable"),
    (["saliency", "{clip}", "--layer", "nope", "-o", "{tmp}/o.png"], "no layer named"),
    (["track", "{clip}", "-m", "static", "--init", "saliency", "--classifier", "{tmp}/none.pt", "-o", "{tmp}/t"],
     "not found"),
    (["train", "digit-classifier", "--data", "{tmp}/nodata", "--out", "{tmp}/r"], "not found"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, clip, args, message, run_cli):
    (tmp_path / "bad.pt").write_bytes(b"junk" * 10)
    args = [a.format(tmp=tmp_path, clip=clip) for a in args]
    code, out, err = run_cli(args)
    assert code == 2, err
    assert err.startswith("Error:") and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "o.png").exists()
