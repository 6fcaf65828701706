"""Moving MNIST from real digits: shapes, ground-truth boxes, motion, splits."""

from __future__ import annotations

import numpy as np
import pytest

from datasets.moving_mnist import MovingMnist, ink_box, load_digits
from tracker.errors import InputError


@pytest.fixture(scope="module")
def train_digits(data_dir):
    return load_digits("train", data_dir)


def test_splits_are_the_real_mnist_sets(data_dir, train_digits):
    test = load_digits("test", data_dir)
    assert train_digits.shape == (5000, 28, 28) and test.shape == (10000, 28, 28)
    assert 0.0 <= train_digits.min() and train_digits.max() <= 1.0
    with pytest.raises(InputError):
        load_digits("val", data_dir)


def test_ground_truth_boxes_hold_the_ink(train_digits):
    gen = MovingMnist(train_digits, n_frames=10)
    b = gen.sample(np.random.default_rng(1), 12, n_digits=np.array([0, 1, 2] * 4))
    assert b.frames.shape == (12, 10, 50, 50)
    assert (b.counts == np.array([0, 1, 2] * 4)[:, None]).all()
    assert b.frames[0].max() == 0  # no digit, empty canvas
    for s in range(12):
        for t in range(10):
            ink = b.frames[s, t] > 0.1
            covered = np.zeros_like(ink)
            for m in np.flatnonzero(b.present[s, t]):
                x, y, w, h = b.boxes[s, t, m].astype(int)
                assert x >= 0 and y >= 0 and x + w <= 50 and y + h <= 50
                covered[y:y + h, x:x + w] = True
            assert not (ink & ~covered).any()  # every ink pixel lies in some box


def test_motion_is_noisy_bounces_inside_the_canvas(train_digits):
    gen = MovingMnist(train_digits, n_frames=200, accel_std=0.5, max_speed=4.0)
    traj = gen.trajectory(np.random.default_rng(0), 200)
    assert traj.min() >= 0 and traj.max() <= 22
    step = np.linalg.norm(np.diff(traj, axis=0), axis=1)
    assert step.max() <= 4.0 + 1e-4 and step.mean() > 0.5
    # acceleration is noisy: the velocity changes between most frames
    assert (np.linalg.norm(np.diff(np.diff(traj, axis=0), axis=0), axis=1) > 1e-3).mean() > 0.9


def test_same_seed_same_sequences(train_digits):
    gen = MovingMnist(train_digits)
    a = gen.sample(np.random.default_rng(5), 3)
    b = gen.sample(np.random.default_rng(5), 3)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.boxes, b.boxes)


def test_to_mot_gives_unique_ids_per_sequence(train_digits):
    gen = MovingMnist(train_digits, n_frames=4)
    b = gen.sample(np.random.default_rng(2), 3, n_digits=np.array([2, 2, 1]))
    rows, next_frame, next_id = b.to_mot()
    assert len(rows) == 4 * 5 and next_frame == 12 and next_id == 6
    assert len(set(rows.ids.tolist())) == 5
    assert set(rows.frames.tolist()) == set(range(1, 13))


def test_ink_box_and_bad_input():
    patch = np.zeros((28, 28), np.float32)
    patch[5:9, 10:13] = 1
    assert ink_box(patch, 3, 4).tolist() == [13, 9, 3, 4]
    assert ink_box(np.zeros((28, 28)), 0, 0).tolist() == [0, 0, 0, 0]
    with pytest.raises(InputError):
        MovingMnist(np.zeros((5, 20, 20), np.float32))
