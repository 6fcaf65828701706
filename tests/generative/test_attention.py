"""DRAW's read/write attention: the shared filterbank, and its key properties."""

import numpy as np
import torch

import attentrack.tracker.attention.filterbank as fb
from attentrack.generative import attention
from attentrack.generative.attention import read, window_from_params, write

torch.set_num_threads(1)


def _params(b, gx=0.0, gy=0.0, log_var=0.0, log_dt=0.0, log_gamma=0.0):
    return torch.tensor([[gx, gy, log_var, log_dt, log_gamma]] * b, dtype=torch.float32)


def test_draw_and_hart_share_one_filterbank_function():
    assert attention.gaussian_filterbank is fb.gaussian_filterbank
    assert attention.read_with_filterbanks is fb.read_with_filterbanks
    assert attention.write_with_filterbanks is fb.write_with_filterbanks


def test_paper_grid_centre_stride_and_means():
    a, b, n = 28, 20, 5
    p = torch.tensor([[0.3, -0.4, np.log(1.5 ** 2), np.log(0.3), 0.0]], dtype=torch.float32)
    w = window_from_params(p, b, a, n)
    assert torch.isclose(w.gx, torch.tensor([(a + 1) / 2 * 1.3]))
    assert torch.isclose(w.gy, torch.tensor([(b + 1) / 2 * 0.6]))
    assert torch.isclose(w.delta, torch.tensor([(max(a, b) - 1) / (n - 1) * 0.3]))
    # filter means (1-based positions): mu_i = g + (i - N/2 - 0.5) delta, i = 1..N
    positions = torch.arange(a, dtype=torch.float32) + 1.0
    mu = (w.fx[0] * positions).sum(1)
    i = torch.arange(1, n + 1, dtype=torch.float32)
    assert torch.allclose(mu, w.gx + (i - n / 2 - 0.5) * w.delta, atol=1e-3)


def test_rows_sum_to_one():
    torch.manual_seed(0)
    p = torch.randn(6, 5) * 0.3
    p[:, 3] -= 0.7  # windows within the image (a filter wholly outside it sums to ~0 instead)
    w = window_from_params(p, 60, 60, 8)
    assert torch.allclose(w.fx.sum(-1), torch.ones(6, 8), atol=1e-4)
    assert torch.allclose(w.fy.sum(-1), torch.ones(6, 8), atol=1e-4)


def test_write_is_the_transpose_of_read():
    torch.manual_seed(0)
    w = window_from_params(torch.randn(3, 5) * 0.3, 20, 24, 6)
    x = torch.randn(3, 20, 24)
    patch = torch.randn(3, 6, 6)
    glimpse = read(x, torch.zeros_like(x), w)[:, :36].reshape(3, 6, 6)  # gamma F_Y x F_X^T
    lhs = (glimpse * patch).sum((1, 2)) / w.gamma
    rhs = (x * write(patch, w)).sum((1, 2)) * w.gamma
    assert torch.allclose(lhs, rhs, rtol=1e-4, atol=1e-4)


def test_full_image_window_with_tiny_sigma_reads_the_image():
    torch.manual_seed(1)
    x = torch.rand(2, 28, 28)
    w = window_from_params(_params(2, log_var=np.log(0.05 ** 2)), 28, 28, 28)  # N = A, stride 1
    assert torch.allclose(w.delta, torch.ones(2))
    r = read(x, 1 - x, w).reshape(2, 2, 28, 28)
    assert torch.allclose(r[:, 0], x, atol=1e-4) and torch.allclose(r[:, 1], 1 - x, atol=1e-4)
    # and writing the image back through the same window gives it unchanged
    assert torch.allclose(write(x, w), x, atol=1e-4)


def test_window_box_spans_the_filters():
    w = window_from_params(_params(1), 28, 28, 28)
    assert torch.allclose(w.boxes(), torch.tensor([[0.0, 0.0, 28.0, 28.0]]), atol=1e-4)
