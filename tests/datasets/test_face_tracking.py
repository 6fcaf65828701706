"""Generated face-tracking sequences: the ground-truth box is the pasted ellipse's box, the
generator is deterministic by seed, and the written folders are OTB sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attentrack.datasets.face_tracking import (
    FacePhoto,
    Identity,
    MotionSettings,
    _paste,
    ellipse_box,
    generate_face_tracking,
    make_sequence,
    write_sequence,
)
from attentrack.tracker.errors import InputError


@pytest.mark.parametrize("theta", [0.0, 0.3, -0.7, math.pi / 2])
def test_ellipse_box_bounds_the_turned_ellipse(theta):
    a, b = 12.0, 20.0
    t = np.linspace(0, 2 * np.pi, 20001)
    x = a * np.cos(t) * math.cos(theta) - b * np.sin(t) * math.sin(theta) + 50
    y = a * np.cos(t) * math.sin(theta) + b * np.sin(t) * math.cos(theta) + 40
    box = ellipse_box(50, 40, a, b, theta)
    np.testing.assert_allclose(box, [x.min(), y.min(), x.max() - x.min(), y.max() - y.min()], atol=1e-3)


def _photo():
    img = np.full((60, 50, 3), 200, np.uint8)
    return FacePhoto(img, (25.0, 30.0, 15.0, 21.0))


def test_pasted_face_fills_its_ground_truth_box():
    frame = np.zeros((120, 160, 3), np.float32)
    alpha = np.empty((120, 160), np.float32)
    cx, cy, k, theta = 70.3, 55.8, 1.4, 0.25
    _paste(frame, _photo(), cx, cy, k, theta, 1.0, 0.0, None, alpha)
    ys, xs = np.nonzero(alpha >= 0.5)
    found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)  # pixel edges
    x, y, w, h = ellipse_box(cx, cy, 15.0 * k, 21.0 * k, theta)
    assert np.abs(found - [x, y, x + w, y + h]).max() <= 1.25, (found, (x, y, w, h))  # within a pixel's quantisation
    yc, xc = np.average(np.indices(alpha.shape), axis=(1, 2), weights=alpha)
    assert abs(xc + 0.5 - cx) < 0.3 and abs(yc + 0.5 - cy) < 0.3


def _clip(n=5):
    rng = np.random.default_rng(3)
    return [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(n)]


def test_sequences_are_deterministic_by_seed_and_stay_in_the_frame():
    ident = Identity("orl-test", [_photo(), FacePhoto(np.full((60, 50, 3), 90, np.uint8), (25.0, 30.0, 15.0, 21.0))])
    motion = MotionSettings(frames=30, height_range=(30.0, 40.0), pose_every=(5, 8))
    a = make_sequence(ident, _clip(), 7, motion)
    b = make_sequence(ident, _clip(), 7, motion)
    c = make_sequence(ident, _clip(), 8, motion)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.boxes, c.boxes)
    assert a.frames.shape == (30, 120, 160, 3) and a.boxes.shape == (30, 4)
    x, y, w, h = a.boxes.T
    assert (x >= 0).all() and (y >= 0).all() and (x + w <= 160).all() and (y + h <= 120).all()
    assert np.abs(np.diff(a.boxes[:, :2], axis=0)).max() > 0.1  # it moves
    with pytest.raises(InputError):
        make_sequence(ident, [np.zeros((40, 40, 3), np.uint8)], 0, motion)


def test_written_sequence_is_an_otb_sequence(tmp_path):
    from attentrack.datasets.sequence import open_sequence

    ident = Identity("orl-test", [_photo()])
    seq = make_sequence(ident, _clip(), 1, MotionSettings(frames=6, height_range=(30.0, 36.0)))
    opened = open_sequence(write_sequence(seq, tmp_path / "face-000"))
    assert opened.kind == "otb" and len(opened.gt) == 6
    np.testing.assert_allclose(opened.gt.boxes, seq.boxes, atol=1e-3)


def test_generated_set_from_real_data(data_dir, tmp_path):
    made = generate_face_tracking(data_dir, tmp_path / "f", sequences=2, seed=3, motion=MotionSettings(frames=5))
    assert [f.name for f in made.folders] == ["face-000", "face-001"]
    assert all((f / "groundtruth_rect.txt").is_file() and len(list((f / "img").iterdir())) == 5 for f in made.folders)
    again = generate_face_tracking(data_dir, tmp_path / "f", sequences=2, seed=3, motion=MotionSettings(frames=5))
    assert again.folders == made.folders
    with pytest.raises(InputError, match="other settings"):
        generate_face_tracking(data_dir, tmp_path / "f", sequences=2, seed=4, motion=MotionSettings(frames=5))


def test_orl_people_and_other_faces_take_turns():
    from attentrack.datasets.face_tracking import _interleave

    people = [Identity(n, []) for n in ("orl-s31", "orl-s32", "orl-s33", "megamind-a", "megamind-b")]
    assert [i.name for i in _interleave(people)] == ["orl-s31", "megamind-a", "orl-s32", "megamind-b", "orl-s33"]


def test_the_still_scene_is_a_small_face_in_a_small_frame(data_dir, tmp_path):
    """``SCENES['still']``: frames at most 128 px wide, heads 38-46 px high, moving little."""
    from dataclasses import replace

    import cv2

    from attentrack.datasets.face_tracking import SCENES

    motion, width = SCENES["still"]
    made = generate_face_tracking(data_dir, tmp_path / "s", sequences=3, seed=0, motion=replace(motion, frames=20),
                                  frame_width=width)
    for folder in made.folders:
        frame = cv2.imread(str(sorted((folder / "img").iterdir())[0]))
        assert frame.shape[1] <= 128
        boxes = np.loadtxt(folder / "groundtruth_rect.txt", delimiter=",")
        centres = boxes[:, :2] + boxes[:, 2:] / 2
        assert np.abs(centres - centres[0]).max() < 0.5 * boxes[0, 3]
        assert 30 < boxes[0, 3] < 60
