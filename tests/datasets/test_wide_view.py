"""The wider view of a sequence: frames shrunk into a static surround, boxes moved along."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from attentrack.datasets.mot import MotRows
from attentrack.datasets.wide_view import surround_from_samples, wide_view_frame, wide_view_rows, write_wide_view
from attentrack.tracker.errors import InputError


def _frame_with_box(box, size=(160, 120)):
    f = np.full((size[1], size[0], 3), 40, np.uint8)
    x, y, w, h = box
    f[y:y + h, x:x + w] = 250
    return f


def _bright_box(img):
    ys, xs = np.nonzero(img[..., 0] > 150)
    return np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], float)


def test_the_boxes_move_with_the_shrunk_view():
    box = (60, 30, 30, 60)
    frame = _frame_with_box(box)
    surround = np.full_like(frame, 40)
    wide = wide_view_frame(frame, surround, 2.0)
    assert wide.shape == frame.shape
    rows = MotRows(np.array([1]), np.array([1]), np.array([box], float), np.ones(1), -np.ones((1, 3)))
    moved = wide_view_rows(rows, (160, 120), 2.0).boxes[0]
    np.testing.assert_allclose(moved, [70, 45, 15, 30])  # (40, 30) is the view's corner; half size
    np.testing.assert_allclose(_bright_box(wide), moved, atol=1.0)  # where the box is drawn in the wide frame
    np.testing.assert_allclose(wide_view_rows(rows, (160, 120), 1.0).boxes, rows.boxes)  # factor 1: unchanged


def test_the_surround_is_the_median_frame_enlarged_and_a_factor_below_1_is_refused():
    samples = [_frame_with_box((10 * i, 10, 20, 20)) for i in range(5)]
    surround = surround_from_samples(samples, 2.0)
    assert surround.shape == samples[0].shape and surround.dtype == np.uint8
    assert surround.max() < 150  # the moving box is not in the median
    with pytest.raises(InputError, match="at least 1"):
        wide_view_frame(samples[0], surround, 0.5)


def test_the_written_wide_view_has_the_frames_and_size_of_the_source(tmp_path):
    frames = [_frame_with_box((10 + 5 * i, 20, 24, 48)) for i in range(8)]
    out = write_wide_view(lambda: iter(frames), tmp_path / "wide.avi", 3.0, fps=10)
    cap = cv2.VideoCapture(str(out))
    read = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        read.append(f)
    assert len(read) == 8 and read[0].shape == frames[0].shape
    assert [p.name for p in tmp_path.iterdir()] == ["wide.avi"]  # no partial file left
    with pytest.raises(InputError, match="no frames"):
        write_wide_view(lambda: iter([]), tmp_path / "none.avi", 2.0)
    assert not (tmp_path / "none.avi").exists()


def test_evenly_spaced_samples_of_a_stream_of_unknown_length():
    from attentrack.datasets.wide_view import evenly_spaced

    assert evenly_spaced(iter([]), 5) == []
    assert evenly_spaced(range(4), 5) == [0, 1, 2, 3]
    picked = evenly_spaced(range(100), 10)
    assert 5 <= len(picked) <= 10 and picked[0] == 0
    stride = picked[1] - picked[0]
    assert set(np.diff(picked)) == {stride}  # one stride throughout
    assert picked[-1] >= 100 - 2 * stride  # and they reach the end


def test_a_wide_view_that_keeps_the_noise_has_the_recordings_noise_on_every_pixel():
    """A textured scene with sensor noise of sd 5: shrunk 3 times it has almost none (the area
    average) and the surround none at all; ``keep_noise`` puts the recording's own back."""
    from attentrack.datasets.wide_view import wide_view_frames
    from attentrack.tracker.foreground import camera_noise, median_background

    rng = np.random.default_rng(1)
    scene = cv2.resize(rng.uniform(60, 190, (12, 16, 3)), (160, 120), interpolation=cv2.INTER_CUBIC)
    frames = [np.clip(scene + rng.normal(0, 5, scene.shape), 0, 255).astype(np.uint8) for _ in range(12)]

    def noise_of(views):
        views = list(views)
        assert len(views) == 12 and views[0].shape == frames[0].shape
        return camera_noise(views, median_background(views))

    recorded = noise_of(frames)
    assert 4 < recorded < 6
    assert noise_of(wide_view_frames(lambda: iter(frames), 3.0)) < 1.5
    assert abs(noise_of(wide_view_frames(lambda: iter(frames), 3.0, keep_noise=True)) - recorded) < 1.0
    with pytest.raises(InputError, match="no frames"):
        list(wide_view_frames(lambda: iter([]), 2.0, keep_noise=True))
