"""Moving MNIST from real digits: shapes, ground-truth boxes, motion, splits."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.datasets.moving_mnist import MovingMnist, ink_box, load_digits
from attentrack.tracker.errors import InputError


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


@pytest.mark.slow
def test_overlap_starts_the_second_digit_on_the_first_and_zero_keeps_the_original_draws(train_digits):
    two = np.full(300, 2)
    plain = MovingMnist(train_digits).sample(np.random.default_rng(3), 300, n_digits=two)
    zero = MovingMnist(train_digits, overlap=0.0).sample(np.random.default_rng(3), 300, n_digits=two)
    assert np.array_equal(plain.frames, zero.frames)  # the option off draws exactly what it did before
    on = MovingMnist(train_digits, overlap=1.0, overlap_offset=4.0).sample(np.random.default_rng(3), 300, n_digits=two)
    gap_on = np.abs(on.positions[:, 0, 0] - on.positions[:, 0, 1])
    gap_off = np.abs(plain.positions[:, 0, 0] - plain.positions[:, 0, 1])
    assert gap_on.max() <= 4.0 + 0.5 and gap_off.max() > 10  # rounded to whole pixels
    assert not np.allclose(on.positions[:, 1:], on.positions[:, :1])  # they then move apart
    half = MovingMnist(train_digits, overlap=0.5, overlap_offset=4.0).sample(np.random.default_rng(4), 400,
                                                                             n_digits=np.full(400, 2))
    share = (np.abs(half.positions[:, 0, 0] - half.positions[:, 0, 1]).max(-1) <= 4.5).mean()
    assert 0.4 < share < 0.65  # half on top, plus the independent starts that land close by chance
    for bad in ({"overlap": 1.5}, {"overlap": -0.1}, {"overlap_offset": -1.0}):
        with pytest.raises(InputError, match="overlap"):
            MovingMnist(train_digits, **bad)


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


def test_opencv_digits_are_a_third_set_at_mnist_size(data_dir, train_digits):
    sheet = load_digits("opencv", data_dir)
    test = load_digits("test", data_dir)
    assert sheet.shape == (5000, 28, 28) and sheet.dtype == np.float32 and 0.0 <= sheet.min() and sheet.max() <= 1.0
    # enlarged back to MNIST's size: as much ink, digits as tall as MNIST's (about 20 px)
    assert abs(sheet.mean() - test.mean()) < 0.02
    heights = np.array([ink_box(d, 0, 0)[3] for d in sheet[::50]])
    assert 18 <= np.median(heights) <= 23
    # none of them is one of the other sets' digits
    flat = lambda a: a.reshape(len(a), -1) / np.linalg.norm(a.reshape(len(a), -1), axis=1, keepdims=True)  # noqa: E731
    for other in (train_digits[:1000], test[:1000]):
        assert (flat(sheet[::10]) @ flat(other).T).max() < 0.99


def test_augmented_digits_change_shape_but_keep_their_ink_and_the_seed_decides():
    from attentrack.datasets.moving_mnist import DigitAugment

    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 12:16] = 1.0  # a "1"
    aug = DigitAugment()
    a, b = aug(digit, np.random.default_rng(3)), aug(digit, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.shape == (28, 28) and a.dtype == np.float32
    changed = [aug(digit, np.random.default_rng(s)) for s in range(20)]
    assert all(np.abs(c - digit).sum() > 1.0 for c in changed)
    mass = np.array([c.sum() for c in changed])
    assert (mass > 0.4 * digit.sum()).all() and (mass < 2.0 * digit.sum()).all()  # still a digit, not erased
    none = DigitAugment(rotation=0.0, scale=0.0, aspect=0.0, shear=0.0, thickness=0.0)
    assert np.allclose(none(digit, np.random.default_rng(0)), digit, atol=1e-6)
    gen = MovingMnist(digit[None], canvas=40, n_frames=3, max_digits=1, augment=aug)
    frames = gen.sample(np.random.default_rng(0), 4, n_digits=np.ones(4, int)).frames
    assert not np.allclose(frames[0, 0].sum(), frames[1, 0].sum())  # each sequence's digit drawn afresh
