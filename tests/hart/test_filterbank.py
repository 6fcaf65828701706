"""The Gaussian filterbank (DRAW/HART read) as a reusable function."""

import numpy as np
import pytest
import torch

from attentrack.tracker.attention.filterbank import (
    filterbank_support,
    gaussian_filterbank,
    read_with_filterbanks,
    stride_to_sigma,
    write_with_filterbanks,
)

torch.set_num_threads(2)


def test_rows_sum_to_one():
    g = torch.tensor([10.0, 30.5, 2.0])
    d = torch.tensor([1.0, 2.5, 0.3])
    f = gaussian_filterbank(g, d, stride_to_sigma(d), 12, 64)
    assert f.shape == (3, 12, 64)
    assert torch.allclose(f.sum(-1), torch.ones(3, 12), atol=1e-5)
    assert (f >= 0).all()


def test_means_follow_the_draw_formula():
    n, g, delta = 7, 40.5, 3.0
    f = gaussian_filterbank(torch.tensor([g]), torch.tensor([delta]), torch.tensor([0.1]), n, 100)
    peaks = f[0].argmax(-1).numpy()
    i = np.arange(1, n + 1)
    mu = g + (i - n / 2 - 0.5) * delta  # continuous positions; pixel a has centre a + 0.5
    assert np.array_equal(peaks, np.floor(mu).astype(int))


def test_identity_read_returns_the_image():
    rng = np.random.default_rng(0)
    img = torch.from_numpy(rng.uniform(0, 255, (1, 20, 30, 3)).astype(np.float32))
    fy = gaussian_filterbank(torch.tensor([10.0]), torch.tensor([1.0]), torch.tensor([0.15]), 20, 20)
    fx = gaussian_filterbank(torch.tensor([15.0]), torch.tensor([1.0]), torch.tensor([0.15]), 30, 30)
    out = read_with_filterbanks(img, fy, fx)  # (1, 3, 20, 30)
    assert torch.allclose(out[0].permute(1, 2, 0), img[0], atol=1e-2)


def test_write_is_the_transpose_of_read():
    rng = np.random.default_rng(1)
    img = torch.from_numpy(rng.normal(size=(2, 16, 18, 3)).astype(np.float32))
    patch = torch.from_numpy(rng.normal(size=(2, 3, 5, 6)).astype(np.float32))
    fy = gaussian_filterbank(torch.tensor([8.0, 5.0]), torch.tensor([2.0, 1.5]), torch.tensor([1.0, 0.8]), 5, 16)
    fx = gaussian_filterbank(torch.tensor([9.0, 12.0]), torch.tensor([2.5, 1.0]), torch.tensor([1.0, 0.7]), 6, 18)
    lhs = (read_with_filterbanks(img, fy, fx) * patch).sum()
    rhs = (img.permute(0, 3, 1, 2) * write_with_filterbanks(patch, fy, fx)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-4)


def test_support_holds_the_weight_and_crops_match():
    g, d = torch.tensor([50.0]), torch.tensor([2.0])
    s = stride_to_sigma(d)
    first, count = filterbank_support(g, d, s, 10)
    full = gaussian_filterbank(g, d, s, 10, 200)
    crop = gaussian_filterbank(g, d, s, 10, int(count), start=first.float())
    assert full[0, :, int(first):int(first + count)].sum(-1).min() > 0.999
    assert torch.allclose(full[0, :, int(first):int(first + count)], crop[0], atol=1e-4)


def test_gradients_reach_the_parameters():
    g = torch.tensor([20.0], requires_grad=True)
    d = torch.tensor([1.5], requires_grad=True)
    img = torch.rand(1, 40, 40, 1)
    fy = gaussian_filterbank(g, d, stride_to_sigma(d), 8, 40)
    fx = gaussian_filterbank(g, d, stride_to_sigma(d), 8, 40)
    read_with_filterbanks(img, fy, fx).sum().backward()
    assert g.grad is not None and d.grad is not None and torch.isfinite(g.grad).all()


@pytest.mark.parametrize("stride", [0.5, 1.0, 1.9])
def test_sigma_grows_with_stride(stride):
    s = stride_to_sigma(torch.tensor([stride, stride * 2]))
    assert s[1] > s[0] >= 0.5
