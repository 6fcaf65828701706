"""SQAIR on the command line: bad input gives one line and exit 2; the CCTV pieces work."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from attentrack.tracker.base import create_tracker
from attentrack.tracker.sqair.cctv import ForegroundCanvas, video_canvases


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
    one_line_error(["eval", "sqair", "--weights", junk], "sqair weights")


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
    from attentrack.tracker.sqair.cctv import camera_background
    from attentrack.tracker.sqair.model import read_checkpoint

    code, _, err = run_cli(["track", clip, "-m", "sqair", "--fit", "-p", "fit_steps=1", "-p", "canvas_width=32",
                            "-p", "canvas_height=24", "-p", "max_objects=2", "-p", "pretrain_steps=0",
                            "-p", f"save={tmp_path / 'cam.pt'}", "-o", tmp_path / "o", "-q", "--no-video"])
    assert code == 0, err
    saved = camera_background(read_checkpoint(tmp_path / "cam.pt"))
    frames = moving_square_frames(n=12)
    assert saved is not None and saved.dtype == np.uint8 and saved.shape == frames[0].shape[:2]
    fitted = video_canvases(frames, ForegroundCanvas(32, 24, "median"))  # what the fit saw
    reuse = create_tracker("sqair", {"weights": str(tmp_path / "cam.pt"), "adapt": 0.0})  # background=auto
    assert reuse._canvas.background == "median"
    assert np.allclose(np.stack([reuse._canvas(f) for f in frames]), fitted, atol=1e-6)
    code, _, err = run_cli(["track", clip, "-m", "sqair", "--weights", tmp_path / "cam.pt", "-o", tmp_path / "o2",
                            "-q", "--no-video"])
    assert code == 0, err
    assert (tmp_path / "o2" / "clip.txt").is_file()
    # weights with no background (e.g. fitted before they were saved): auto falls back to MOG2, median refuses
    bare = tiny_sqair_weights(tmp_path, canvas=40)
    assert camera_background(read_checkpoint(bare)) is None
    assert create_tracker("sqair", {"weights": str(bare)})._canvas.background == "mog2"
    one_line_error(["track", clip, "-m", "sqair", "--weights", bare, "-p", "background=median", "-o", tmp_path / "o3"],
                    "no camera background")
    one_line_error(["track", clip, "-m", "sqair", "--weights", bare, "-p", "background=blue", "-o", tmp_path / "o4"],
                    "background")
    one_line_error(["track", clip, "-m", "sqair", "--weights", bare, "-p", "adapt=1.5", "-o", tmp_path / "o5"],
                    "adapt")
    one_line_error(["track", clip, "-m", "sqair", "--weights", bare, "-p", "max_size_std=-1", "-o", tmp_path / "o6"],
                    "max_size_std")
    one_line_error(["track", clip, "-m", "sqair", "--weights", bare, "-p", "snap=maybe", "-o", tmp_path / "o7"], "snap")


def test_cctv_evaluation_scores_the_fit_and_its_reuse_beside_the_baseline(tmp_path, clip, run_cli, sqair_smoke_args):
    import json


    code, out, err = run_cli(sqair_smoke_args(tmp_path, clip, None)["eval sqair-cctv"])
    assert code == 0, err
    rows = json.loads(out)
    assert [r["model"] for r in rows] == ["blobs", "blobs", "sqair", "sqair", "sqair-reuse", "sqair-reuse"]
    assert all(0.0 <= r["idf1"] <= 1.0 and r["fps"] > 0 for r in rows)
    assert (tmp_path / "cc" / "SQUARE" / "sqair-reuse.txt").is_file()


@pytest.mark.slow
def test_fit_canvases_stream_the_video_in_bounded_memory(tmp_path, moving_square_frames, write_video):
    import tracemalloc

    from attentrack.tracker.sqair.cctv import fit_canvases, read_frames

    path = tmp_path / "long.avi"
    write_video(path, moving_square_frames(n=300, size=(320, 240), step=(1, 0)))
    held = 300 * 320 * 240 * 3  # bytes of the frames, were they all kept
    tracemalloc.start()
    canvases, total = fit_canvases(path, ForegroundCanvas(32, 24, "median"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == 300 and canvases.shape == (300, 24, 32) and canvases.dtype == np.float16
    assert peak < held / 5, (peak, held)
    # the same canvases as the in-memory path (same background frames), and the cap
    frames = read_frames(path)
    in_memory = video_canvases(frames, ForegroundCanvas(32, 24, "median"))
    assert np.allclose(canvases.astype(np.float32), in_memory, rtol=0, atol=1e-3)  # float16 storage
    first, total = fit_canvases(path, ForegroundCanvas(32, 24, "median"), max_frames=40)
    assert first.shape == (40, 24, 32) and total == 300
    assert np.allclose(first.astype(np.float32), video_canvases(frames[:40], ForegroundCanvas(32, 24, "median")),
                       rtol=0, atol=1e-3)


def test_fit_uses_the_first_fit_frames_and_says_so(tmp_path, clip, run_cli, one_line_error):
    with pytest.warns(UserWarning, match="first 6 of 12 frames"):
        code, _, err = run_cli(["track", clip, "-m", "sqair", "--fit", "-p", "fit_steps=1", "-p", "canvas_width=32",
                                "-p", "canvas_height=24", "-p", "max_objects=2", "-p", "pretrain_steps=0",
                                "-p", "fit_frames=6", "-o", tmp_path / "o", "-q", "--no-video"])
    assert code == 0, err
    one_line_error(["track", clip, "-m", "sqair", "--fit", "-p", "fit_frames=1", "-o", tmp_path / "o2"], "fit_frames")


def test_median_background_follows_slow_light_but_not_the_objects():
    frame = np.full((60, 80, 3), 100, np.uint8)
    fixed, adapting = (ForegroundCanvas(16, 12, "median", adapt=a) for a in (0.0, 0.2))
    for c in (fixed, adapting):
        c.set_background_image(np.full((60, 80), 100, np.uint8))
    for t in range(60):  # the scene brightens by one grey level per frame; a square sits still
        f = np.full((60, 80, 3), 100 + t, np.uint8)
        f[20:40, 30:50] = 250
        a, b = fixed.mask(f), adapting.mask(f)
    assert a.mean() > 0.9  # 59 levels brighter than a fixed background: all foreground
    assert b[:15].max() == 0 and b[45:].max() == 0  # the adapting one followed the light
    assert b[25:35, 35:45].min() == 1  # but not the object in front of it
    big = ForegroundCanvas(16, 12, "median")
    big.set_background_image(np.full((120, 160), 100, np.uint8))  # saved at another resolution: resized
    assert big.mask(frame).shape == (60, 80) and big.mask(frame).max() == 0
    with pytest.raises(Exception, match="adapt"):
        ForegroundCanvas(16, 12, "median", adapt=1.0)
    with pytest.raises(Exception, match="grey"):
        big.set_background_image(np.zeros((4, 4, 3)))


def test_moving_camera_warns_and_static_does_not():
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (120, 400, 3), np.uint8)
    moving = [np.ascontiguousarray(texture[:, 10 * i:10 * i + 160]) for i in range(20)]
    with pytest.warns(UserWarning, match="camera seems to move"):
        video_canvases(moving, ForegroundCanvas(32, 24, "median"))
    still = [texture[:, :160].copy() for _ in range(20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        canv = video_canvases(still, ForegroundCanvas(32, 24, "median"))
    assert canv.shape == (20, 24, 32) and canv.max() == 0


def test_blobs_baseline_follows_the_square(clip):
    from attentrack.tracker.sources import open_source

    tracker = create_tracker("blobs")
    ids = set()
    for i, frame in open_source(str(clip)):
        tracks = tracker.start(frame, np.zeros((0, 4))) if i == 0 else tracker.update(frame)
        ids.update(t.track_id for t in tracks)
    assert len(ids) >= 1


def test_foreground_blobs_and_the_window_prior_they_give():
    from attentrack.tracker.sqair.cctv import blob_shape_prior, foreground_blobs

    canvases = np.zeros((12, 60, 80), np.float32)
    for t in range(12):  # one upright 6x15 "person" walking right, a 2x2 speck of noise
        canvases[t, 20:35, 5 + 4 * t:11 + 4 * t] = 1.0
        canvases[t, 50:52, 70:72] = 1.0
    boxes, crops = foreground_blobs(canvases)
    assert boxes.shape == (12, 4) and crops.shape == (12, 60, 80)  # the speck is below the size floor
    assert np.all(boxes[:, 2:] == (6, 15)) and np.all(boxes[:, 0] == 5 + 4 * np.arange(12))
    # each crop holds exactly one blob, centred on the canvas
    assert np.all(crops.sum((1, 2)) == 90)
    ys, xs = np.nonzero(crops[3])
    assert abs((ys.min() + ys.max()) / 2 - 29.5) <= 0.5 and abs((xs.min() + xs.max()) / 2 - 39.5) <= 0.5
    scale, aspect = blob_shape_prior(boxes, 80, 60, aspect=2.5)
    assert aspect == 2.5 and scale == pytest.approx(15 / 2.5 / 80)
    assert blob_shape_prior(boxes[:3], 80, 60) == (0.15, 2.2)  # too few blobs: the defaults


def test_canvas_tracker_reports_objects_by_rendered_mass():
    import torch

    from attentrack.tracker.sqair.cctv import CanvasTracker, cctv_config
    from attentrack.tracker.sqair.model import SQAIR

    torch.manual_seed(0)
    model = SQAIR(cctv_config(40, 30, max_objects=1, scale_prior=0.2, aspect_prior=2.0)).eval()

    class HalfGrey(torch.nn.Module):  # every object renders as its window at intensity 0.5
        def forward(self, what):
            return torch.full((len(what), 1, model.config.glimpse, model.config.glimpse), 0.5)

    model.decoder = HalfGrey()
    canvas = np.zeros((30, 40), np.float32)
    canvas[8:20, 16:22] = 1.0  # a person-sized blob in the middle of the canvas
    reported = {}
    for min_mass in (0.3, 0.7):
        tracks = CanvasTracker(model, min_mass=min_mass).step(canvas)
        reported[min_mass] = tracks
    assert len(reported[0.3]) == 1 and reported[0.7] == []
    # the score is the rendered intensity over the prior window's area: 0.5 for a window of that size
    assert reported[0.3][0].score == pytest.approx(0.5, abs=0.15)


def test_set_parses_true_and_false_flags():
    from attentrack.tools.sqair_cmd import _parse_sets
    from attentrack.tracker.errors import InputError

    assert _parse_sets(("sequential_propagation=false", "anchor=True")) == {"sequential_propagation": False,
                                                                             "anchor": True}
    with pytest.raises(InputError, match="anchor='maybe' is not a valid bool"):
        _parse_sets(("anchor=maybe",))


def test_canvas_tracker_forgets_objects_over_empty_canvas_and_finds_the_next_blob():
    import torch

    from attentrack.tracker.sqair.cctv import CanvasTracker, cctv_config
    from attentrack.tracker.sqair.model import SQAIR

    torch.manual_seed(0)
    model = SQAIR(cctv_config(40, 30, max_objects=3, scale_prior=0.2, aspect_prior=2.0)).eval()
    runner = CanvasTracker(model, min_pixels=0)
    runner.step(np.zeros((30, 40), np.float32))  # e.g. MOG2's first frame: nothing yet
    assert float(runner.state.pres.sum()) == 0.0  # no empty object holds a slot
    canvas = np.zeros((30, 40), np.float32)
    canvas[8:20, 26:32] = 1.0
    runner.step(canvas)
    present = runner.state.pres[0] > 0.5
    assert present.any()
    centres_px = (runner.state.where[0, present, 2] + 1) * 20  # x centres in canvas pixels
    assert (centres_px - 29.0).abs().min() < 2.0


def test_fine_tuning_starts_from_the_weights_with_changed_priors(tmp_path, data_dir, run_cli, tiny_sqair_weights,
                                                                 one_line_error):
    import torch

    from attentrack.tracker.sqair.model import load_weights

    start = tiny_sqair_weights(tmp_path)
    out = tmp_path / "ft"
    code, _, err = run_cli(["train", "sqair", "--out", out, "--data", data_dir, "--init-weights", start,
                            "--set", "disc_pres_prior=1e-9", "--steps", "1", "--batch", "1", "--particles", "2",
                            "--min-length", "2", "--max-length", "2", "--lr", "1e-12", "--no-progress"])
    assert code == 0, err
    tuned, original = load_weights(out / "sqair.pt"), load_weights(start)
    assert tuned.config.disc_pres_prior == 1e-9 and tuned.config.hidden == original.config.hidden
    for (name, a), b in zip(tuned.state_dict().items(), original.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name  # one step at a vanishing rate: still the start
    one_line_error(["train", "sqair", "--out", tmp_path / "ft2", "--data", data_dir, "--init-weights", start,
                     "--set", "hidden=32", "--steps", "1"], "changes the shape")


def test_fine_tuning_can_grow_the_appearance_path(tmp_path, data_dir, run_cli, tiny_sqair_weights, one_line_error):
    from attentrack.tracker.sqair.model import load_weights

    start = tiny_sqair_weights(tmp_path)
    width = load_weights(start).config.appearance_hidden
    out = tmp_path / "wide"
    code, _, err = run_cli(["train", "sqair", "--out", out, "--data", data_dir, "--init-weights", start,
                            "--set", f"glimpse_hidden={2 * width}", "--steps", "1", "--batch", "1", "--particles", "2",
                            "--min-length", "2", "--max-length", "2", "--no-progress"])
    assert code == 0, err
    grown = load_weights(out / "sqair.pt")
    assert grown.config.glimpse_hidden == 2 * width and grown.decoder.net[0].out_features == 2 * width
    one_line_error(["train", "sqair", "--out", tmp_path / "narrow", "--data", data_dir, "--init-weights", start,
                     "--set", f"glimpse_hidden={width // 2}", "--steps", "1"], "can only grow")


def test_training_with_validation_writes_the_best_weights(tmp_path, data_dir, run_cli, tiny_sqair_weights):
    import json

    out = tmp_path / "val"
    code, stdout, err = run_cli(["train", "sqair", "--out", out, "--data", data_dir, "--init-weights",
                                 tiny_sqair_weights(tmp_path), "--steps", "2", "--batch", "1", "--particles", "2",
                                 "--min-length", "2", "--max-length", "2", "--validate", "3",
                                 "--validate-every", "1", "--no-progress"])
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["best_step"] in (0, 1, 2) and 0.0 <= summary["best_score"] <= 1.0
    assert (out / "best.pt").is_file() and (out / "sqair.pt").is_file()


def test_training_with_augmented_overlapping_digits_validates_on_the_opencv_digits(tmp_path, data_dir, run_cli,
                                                                                   tiny_sqair_weights):
    import json

    out = tmp_path / "aug"
    code, stdout, err = run_cli(["train", "sqair", "--out", out, "--data", data_dir, "--init-weights",
                                 tiny_sqair_weights(tmp_path), "--steps", "1", "--batch", "1", "--particles", "2",
                                 "--min-length", "2", "--max-length", "2", "--validate", "2", "--validate-every", "1",
                                 "--validate-digits", "opencv", "--augment", "--overlap", "0.5",
                                 "--no-progress"])
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["best_step"] in (0, 1) and (out / "best.pt").is_file()
    code, stdout, err = run_cli(["eval", "sqair", "--weights", out / "best.pt", "--data", data_dir, "--digits", "opencv",
                                 "--sequences", "2", "--particles", "1", "--json"])
    assert code == 0, err
    assert json.loads(stdout)["sequences"] == 2
    code, _, err = run_cli(["train", "sqair", "--out", tmp_path / "bad", "--data", data_dir, "--overlap", "1.5"])
    assert code == 2 and "overlap" in err and not (tmp_path / "bad").exists()


def test_streaming_tracker_follows_k_particles_and_keeps_identities_when_the_shown_one_changes(data_dir):
    import torch

    from attentrack.datasets.moving_mnist import MovingMnist, load_digits
    from attentrack.tracker.sqair.cctv import CanvasTrack, CanvasTracker
    from attentrack.tracker.sqair.model import load_weights
    from attentrack.tracker.trackers.sqair import SHIPPED_WEIGHTS

    model = load_weights(SHIPPED_WEIGHTS)
    seq = MovingMnist(load_digits("test", data_dir)).sample(np.random.default_rng(3), 1, n_digits=np.array([2]))
    runs = []
    for draw in range(2):
        torch.manual_seed(draw)  # the global generator neither matters nor moves
        global_state = torch.get_rng_state()
        runner = CanvasTracker(model, particles=4, seed=5)
        runs.append([[(t.track_id, tuple(np.round(t.box, 3))) for t in runner.step(f)] for f in seq.frames[0]])
        assert torch.equal(torch.get_rng_state(), global_state)
    assert runs[0] == runs[1]  # same seed, same reports
    assert all(len({i for i, _ in frame}) == len(frame) for frame in runs[0])  # identities unique per frame
    assert sum(len(frame) for frame in runs[0]) >= 15  # two digits found in most of the 10 frames
    with pytest.raises(Exception, match="particles"):
        CanvasTracker(model, particles=0)
    # a change of the shown particle: its objects take the overlapping reported identities
    runner = CanvasTracker(model, particles=2)
    runner.ids = np.array([[7, 9, 0], [12, 7, 0]])  # particle 1 holds 7 elsewhere: it must swap, not duplicate
    runner._last = [CanvasTrack(7, np.array([10.0, 10, 12, 16]), 1.0), CanvasTrack(9, np.array([30.0, 20, 12, 16]), 1.0)]
    runner._inherit_identities(1, np.array([True, True, False]), np.array([[11.0, 10, 12, 16], [40, 40, 5, 5], [0, 0, 0, 0]]))
    assert runner.ids[1].tolist() == [7, 12, 0] and runner.ids[0].tolist() == [7, 9, 0]


def test_eval_scores_the_online_readout(tmp_path, data_dir, run_cli, tiny_sqair_weights):
    import json

    code, out, err = run_cli(["eval", "sqair", "--weights", tiny_sqair_weights(tmp_path), "--data", data_dir,
                              "--sequences", "2", "--frames", "3", "--particles", "2", "--online", "--json"])
    assert code == 0, err
    readouts = {r["readout"]: r for r in json.loads(out)["readouts"]}
    assert set(readouts) == {"raw", "merged", "online"} and 0.0 <= readouts["online"]["count_accuracy"] <= 1.0


def test_after_a_fit_the_video_is_tracked_against_its_median_adapted_at_the_asked_rate(tmp_path, clip):
    tracker = create_tracker("sqair", {"fit_steps": 1, "canvas_width": 32, "canvas_height": 24, "max_objects": 2,
                                       "pretrain_steps": 0, "adapt": 0.01, "background": "mog2"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a tiny synthetic clip: short-fit warnings are not the point
        assert tracker.static_camera_user == "SQAIR's CCTV mode"
        tracker.fit(clip, tmp_path / "o", progress=False)
    assert tracker.static_camera_user == ""  # the fit checked the video for camera motion: track does not again
    assert tracker._canvas.background == "median" and tracker._canvas.adapt == 0.01
    assert tracker._canvas.background_image is not None


def test_cctv_evaluation_of_a_wider_view(tmp_path, clip, run_cli, sqair_smoke_args):
    import json


    code, out, err = run_cli([*sqair_smoke_args(tmp_path, clip, None)["eval sqair-cctv"], "--zoom-out", "2"])
    assert code == 0, err
    rows = json.loads(out)
    assert {r["model"] for r in rows} == {"blobs", "sqair", "sqair-reuse"}
    wide = tmp_path / "cc" / "SQUARE-wide2"
    assert (wide / "wide.avi").is_file() and (wide / "sqair.txt").is_file()
    assert not (tmp_path / "cc" / "SQUARE").exists()  # the recorded view was not scored


def test_smaller_people_get_a_sharper_likelihood_so_each_earns_the_same_evidence():
    from attentrack.tracker.sqair.cctv import BASE_SIGMA, MIN_SIGMA, REFERENCE_WINDOW_AREA, cctv_config, likelihood_sigma

    # at or above the reference size: the base sigma, as the recipe was measured
    assert likelihood_sigma(9, 22) == BASE_SIGMA and likelihood_sigma(40, 40) == BASE_SIGMA
    # below it: area / sigma^2 (a full-intensity object's evidence, in units of 1/2 nat) is
    # the reference's, so a person a third as tall is worth as much as one at full size
    ref = REFERENCE_WINDOW_AREA / BASE_SIGMA ** 2
    for w, h in ((3.75, 9.0), (5, 12), (2, 6)):
        assert (w * h) / likelihood_sigma(w, h) ** 2 == pytest.approx(ref)
    assert likelihood_sigma(0.5, 1) == MIN_SIGMA  # never sharper than the floor
    # cctv_config uses the prior window's size unless told a sigma
    assert cctv_config(80, 60, scale_prior=0.1146, aspect_prior=2.4).sigma == BASE_SIGMA
    small = cctv_config(80, 60, scale_prior=0.046875, aspect_prior=2.4)
    assert small.sigma == pytest.approx(likelihood_sigma(3.75, 9.0))
    assert cctv_config(80, 60, scale_prior=0.046875, aspect_prior=2.4, sigma=0.3).sigma == 0.3


def test_small_people_start_with_window_noise_on_their_own_scale():
    import torch

    from attentrack.tracker.sqair.cctv import cctv_config, size_factor
    from attentrack.tracker.sqair.model import SQAIR

    for scale_prior in (0.1146, 0.046875):  # TUD-Campus's people at 80x60, and three times smaller
        config = cctv_config(80, 60, scale_prior=scale_prior, aspect_prior=2.4)
        w = scale_prior * 80
        assert config.shift_init_factor == pytest.approx(size_factor(w, 2.4 * w))
        model = SQAIR(config)
        _, disc = model.disc_where(torch.zeros(1, config.hidden))
        _, prop = model.prop_where(torch.zeros(1, model.prop_where.net[0].in_features))
        f = config.shift_init_factor
        # scales keep their noise; shifts' noise shrinks with the people (1: the reference size)
        assert torch.allclose(disc[0], torch.tensor([0.3, 0.3, 0.3 * f, 0.3 * f]), atol=1e-5)
        assert torch.allclose(prop[0], torch.tensor([0.1, 0.1, 0.1 * f, 0.1 * f]), atol=1e-5)
    assert size_factor(9, 22) == 1.0 and size_factor(4, 10) == pytest.approx((40 / 160) ** 0.5)


def test_the_baselines_least_blob_area_shrinks_with_the_people_and_its_options_are_checked(tmp_path, clip,
                                                                                           one_line_error):
    from attentrack.tracker.trackers.sqair import BLOB_MIN_AREA, blob_options_for_zoom

    assert blob_options_for_zoom(1) == {"min_area": BLOB_MIN_AREA}
    assert blob_options_for_zoom(3)["min_area"] == pytest.approx(BLOB_MIN_AREA / 9)
    proposer = create_tracker("blobs", {"min_area": "0.001", "close_width": "0.01", "close_height": "0.05"})._proposer
    assert (proposer.min_area, proposer.close_width, proposer.close_height) == (0.001, 0.01, 0.05)
    seq = tmp_path / "SEQ"
    one_line_error(["eval", "sqair-cctv", seq, "--out", tmp_path / "cc", "-b", "colour=3"], "colour")
    assert not (tmp_path / "cc").exists()


def test_boxes_past_the_frame_edge_are_clipped_not_shifted(tmp_path, tiny_sqair_weights):
    from attentrack.tracker.base import Track

    tracker = create_tracker("sqair", {"weights": str(tiny_sqair_weights(tmp_path)), "mode": "intensity",
                                       "snap": "false"})

    class TwoObjects:  # canvas boxes (50x50 canvas): one out past the top-left corner, one past the bottom-right
        def step(self, canvas):
            return [Track(1, np.array([-2.0, -1.0, 10.0, 10.0]), 1.0), Track(2, np.array([45.0, 46.0, 10.0, 10.0]), 1.0)]

    tracker._runner = TwoObjects()
    tracks = tracker.update(np.zeros((100, 100, 3), np.uint8))  # 2 frame pixels per canvas pixel
    np.testing.assert_allclose(tracks[0].box, [0, 0, 16, 18])  # right and bottom edges stay where they were
    np.testing.assert_allclose(tracks[1].box, [90, 92, 10, 8])
