"""The GIF writer: OpenCV decodes its files to the frames written."""

import cv2
import numpy as np
import pytest

from attentrack.generative.gif import COLOURS, GREYS, encode_gif, lzw_encode, palette, quantise, write_gif


def _representable_greys(rng, shape):
    levels = rng.integers(0, GREYS, shape)
    return np.round(levels * 255.0 / (GREYS - 1)).astype(np.uint8)


def _decode(path):
    ok, frames = cv2.imreadmulti(str(path), flags=cv2.IMREAD_COLOR)
    assert ok
    return [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]


def test_random_frames_round_trip_through_opencv(tmp_path):
    rng = np.random.default_rng(0)
    # random pixels fill the 4096-entry LZW table several times (clear codes are exercised)
    frames = [_representable_greys(rng, (90, 121)) for _ in range(3)]
    write_gif(tmp_path / "a.gif", frames, delay_ms=50)
    back = _decode(tmp_path / "a.gif")
    assert len(back) == 3
    for f, b in zip(frames, back):
        assert np.array_equal(b[..., 0], f) and np.array_equal(b[..., 2], f)


def test_coloured_annotations_and_flat_frames(tmp_path):
    f = np.zeros((40, 50, 3), np.uint8)
    f[10:30, 10:12] = (255, 0, 0)
    f[5, :] = (0, 255, 0)
    flat = np.full((40, 50, 3), 255, np.uint8)
    write_gif(tmp_path / "b.gif", [f, flat])
    back = _decode(tmp_path / "b.gif")
    assert np.array_equal(back[0], f) and np.array_equal(back[1], flat)


def test_palette_and_errors():
    pal = palette()
    assert pal.shape == (256, 3) and (pal[GREYS:] == COLOURS).all()
    assert quantise(np.array([[0, 255]], np.uint8)).tolist() == [[0, GREYS - 1]]
    assert lzw_encode(np.zeros(0, np.uint8))  # clear + end codes
    with pytest.raises(ValueError):
        encode_gif([])
    with pytest.raises(ValueError):
        encode_gif([np.zeros((4, 4), np.uint8), np.zeros((5, 4), np.uint8)])
