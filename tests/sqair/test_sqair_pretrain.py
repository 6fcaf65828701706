"""Glimpse pre-training: the VAE over whole-digit glimpses learns on real digits, reads the
digit where the prior's window is, and hands its encoder to propagation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attentrack.datasets.moving_mnist import load_digits
from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.config import SQAIRConfig
from attentrack.tracker.sqair.model import SQAIR
from attentrack.tracker.sqair.pretrain import GlimpsePretrainOptions, digit_windows, glimpse_elbo, pretrain_glimpses


def _small(decoder: str = "mlp"):
    return SQAIRConfig(height=32, width=32, max_objects=2, glimpse=10, what_dim=8, hidden=32, scale_prior=0.9,
                       decoder=decoder)


def test_window_without_jitter_reads_the_centred_digit():
    model = SQAIR(SQAIRConfig(height=28, width=28, glimpse=28, scale_prior=0.999))
    digit = np.zeros((1, 28, 28), np.float32)
    digit[0, 6:22, 10:18] = 1.0
    opts = GlimpsePretrainOptions(scale_jitter=0.0, shift_jitter=0.0)
    g = digit_windows(model, digit, np.random.default_rng(0), 1, opts).view(28, 28)
    assert torch.allclose(g, torch.from_numpy(digit[0]), atol=1e-2)


def test_digits_larger_than_the_canvas_are_refused():
    with pytest.raises(InputError, match="do not fit"):
        digit_windows(SQAIR(SQAIRConfig(height=20, width=20)), np.zeros((2, 28, 28), np.float32),
                      np.random.default_rng(0), 2, GlimpsePretrainOptions())


@pytest.mark.parametrize("decoder", ["mlp", "conv"])
@pytest.mark.slow
def test_pretraining_learns_on_real_digits(data_dir, decoder):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = SQAIR(_small(decoder))
        opts = GlimpsePretrainOptions(steps=150, batch=32, seed=0)
        held = digit_windows(model, load_digits("test", data_dir), np.random.default_rng(7), 200, opts)
        with torch.no_grad():
            before = float(glimpse_elbo(model, held, opts.sigma).mean())
        info = pretrain_glimpses(model, load_digits("train", data_dir), opts)
        with torch.no_grad():
            after = float(glimpse_elbo(model, held, opts.sigma).mean())
    finally:
        torch.set_num_threads(threads)
    # held-out test digits: the bound per 10x10 glimpse rises by far more than noise
    assert after > before + 50, (before, after)
    assert info["elbo_last"] > info["elbo_first"]
    for a, b in zip(model.prop_glimpse_enc.state_dict().values(), model.disc_glimpse_enc.state_dict().values()):
        assert torch.equal(a, b)
