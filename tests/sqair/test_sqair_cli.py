"""SQAIR on the command line: bad input gives one line and exit 2; the CCTV pieces work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attentrack.tracker.base import create_tracker
from attentrack.tracker.sqair.cctv.canvas import ForegroundCanvas
from attentrack.tracker.sqair.cctv.videos import video_canvases


@pytest.fixture
def one_line_error(run_cli):
    """``one_line_error(args, needle)``: the command exits 2 with one ``Error:`` line holding ``needle``."""
    def check(args, needle):
        code, out, err = run_cli(args)
        assert code == 2, (code, out, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error:"), err
        assert needle.lower() in lines[0].lower(), lines[0]
    return check


def test_checkpoint_for_another_canvas(tmp_path, clip, tiny_sqair_weights, one_line_error):
    w = tiny_sqair_weights(tmp_path, canvas=40)
    one_line_error(["track", clip, "-m", "sqair", "--weights", w, "-p", "canvas_width=80", "-o", tmp_path / "o"],
                    "40x40 canvas")


def test_cctv_without_weights_or_fit(tmp_path, clip, one_line_error):
    one_line_error(["track", clip, "-m", "sqair", "-o", tmp_path / "o", "-q"], "--fit")


def test_fit_of_an_empty_video(tmp_path, one_line_error):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    one_line_error(["track", empty, "-m", "sqair", "--fit", "-o", tmp_path / "o", "-q"], "")


def test_fit_of_a_model_that_cannot(tmp_path, clip, one_line_error):
    one_line_error(["track", clip, "-m", "static", "--init", "20,30,24,24", "--fit", "-o", tmp_path / "o"],
                    "cannot be fitted")


def test_bad_set_and_foreign_weights(tmp_path, one_line_error):
    one_line_error(["train", "sqair", "--out", tmp_path / "r", "--set", "colour=3"], "--set")
    one_line_error(["train", "sqair", "--out", tmp_path / "r", "--set", "disc_pres_prior=0"], "disc_pres_prior")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    one_line_error(["eval", "sqair", "--weights", junk], "junk.pt is not a readable torch weights file")
    hart = Path(__file__).resolve().parents[2] / "tracker" / "weights" / "hart.pt"
    one_line_error(["eval", "sqair", "--weights", hart], "hart.pt holds HART weights (hart), not sqair")


def test_track_with_fit_writes_tracks_and_weights(tmp_path, clip, run_cli):
    code, _, err = run_cli(["track", clip, "-m", "sqair", "--fit", "-p", "fit_steps=2", "-p", "canvas_width=32",
                            "-p", "canvas_height=24", "-p", "max_objects=2", "-p", "pretrain_steps=3",
                            "-p", f"save={tmp_path / 'cam.pt'}",
                            "-o", tmp_path / "o", "-q", "--no-video"])
    assert code == 0, err
    assert (tmp_path / "o" / "clip.txt").is_file() and (tmp_path / "cam.pt").is_file()
    assert (tmp_path / "o" / "sqair_fit" / "checkpoint.pt").is_file()  # resumable
    tracker = create_tracker("sqair", {"weights": str(tmp_path / "cam.pt")})
    assert tracker.canvas_size == (32, 24)


def test_fitted_weights_carry_the_camera_background_and_reuse_reads_the_fits_foreground(
        tmp_path, clip, moving_square_frames, run_cli, tiny_sqair_weights, one_line_error):
    from attentrack.tracker.sqair.cctv.background import camera_background
    from attentrack.tracker.sqair.model import read_checkpoint

    code, _, err = run_cli(["track", clip, "-m", "sqair", "--fit", "-p", "fit_steps=1", "-p", "canvas_width=32",
                            "-p", "canvas_height=24", "-p", "max_objects=2", "-p", "pretrain_steps=0",
                            "-p", f"save={tmp_path / 'cam.pt'}", "-o", tmp_path / "o", "-q", "--no-video"])
    assert code == 0, err
    saved = camera_background(read_checkpoint(tmp_path / "cam.pt").metadata)
    frames = moving_square_frames(n=12)
    assert saved is not None and saved.dtype == np.uint8 and saved.shape == frames[0].shape[:2]
    fitted = video_canvases(frames, ForegroundCanvas(32, 24, "median"))  # what the fit saw
    reuse = create_tracker("sqair", {"weights": str(tmp_path / "cam.pt"), "adapt": 0.0})  # background=auto
    assert reuse._canvas.background == "median"
    assert np.allclose(np.stack([reuse._canvas(f) for f in frames]), fitted, atol=1e-6)
    code, _, err = run_cli(["track", clip, "-m", "sqair", "--weights", tmp_path / "cam.pt", "-o", tmp_path / "o2",
                            "-q", "--no-video"])
    assert code == 0, err
    # tracking right after --fit and tracking with the saved file are the same run: the fitted
    # tracker keeps the background as saved (whole grey levels), not the unrounded median
    assert (tmp_path / "o2" / "clip.txt").read_text() == (tmp_path / "o" / "clip.txt").read_text()
    fitter = create_tracker("sqair", {"fit_steps": 1, "canvas_width": 32, "canvas_height": 24, "max_objects": 2,
                                      "pretrain_steps": 0, "save": str(tmp_path / "cam2.pt")})
    fitter.fit(str(clip), tmp_path / "o3", progress=False)
    assert np.array_equal(fitter._camera_background, camera_background(read_checkpoint(tmp_path / "cam2.pt").metadata))
    # weights with no background (e.g. fitted before they were saved): auto falls back to MOG2, median refuses


def test_training_with_one_particle_is_refused(tmp_path, one_line_error):
    # one particle: no VIMCO term, so the presences would silently stop learning
    one_line_error(["train", "sqair", "--out", tmp_path / "o", "--particles", "1"], "at least 2")
    assert not (tmp_path / "o").exists()


def test_fine_tuning_with_the_categorical_discovery_prior_starts_from_the_weights(tmp_path, tiny_sqair_weights):
    import torch

    from attentrack.tools.sqair_cmd import _fine_tuned_start
    from attentrack.tracker.sqair.model import load_weights

    path = tiny_sqair_weights(tmp_path)
    model = _fine_tuned_start(path, {"disc_prior": "categorical"})
    loaded = load_weights(path)
    assert model.config.disc_prior == "categorical"
    for name, value in loaded.state_dict().items():
        assert torch.equal(model.state_dict()[name], value)
    assert torch.equal(model.disc_count_logits.detach(), torch.zeros(loaded.config.max_objects + 1))


def test_fine_tuning_with_the_optional_propagation_parts_starts_from_the_weights(tmp_path, tiny_sqair_weights):
    import torch

    from attentrack.tools.sqair_cmd import _fine_tuned_start
    from attentrack.tracker.sqair.model import load_weights

    path = tiny_sqair_weights(tmp_path)
    loaded = load_weights(path)
    changes = {"glimpse_mask": True, "relational": True, "sequential_propagation": True, "where_prior": "conditioned"}
    model = _fine_tuned_start(path, changes)
    for name, value in loaded.state_dict().items():
        assert torch.equal(model.state_dict()[name], value)
    for last in (model.prop_glimpse_mask[-1], model.prop_relation_head[-1], model.disc_where_prior_head[-1]):
        assert torch.equal(last.weight.detach(), torch.zeros_like(last.weight))
