"""The SQAIR objective: the importance-weighted bound (IWAE) with VIMCO for the presences.

With ``K`` particles and importance log-weights ``log w_k = log p(x, z_k) - log q(z_k | x)``
the bound is ``L = log (1/K) sum_k w_k`` (Burda et al. 2016); for ``K = 1`` it is the ELBO.
Continuous latents are reparameterised, so ``grad L`` flows through them directly. The
discrete presences get the VIMCO score-function term (Mnih & Rezende 2016): particle ``k``'s
learning signal is ``L - L_{-k}``, where ``L_{-k}`` is the bound with ``log w_k`` replaced by
the mean of the other particles' log-weights, a baseline that does not depend on particle
``k``'s own sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def iwae_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """``(B, K)`` log-weights -> ``(B,)`` bound ``log mean_k exp(log_weights)`` (nats)."""
    k = log_weights.shape[-1]
    return torch.logsumexp(log_weights, -1) - math.log(k)


def vimco_baselines(log_weights: torch.Tensor) -> torch.Tensor:
    """``(B, K)`` -> ``(B, K)`` leave-one-out bounds ``L_{-k}``.

    ``L_{-k}`` is the IWAE bound with particle ``k``'s log-weight replaced by the mean of the
    other ``K - 1`` log-weights, so it does not depend on ``log_weights[:, k]``. Needs ``K >= 2``.
    """
    b, k = log_weights.shape
    if k < 2:
        raise ValueError("VIMCO needs at least 2 particles")
    others_mean = (log_weights.sum(-1, keepdim=True) - log_weights) / (k - 1)
    eye = torch.eye(k, dtype=torch.bool, device=log_weights.device)
    # row k of the (B, K, K) matrix: the log-weights with entry k replaced
    replaced = torch.where(eye, others_mean[:, :, None], log_weights[:, None, :])
    return torch.logsumexp(replaced, -1) - math.log(k)


@dataclass
class SQAIRLossTerms:
    """One batch's loss.

    Attributes:
        total: the scalar to minimise (negative bound plus the VIMCO surrogate).
        bound: mean IWAE bound per sequence (nats; no gradient).
        bound_per_frame: ``bound`` divided by the number of frames.
    """

    total: torch.Tensor
    bound: float
    bound_per_frame: float


class SQAIRLoss:
    """``-IWAE`` plus the VIMCO score-function surrogate for the presence variables."""

    def __call__(self, log_weights: torch.Tensor, log_q_pres: torch.Tensor, n_frames: int = 1) -> SQAIRLossTerms:
        """Build the loss.

        Args:
            log_weights: ``(B, K)`` importance log-weights (with gradient).
            log_q_pres: ``(B, K)`` log-probability of the sampled presences under the
                posterior (with gradient).
            n_frames: frames per sequence (for the per-frame report only).
        """
        bound = iwae_bound(log_weights)
        total = -bound.mean()
        if log_weights.shape[-1] > 1:
            signal = (bound[:, None] - vimco_baselines(log_weights)).detach()
            total = total - (signal * log_q_pres).sum(-1).mean()
        b = float(bound.detach().mean())
        return SQAIRLossTerms(total, b, b / max(n_frames, 1))
