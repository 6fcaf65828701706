"""Glimpse readers: identity reads, batching, pyramid levels and the registry."""

import cv2
import numpy as np
import pytest
import torch

from attentrack.tracker.attention import (
    GlimpseReader,
    ImagePyramid,
    available_glimpse_readers,
    create_glimpse_reader,
)
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import GLIMPSE_READERS

torch.set_num_threads(2)
READERS = ["gaussian", "stn"]


def _image(h=40, w=40, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", READERS)
def test_identity_window_returns_the_image(name):
    img = _image(40, 40)
    reader = create_glimpse_reader(name, size=40)
    if name == "gaussian":
        reader.sigma = 0.15  # small sigma: the filterbank becomes a sampler
    g = reader(ImagePyramid.from_numpy(img), torch.tensor([[20.0, 20.0, 40.0, 40.0]]))
    assert g.shape == (1, 3, 40, 40)
    np.testing.assert_allclose(g[0].permute(1, 2, 0).numpy(), img, atol=0.05)


@pytest.mark.parametrize("name", READERS)
def test_batched_equals_one_at_a_time(name):
    frames = np.stack([_image(240, 320, 1), _image(240, 320, 2)])
    pyr = ImagePyramid.from_numpy(frames)
    windows = torch.tensor([[60.0, 80, 30, 90], [200, 100, 150, 120], [10, 10, 40, 40],
                            [160, 120, 320, 240], [300, 230, 500, 60]])
    index = torch.tensor([0, 1, 1, 0, 1])
    reader = create_glimpse_reader(name, size=24)
    levels = reader.levels_for(windows, pyr.max_level)
    assert len(torch.unique(levels)) > 1  # several pyramid levels in one batch
    batched = reader(pyr, windows, index)
    single = torch.cat([reader(pyr, windows[i:i + 1], index[i:i + 1]) for i in range(len(windows))])
    assert torch.allclose(batched, single, atol=1e-3)


@pytest.mark.parametrize("name", READERS)
def test_large_window_reads_a_coarse_level_like_area_resampling(name):
    import cv2

    yy, xx = np.mgrid[0:256, 0:256]
    img = np.stack([(np.sin(xx / 9.0) + np.cos(yy / 13.0)) * 60 + 128] * 3, -1).astype(np.uint8)
    reader = create_glimpse_reader(name, size=32)
    g = reader(ImagePyramid.from_numpy(img), torch.tensor([[128.0, 128.0, 256.0, 256.0]]))
    ref = cv2.resize(img, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    err = np.abs(g[0].permute(1, 2, 0).numpy() - ref).mean()
    assert err < 6.0


@pytest.mark.parametrize("name", READERS)
def test_gradients_reach_the_window(name):
    img = _image(64, 64)
    yy, xx = np.mgrid[0:64, 0:64]
    img = np.stack([xx * 3, yy * 3, xx + yy], -1).astype(np.uint8)
    window = torch.tensor([[30.0, 30.0, 20.0, 24.0]], requires_grad=True)
    g = create_glimpse_reader(name, size=8)(ImagePyramid.from_numpy(img), window)
    g[:, 0].mean().backward()
    assert window.grad is not None and window.grad[0, 0] > 0  # red grows to the right


def test_window_outside_the_image_repeats_the_border():
    img = _image(30, 30)
    g = create_glimpse_reader("stn", size=6)(ImagePyramid.from_numpy(img), torch.tensor([[-100.0, -100.0, 6.0, 6.0]]))
    assert torch.allclose(g[0, :, 0, 0], torch.from_numpy(img[0, 0].astype(np.float32)))


def test_registry_and_errors():
    assert set(READERS) <= set(available_glimpse_readers())
    with pytest.raises(InputError):
        create_glimpse_reader("nope")
    with pytest.raises(InputError):
        create_glimpse_reader("gaussian", size=1)

    class NearestGlimpse(GlimpseReader):
        reader_id = "test-nearest"

        def read_crop(self, crop, origin, window):
            return crop.permute(0, 3, 1, 2)[:, :, :self.size, :self.size]

    try:
        assert create_glimpse_reader("test-nearest", 4).__class__ is NearestGlimpse
    finally:
        GLIMPSE_READERS.unregister("test-nearest")


def test_pyramid_levels_and_sizes():
    pyr = ImagePyramid.from_numpy(_image(480, 640))
    assert pyr.size == (640, 480)
    assert pyr.levels[1].shape == (1, 240, 320, 3) and pyr.levels[0].dtype == torch.uint8
    assert min(pyr.levels[-1].shape[1:3]) >= 8
    assert ImagePyramid.from_numpy(_image(480, 640), max_level=1).max_level == 1
    with pytest.raises(InputError):
        ImagePyramid.from_numpy(np.zeros((5, 5), np.uint8))


def test_every_level_is_the_area_mean_of_the_one_before():
    rng = np.random.default_rng(3)
    for h, w in ((480, 640), (123, 250), (64, 64)):  # even and odd sides
        for frame in (rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(0, 256, (h, w, 1), dtype=np.uint8)):
            pyr = ImagePyramid.from_numpy(frame)
            for lv in range(1, pyr.max_level + 1):
                prev = pyr.levels[lv - 1][0].numpy()
                size = ImagePyramid.level_size(pyr.size, lv)
                want = cv2.resize(prev, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
                assert np.array_equal(pyr.levels[lv][0].numpy(), want), (h, w, frame.shape[2], lv)


@pytest.mark.parametrize("name", READERS)
def test_pyramid_of_a_region_reads_like_the_whole_frame(name):
    frame = _image(480, 640, 5)
    reader = create_glimpse_reader(name, size=24)
    windows = torch.tensor([[100.0, 150, 60, 160], [140, 120, 90, 90]])
    level, region = reader.region_needed(windows, (640, 480))
    part = ImagePyramid.from_numpy(frame, level, region=region)
    assert part.origin == region[:2] and part.frame_size == (640, 480) and part.size[0] < 640
    whole = ImagePyramid.from_numpy(frame, level)
    assert torch.allclose(reader(part, windows), reader(whole, windows), atol=0.5)


@pytest.mark.parametrize("name", READERS)
def test_pyramid_of_only_the_needed_levels_reads_like_the_full_pyramid(name):
    frame = _image(480, 640, 6)
    reader = create_glimpse_reader(name, size=24)
    windows = torch.tensor([[300.0, 200, 200, 300], [320, 240, 210, 280]])  # both on one coarse level
    levels = reader.levels_for(windows, ImagePyramid.max_levels_for((640, 480)))
    assert len(torch.unique(levels)) == 1 and int(levels[0]) >= 2
    full = ImagePyramid.from_numpy(frame, int(levels[0]))
    part = ImagePyramid.from_numpy(frame, int(levels[0]), only={int(levels[0])})
    assert part.levels[1] is None and part.levels[int(levels[0])] is not None
    assert part.scale(int(levels[0])) == full.scale(int(levels[0]))
    assert torch.equal(part.levels[int(levels[0])], full.levels[int(levels[0])])  # halved level by level too
    assert torch.equal(reader(part, windows), reader(full, windows))


@pytest.mark.parametrize("name", READERS)
def test_pyramid_for_the_windows_reads_like_the_whole_frame(name):
    frame = _image(480, 640, 7)
    reader = create_glimpse_reader(name, size=24)
    windows = torch.tensor([[100.0, 150, 60, 160], [300, 200, 200, 300]])  # two different levels
    pyr = reader.pyramid_for(frame, windows)
    level, region = reader.region_needed(windows, (640, 480))
    assert pyr.origin == region[:2] and pyr.max_level == level
    needed = set(reader.levels_for(windows, level).tolist())
    assert len(needed) == 2 and {i for i, lv in enumerate(pyr.levels) if lv is not None} == {0} | needed
    whole = ImagePyramid.from_numpy(frame, level)
    assert (reader(pyr, windows) - reader(whole, windows)).abs().mean() < 1.0


@pytest.mark.parametrize("size", [24, 48])
def test_numpy_read_equals_the_torch_read(size):
    """The NumPy read (tracking on the CPU) gives the glimpses of the differentiable one, for
    windows on several pyramid levels, partly or wholly outside the frame."""
    frame = _image(480, 640, 8)
    reader = create_glimpse_reader("gaussian", size=size)
    windows = np.array([[100.0, 150, 60, 160], [300, 200, 200, 300], [-20, 460, 90, 50], [320, 240, 900, 700],
                        [630, 10, 12, 12]], np.float32)
    pyr = reader.pyramid_for(frame, windows)
    assert len(set(reader.levels_for(torch.from_numpy(windows), pyr.max_level).tolist())) >= 3
    got = reader.read_numpy(pyr, windows)
    want = reader(pyr, torch.from_numpy(windows)).numpy()
    assert got.shape == want.shape == (5, 3, size, size) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-3)
    one = reader.read_numpy(pyr, windows[1:2])
    np.testing.assert_allclose(one, want[1:2], atol=2e-3)


def test_numpy_read_declines_what_it_cannot_do():
    frames = np.stack([_image(60, 80, 1), _image(60, 80, 2)])
    reader = create_glimpse_reader("gaussian", size=8)
    window = np.array([[40.0, 30, 20, 20]], np.float32)
    assert reader.read_numpy(ImagePyramid.from_numpy(frames), window) is None  # several images
    assert create_glimpse_reader("stn", size=8).read_numpy(ImagePyramid.from_numpy(frames[0]), window) is None
