"""``face-attention`` follows a held-out person's face moving over a real background, shows
its canonical reconstruction in the annotated video, and rejects bad options."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.generative.face.model import SHIPPED_WEIGHTS
from attentrack.tracker.base import create_tracker
from attentrack.tracker.boxes import iou
from attentrack.tracker.errors import InputError

pytestmark = pytest.mark.skipif(not SHIPPED_WEIGHTS.is_file(), reason="shipped face weights absent")


def _moving_face_frames(data_dir, n=8, growth=0.0):
    from attentrack.datasets.orl import load_orl
    from attentrack.generative.face.scenes import face_squares, load_backgrounds
    from attentrack.generative.face.transform import paste_face

    faces = load_orl(data_dir / "faces" / "orl").subset([35])
    face = face_squares(faces)[0]
    bg = load_backgrounds(data_dir, "test")[0][:120, :160].copy()
    frames, truth = [], []
    for t in range(n):
        u = np.array([60.0 + 3 * t, 58.0 + t, 50.0 * (1 + growth) ** t, 0.02 * t])
        img = paste_face(bg, face, u)
        frames.append(np.repeat((img * 255).astype(np.uint8)[..., None], 3, axis=2))
        truth.append(u)
    return frames, np.array(truth)


def test_follows_a_moving_face_and_draws_the_reconstruction(data_dir, one_thread):
    from attentrack.generative.face.transform import u_to_box
    from attentrack.tracker.draw import draw_tracks

    frames, truth = _moving_face_frames(data_dir)
    tracker = create_tracker("face-attention", {"chains": "3", "steps": "8", "threads": "0"})
    boxes = u_to_box(truth)
    tracker.start(frames[0], boxes[:1])
    ious = []
    for frame, box in zip(frames[1:], boxes[1:]):
        (track,) = tracker.update(frame)
        ious.append(float(iou(track.box[None], box[None])[0]))
        assert 0.0 < track.score < 1.0
    assert np.mean(ious) > 0.6, ious
    assert track.inset is not None and track.inset.shape == (24, 24) and track.inset.dtype == np.uint8
    drawn = draw_tracks(frames[-1], [track])
    assert drawn.shape == frames[-1].shape and not np.array_equal(drawn, frames[-1])


def test_bad_options_and_frames(data_dir):
    with pytest.raises(InputError):
        create_tracker("face-attention", {"chains": "0"})
    with pytest.raises(InputError):
        create_tracker("face-attention", {"max_zoom": "2"})
    tracker = create_tracker("face-attention", {"threads": "0"})
    with pytest.raises(InputError):
        tracker.start(np.zeros((50, 50, 3), np.float32), [[1, 1, 10, 10]])


def test_box_keeps_the_first_box_shape(data_dir, one_thread):
    frames, truth = _moving_face_frames(data_dir, n=3)
    tracker = create_tracker("face-attention", {"chains": "2", "steps": "3", "threads": "0", "redetect_after": "0"})
    cx, cy, s = truth[0, :3]
    tracker.start(frames[0], np.array([[cx - s / 2, cy - 0.7 * s, s, 1.4 * s]]))
    (track,) = tracker.update(frames[1])
    assert track.box[3] / track.box[2] == pytest.approx(1.4)
    assert track.glimpse[2] == pytest.approx(track.box[2])  # the face square is as wide as the box


def test_threshold_comes_from_the_weights(tmp_path):
    from attentrack.generative.face.model import load_face_model

    model = load_face_model()
    model.meta = {**model.meta, "score_calibration": {"weights": [1.0, -2.0], "bias": 0.5, "threshold": 0.4321}}
    model.save(tmp_path / "face.pt")
    tracker = create_tracker("face-attention", {"weights": str(tmp_path / "face.pt"), "threads": "0"})
    assert tracker.redetect_below == pytest.approx(0.4321)
    assert tracker.calibration["weights"] == [1.0, -2.0]
    fixed = create_tracker("face-attention", {"weights": str(tmp_path / "face.pt"), "threads": "0",
                                               "redetect_below": "0.7"})
    assert fixed.redetect_below == pytest.approx(0.7)


def test_cut_region_geometry():
    from attentrack.generative.face.localise import cut_region

    img = np.zeros((100, 200), np.float32)
    img[40:44, 120:124] = 1.0  # a 4x4 dot centred at (122, 42) in pixel-edge coordinates
    out = cut_region(img, 122.0, 42.0, 40.0, 30.0, (80, 60))  # 2x magnification around the dot
    ys, xs = np.nonzero(out > 0.5)
    assert abs(xs.mean() + 0.5 - 40.0) <= 0.5 and abs(ys.mean() + 0.5 - 30.0) <= 0.5
    edge = cut_region(img, 5.0, 5.0, 40.0, 30.0, (80, 60))  # past the border: padded, same size
    assert edge.shape == (60, 80) and np.isfinite(edge).all()


def test_region_proposal_of_the_whole_scene_is_the_plain_proposal(data_dir, one_thread):
    from attentrack.generative.face.evaluate import test_scenes
    from attentrack.generative.face.localise import propose, propose_in_regions
    from attentrack.generative.face.model import load_face_model
    from attentrack.generative.face.scenes import SCENE_SIZE

    model = load_face_model()
    scenes = test_scenes(data_dir, 3)
    w, h = SCENE_SIZE
    plain = propose(model, scenes.images)
    for img, u in zip(scenes.images, plain):  # a region exactly the scene: the same transform
        regional = propose_in_regions(model, img, np.array([[w / 2, h / 2]]), np.array([w / 3.0]))[0]
        np.testing.assert_allclose(regional, u, atol=1e-3)
    # a region of twice the size, centred elsewhere: the proposal maps back to scene pixels
    big = np.pad(scenes.images[0], ((60, 60), (80, 80)), mode="edge")
    moved = propose_in_regions(model, big, np.array([[w / 2 + 80, h / 2 + 60]]), np.array([w / 3.0]))[0]
    np.testing.assert_allclose(moved[:2] - [80, 60], plain[0, :2], atol=1e-3)


def test_hmc_never_ends_below_its_start(data_dir, one_thread):
    import torch

    from attentrack.generative.face.evaluate import test_scenes
    from attentrack.generative.face.localise import HMCOptions, prepare_images, propose, refine
    from attentrack.generative.face.model import load_face_model, log_joint

    model = load_face_model()
    scenes = test_scenes(data_dir, 4)
    u0 = propose(model, scenes.images)
    side_range = (20.0, 100.0)
    opts = HMCOptions(chains=1, steps=4, leapfrog=3, adapt=2, jitter=0.0, marginal=True)
    loc = refine(model, scenes.images, u0, opts, side_range, seed=1)
    imgs = prepare_images(scenes.images, u0[:, 2], model.vae.config.size)
    with torch.no_grad():
        start = log_joint(model.vae, model.background, imgs, torch.as_tensor(u0, dtype=torch.float32), None,
                          side_range, model.config.theta_prior).total.numpy()
    assert (loc.log_joint >= start - 1e-2).all(), (loc.log_joint, start)


def test_the_face_side_stays_within_max_scale_of_the_first(data_dir, one_thread):
    """A face growing by 8 % a frame: followed without a bound, its window grows past 1.15 times
    the first side; with ``max_scale`` 1.15 it stops there."""
    frames, truth = _moving_face_frames(data_dir, n=7, growth=0.08)
    from attentrack.generative.face.transform import u_to_box

    first = u_to_box(truth[:1])
    widths = {}
    for max_scale in ("0", "1.15"):
        tracker = create_tracker("face-attention", {"chains": "3", "steps": "8", "threads": "0", "max_scale": max_scale})
        tracker.start(frames[0], first)
        widths[max_scale] = [tracker.update(f)[0].box[2] for f in frames[1:]]
    assert max(widths["0"]) > 1.15 * first[0, 2] + 1, widths["0"]
    assert max(widths["1.15"]) <= 1.15 * first[0, 2] + 1e-6, widths["1.15"]
    with pytest.raises(InputError):
        create_tracker("face-attention", {"max_scale": "0.5"})


def test_the_persons_own_face_as_template(data_dir, one_thread):
    """``template``: the person's residual (what the latents miss of the first face) joins their
    face model; the first frame's residual is the first glimpse minus its reconstruction, and the
    tracker with it follows the moving face. Bad values are refused."""
    import torch

    from attentrack.tracker.boxes import iou as box_iou

    frames, truth = _moving_face_frames(data_dir)
    from attentrack.generative.face.transform import u_to_box

    boxes = u_to_box(truth)
    tracker = create_tracker("face-attention", {"chains": "3", "steps": "8", "threads": "0", "template": "0.5"})
    tracker.start(frames[0], boxes[:1])
    state = next(iter(tracker._states.values()))
    glimpse = tracker._glimpse(np.asarray(frames[0][..., 0], np.float32) / 255.0, state.u)
    with torch.no_grad():
        rebuilt = tracker.model.vae.decode(torch.as_tensor(state.identity[None], dtype=torch.float32))[0].numpy()
    contrast = min(1.0, float(glimpse.std(unbiased=False)))
    assert 0.9 < contrast <= 1.0
    assert np.allclose(state.residual, contrast * (glimpse[0].numpy() - rebuilt), atol=1e-4)
    dark = create_tracker("face-attention", {"threads": "0", "template": "0.5"})
    dark.start(np.zeros_like(frames[0]), boxes[:1])  # a black fade-in: no appearance to keep
    assert np.abs(next(iter(dark._states.values())).residual).max() < 1e-3
    ious = [float(box_iou(tracker.update(f)[0].box[None], b[None])[0]) for f, b in zip(frames[1:], boxes[1:])]
    assert np.mean(ious) > 0.6, ious
    for bad in ({"template": "1.5"}, {"template": "0.5", "identity_sd": "0"}):
        with pytest.raises(InputError):
            create_tracker("face-attention", bad)


def test_hmc_starts_each_frame_from_the_step_size_it_adapted_to(data_dir, one_thread, monkeypatch):
    """With ``warm_step`` (the default) a frame's HMC starts from the median step size the
    face's chains adapted to on the previous frame; without it, from the fixed initial step."""
    import attentrack.generative.face.tracker as face_tracker

    seen = []
    refine = face_tracker.refine

    def recording(model, images, init, options, *args, **kwargs):
        seen.append(options.step_size)
        return refine(model, images, init, options, *args, **kwargs)

    monkeypatch.setattr(face_tracker, "refine", recording)
    frames, truth = _moving_face_frames(data_dir, n=3)
    cx, cy, s = truth[0, :3]
    for warm in ("true", "false"):
        seen.clear()
        tracker = create_tracker("face-attention", {"chains": "2", "steps": "4", "threads": "0", "warm_step": warm})
        tracker.start(frames[0], np.array([[cx - s / 2, cy - s / 2, s, s]]))
        tracker.update(frames[1])
        (state,) = tracker._states.values()
        adapted = float(state.last.step_size[0])
        tracker.update(frames[2])
        assert seen[0] == tracker.options.step_size  # the first frame starts from the fixed step
        assert seen[1] == (adapted if warm == "true" else tracker.options.step_size)
        assert adapted != tracker.options.step_size
