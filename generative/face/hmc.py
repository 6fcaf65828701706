"""Hamiltonian Monte Carlo (Neal 2011) over a batch of independent chains.

Each chain ``b`` samples ``p_b(q) ~ exp(log_prob(q)[b])`` for ``q`` in ``R^D``: leapfrog
integration of Hamiltonian dynamics with unit mass in the coordinates ``y = q / scale``
(``scale`` is a diagonal preconditioner, the square root of the inverse mass), gradients by
autograd, then a Metropolis accept/reject of the end point. During the first ``adapt``
iterations each chain's step size is nudged toward the target acceptance rate (those
iterations are burn-in; with ``adapt = 0`` the chain is exactly reversible and leaves ``p``
invariant). The chains of all images and all starts run as one batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass
class HMCResult:
    """The outcome of :func:`hmc`.

    Attributes:
        best: ``(B, D)`` the highest-``log_prob`` state each chain visited (after burn-in or not).
        best_log_prob: ``(B,)`` its log-probability.
        last: ``(B, D)`` the final state.
        samples: ``(N, B, D)`` the states after each post-adaptation iteration (empty when not kept).
        accept_rate: ``(B,)`` fraction of accepted proposals after adaptation (all
            iterations when ``adapt`` is 0).
        step_size: ``(B,)`` the final step sizes (in the preconditioned coordinates).
    """

    best: torch.Tensor
    best_log_prob: torch.Tensor
    last: torch.Tensor
    samples: torch.Tensor
    accept_rate: torch.Tensor
    step_size: torch.Tensor


def _value_and_grad(log_prob: Callable[[torch.Tensor], torch.Tensor], q: torch.Tensor):
    with torch.enable_grad():
        q = q.detach().requires_grad_(True)
        lp = log_prob(q)
        (grad,) = torch.autograd.grad(lp.sum(), q)
    lp = lp.detach()
    bad = ~torch.isfinite(lp)
    grad = torch.nan_to_num(grad.detach(), nan=0.0, posinf=0.0, neginf=0.0)
    return torch.where(bad, torch.full_like(lp, -math.inf), lp), grad


def hmc(log_prob: Callable[[torch.Tensor], torch.Tensor], q0: torch.Tensor, steps: int, leapfrog: int = 5,
        step_size: float | torch.Tensor = 0.1, scale: torch.Tensor | None = None, adapt: int = 0,
        target_accept: float = 0.65, keep_samples: bool = False,
        generator: torch.Generator | None = None) -> HMCResult:
    """Run ``steps`` HMC iterations of ``B`` independent chains.

    Args:
        log_prob: ``(B, D) -> (B,)`` unnormalised log-density, differentiable; row ``b`` may
            depend only on row ``b`` of its input.
        q0: ``(B, D)`` starting states.
        steps: iterations (each: ``leapfrog`` leapfrog steps, then accept/reject).
        leapfrog: leapfrog steps per iteration.
        step_size: initial leapfrog step in the preconditioned coordinates (scalar or ``(B,)``).
        scale: ``(D,)`` or ``(B, D)`` per-coordinate length scales (default 1).
        adapt: the first ``adapt`` iterations adapt each chain's step size toward
            ``target_accept`` (burn-in; not in ``samples`` nor ``accept_rate``).
        target_accept: the acceptance rate the adaptation aims at.
        keep_samples: keep every post-adaptation state in ``samples``.
        generator: random generator for the momenta and the accept decisions.
    """
    b, d = q0.shape
    scale = torch.ones(d, dtype=q0.dtype, device=q0.device) if scale is None else scale.to(q0)
    scale = scale.expand(b, d)
    eps = torch.as_tensor(step_size, dtype=q0.dtype, device=q0.device).expand(b).clone()

    def logp_y(y):
        return log_prob(y * scale)

    y = q0.detach() / scale
    lp, grad = _value_and_grad(logp_y, y)
    best, best_lp = y.clone(), lp.clone()
    accepted = torch.zeros(b, dtype=q0.dtype, device=q0.device)
    counted = 0
    kept = []
    for it in range(steps):
        p0 = torch.randn(b, d, dtype=q0.dtype, device=q0.device, generator=generator)
        e = eps[:, None]
        y1, g1 = y, grad
        p = p0 + 0.5 * e * g1
        lp1 = lp
        for k in range(leapfrog):
            y1 = y1 + e * p
            lp1, g1 = _value_and_grad(logp_y, y1)
            if k < leapfrog - 1:
                p = p + e * g1
        p = p + 0.5 * e * g1
        log_ratio = (lp1 - 0.5 * p.pow(2).sum(1)) - (lp - 0.5 * p0.pow(2).sum(1))
        log_ratio = torch.nan_to_num(log_ratio, nan=-math.inf)
        accept_prob = torch.exp(log_ratio.clamp(max=0.0))
        u = torch.rand(b, dtype=q0.dtype, device=q0.device, generator=generator)
        acc = u < accept_prob
        y = torch.where(acc[:, None], y1, y)
        lp = torch.where(acc, lp1, lp)
        grad = torch.where(acc[:, None], g1, grad)
        improved = lp > best_lp
        best = torch.where(improved[:, None], y, best)
        best_lp = torch.where(improved, lp, best_lp)
        if it < adapt:
            eps = eps * torch.exp(0.5 * (accept_prob - target_accept)).clamp(0.5, 2.0)
        else:
            accepted += acc.to(q0.dtype)
            counted += 1
            if keep_samples:
                kept.append((y * scale).clone())
    samples = torch.stack(kept) if kept else q0.new_zeros(0, b, d)
    rate = accepted / max(counted, 1)
    return HMCResult(best * scale, best_lp, y * scale, samples, rate, eps)
