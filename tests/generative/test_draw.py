"""DRAW: the bound's terms, and that it learns on real MNIST digits."""

import numpy as np
import pytest
import torch

from attentrack.generative.data import binarise_batch, binarise_fixed, official_test_digits
from attentrack.generative.draw import DRAW, DRAWConfig, DRAWOutput, gaussian_kl, variational_loss
from attentrack.generative.tasks import kl_weight

torch.set_num_threads(1)
TINY = DRAWConfig(steps=4, enc_units=32, dec_units=32, latent=8)


def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, ls, pm, pls = (torch.randn(5, 3) * 0.5 for _ in range(4))
    want = torch.distributions.kl_divergence(torch.distributions.Normal(mu, ls.exp()),
                                             torch.distributions.Normal(pm, pls.exp()))
    assert torch.allclose(gaussian_kl(mu, ls, pm, pls), want, atol=1e-5)


def test_bound_is_reconstruction_plus_kl_and_kl_vanishes_at_the_prior():
    x = (torch.rand(2, 28, 28) > 0.5).float()
    z = torch.zeros(3, 2, 4)
    out = DRAWOutput(torch.zeros(2, 28, 28), z, z, z, z)
    terms = variational_loss(out, x)
    assert torch.allclose(terms.kl, torch.zeros(2))
    assert torch.allclose(terms.reconstruction, torch.full((2,), 784 * np.log(2.0)), rtol=1e-5)
    assert torch.allclose(terms.total, terms.reconstruction + terms.kl)


def test_shapes_and_sampling():
    model = DRAW(TINY)
    out = model(torch.rand(3, 28, 28))
    assert out.logits.shape == (3, 28, 28) and out.mu.shape == (4, 3, 8)
    d = model.sample(5, torch.Generator().manual_seed(0))
    assert d.canvases.shape == (4, 5, 28, 28) and d.write_boxes.shape == (4, 5, 4)
    assert float(d.canvases.min()) >= 0 and float(d.canvases.max()) <= 1


def test_kl_warmup():
    assert kl_weight(0, 100) == 0 and kl_weight(50, 100) == 0.5 and kl_weight(500, 100) == 1
    assert kl_weight(0, 0) == 1


@pytest.mark.slow
def test_draw_learns_on_real_digits(data_dir):
    """With the KL weight still near 0 (early warm-up) the reconstruction through the 2x2 read
    and 5x5 write falls well below the mean-digit baseline the canvas starts at."""
    torch.manual_seed(0)
    digits = official_test_digits(data_dir, 1200)[0]
    train_x, x = digits[:1000], binarise_fixed(digits[1000:])
    model = DRAW(TINY)
    model.core.init_canvas(torch.from_numpy(train_x.mean(0)))
    rng = np.random.default_rng(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def reconstruction():
        with torch.no_grad():
            torch.manual_seed(1)
            return float(variational_loss(model(x), x).reconstruction.mean())

    before = reconstruction()
    for _ in range(40):
        xb = binarise_batch(rng, train_x, 32)
        loss = variational_loss(model(xb), xb).reconstruction.mean()  # KL weight 0: early warm-up
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = reconstruction()
    assert after < before - 5, (before, after)  # before: the mean digit, ~ 260 nats on these 200
