"""The fast forms of HART's building blocks compute what their plain PyTorch forms compute."""

import torch
import torch.nn.functional as F

from attentrack.tracker.attention.filterbank import gaussian_filterbank, normalise_rows
from attentrack.tracker.hart.modules import DynamicConv, contrast_normalise, unit_channels


def test_contrast_normalise_of_a_flat_glimpse_has_a_finite_gradient():
    """A window wholly off the image reads a flat (all-zero) glimpse: sqrt'(0) is infinite, and
    an unguarded std turned the whole model's gradient into NaN in training."""
    g = torch.zeros(2, 3, 8, 8, requires_grad=True)
    out = contrast_normalise(g * 2.0 + torch.tensor([0.0, 5.0]).view(2, 1, 1, 1))
    out.sum().backward()
    assert torch.isfinite(g.grad).all() and torch.equal(out, torch.zeros_like(out))


def test_contrast_normalise_uses_the_unbiased_std():
    g = torch.rand(4, 3, 16, 16) * 255
    flat = g.reshape(4, -1)
    expected = ((flat - flat.mean(1, keepdim=True)) / (flat.std(1, keepdim=True) + 1.0)).reshape_as(g)
    assert torch.allclose(contrast_normalise(g), expected, atol=1e-5)


def test_unit_channels_is_f_normalize():
    x = torch.randn(3, 8, 5, 5)
    x[0, :, 0, 0] = 0  # the eps floor: zero vectors stay zero
    assert torch.allclose(unit_channels(x), F.normalize(x, dim=1), atol=1e-6)


def test_dynamic_1x1_matrix_product_equals_grouped_convolution():
    torch.manual_seed(0)
    dyn = DynamicConv(10, 6, 4, 1)
    x, cond = torch.randn(3, 6, 7, 7), torch.randn(3, 10)
    out, params = dyn(x, cond)
    w = params[:, :24].reshape(12, 6, 1, 1)
    ref = F.conv2d(x.reshape(1, 18, 7, 7), w, params[:, 24:].reshape(12), groups=3).reshape(3, 4, 7, 7)
    assert torch.allclose(out, ref, atol=1e-5)


def test_unnormalised_filterbank_cut_then_normalised_equals_the_short_one():
    centre, stride, sigma = torch.tensor([9.0, 20.0]), torch.tensor([1.3, 0.8]), torch.tensor([0.7, 0.6])
    long = gaussian_filterbank(centre, stride, sigma, 6, 40, start=torch.tensor([2.0, 5.0]), eps=None)
    short = gaussian_filterbank(centre, stride, sigma, 6, 25, start=torch.tensor([2.0, 5.0]))
    assert torch.allclose(normalise_rows(long[:, :, :25]), short, atol=1e-6)
    assert torch.allclose(short.sum(2), torch.ones(2, 6), atol=1e-5)


def test_pointwise_conv_equals_the_convolution():
    from torch import nn

    from attentrack.tracker.hart.modules import pointwise_conv

    for bias in (True, False):
        conv = nn.Conv2d(6, 4, 1, bias=bias)
        x = torch.randn(3, 6, 5, 7)
        assert torch.allclose(pointwise_conv(conv, x), conv(x), atol=1e-5)
