"""HMC leaves its target invariant: started in the target, the chains keep its mean and covariance."""

from __future__ import annotations

import torch

from attentrack.generative.face.hmc import hmc


def _gaussian(mean, cov):
    prec = torch.linalg.inv(cov)

    def log_prob(q):
        d = q - mean
        return -0.5 * ((d @ prec) * d).sum(1)

    return log_prob


def test_hmc_recovers_a_correlated_gaussian(one_thread):
    mean = torch.tensor([1.0, -2.0], dtype=torch.float64)
    cov = torch.tensor([[2.0, 0.8], [0.8, 1.0]], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    start = mean + torch.randn(200, 2, dtype=torch.float64, generator=g) @ torch.linalg.cholesky(cov).T
    res = hmc(_gaussian(mean, cov), start, steps=40, leapfrog=4, step_size=0.5, keep_samples=True, generator=g)
    s = res.samples.reshape(-1, 2)
    assert torch.allclose(s.mean(0), mean, atol=0.1)
    assert torch.allclose(torch.cov(s.T), cov, atol=0.2)
    assert 0.5 < float(res.accept_rate.mean()) <= 1.0


def test_hmc_from_far_away_finds_the_mode_and_adapts_the_step():
    mean = torch.tensor([5.0, 5.0], dtype=torch.float64)
    cov = torch.diag(torch.tensor([0.01, 0.01], dtype=torch.float64))
    g = torch.Generator().manual_seed(1)
    res = hmc(_gaussian(mean, cov), torch.zeros(8, 2, dtype=torch.float64), steps=80, leapfrog=5, step_size=1.0,
              adapt=40, generator=g)
    assert torch.allclose(res.best, mean.expand(8, 2), atol=0.1)
    assert float(res.step_size.max()) < 1.0  # a step of 1 is far too long for sd 0.1: adaptation shrank it


def test_scale_preconditions_and_rejects_nonfinite():
    def log_prob(q):
        lp = -0.5 * ((q[:, 0] / 100.0) ** 2 + q[:, 1] ** 2)
        return torch.where(q[:, 1] > 3.0, torch.full_like(lp, float("nan")), lp)

    g = torch.Generator().manual_seed(2)
    res = hmc(log_prob, torch.zeros(200, 2, dtype=torch.float64), steps=100, leapfrog=4, step_size=0.5,
              scale=torch.tensor([100.0, 1.0], dtype=torch.float64), keep_samples=True, generator=g)
    s = res.samples.reshape(-1, 2)
    assert 80 < float(s[:, 0].std()) < 120
    assert float(s[:, 1].max()) <= 3.0
