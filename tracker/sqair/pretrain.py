"""Pre-training SQAIR's glimpse coder on whole digits, before any sequence is seen.

Early in SQAIR training the glimpse decoder renders only faint blobs, and two or three
objects then explain a digit better than one (see the model card): the model learns to split
digits, and more training deepens the split. Here the decoder is first trained as the
decoder of a VAE over glimpses of single whole digits read through windows like the prior's,
with a Gaussian pixel likelihood (sharper than SQAIR's ``config.sigma``, so that the codes
carry the digit's shape rather than a blob) and SQAIR's ``what`` prior ``N(0, I)``. The VAE's
encoder is SQAIR's discovery glimpse encoder and ``what`` head (fed a zero recurrent state), so
discovery starts out able to code a whole digit too; the propagation glimpse encoder starts as
a copy of the discovery one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.distributions import Normal

from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.model import SQAIR


@dataclass
class GlimpsePretrainOptions:
    """Options of :func:`pretrain_glimpses`.

    Attributes:
        steps: optimiser steps; batch: digits per step; lr: Adam learning rate.
        scale_jitter: window side drawn log-uniform within ``+-scale_jitter`` of the prior mean.
        shift_jitter: window centre offset, uniform within ``+-shift_jitter`` of the window side.
        sigma: standard deviation of the VAE's Gaussian pixel likelihood (intensities 0-1).
        seed: seed of the digit sampling (the model's initialisation is the caller's).
    """

    steps: int = 1500
    batch: int = 64
    lr: float = 1e-3
    scale_jitter: float = 0.3
    shift_jitter: float = 0.1
    sigma: float = 0.1
    seed: int = 0


def digit_windows(model: SQAIR, digits: np.ndarray, rng: np.random.Generator, n: int,
                  opts: GlimpsePretrainOptions) -> torch.Tensor:
    """``n`` flat glimpses ``(n, g*g)`` of random digits, each centred on SQAIR's canvas and read
    through a window around the prior's (side and centre jittered as ``opts`` says).

    Args:
        model: gives the canvas size, the glimpse size and the window prior.
        digits: ``(N, h, w)`` float images in ``[0, 1]``, no larger than the canvas.
        rng: draws the digits and the jitter.
        n: number of glimpses.
        opts: the window jitter.
    """
    c = model.config
    dh, dw = digits.shape[1:]
    if dh > c.height or dw > c.width:
        raise InputError(f"digits of {dw}x{dh} px do not fit SQAIR's {c.width}x{c.height} canvas")
    canvas = np.zeros((n, c.height, c.width), np.float32)
    top, left = (c.height - dh) // 2, (c.width - dw) // 2
    canvas[:, top:top + dh, left:left + dw] = digits[rng.integers(len(digits), size=n)]
    prior = torch.sigmoid(model.discovery_where_prior().loc[:2]).numpy()  # window side / canvas, x and y
    side = prior[None] * np.exp(rng.uniform(-opts.scale_jitter, opts.scale_jitter, (n, 1)))
    side = np.clip(side, 1e-3, 0.999)
    # the digit's centre in normalised coordinates, plus a shift of up to shift_jitter sides
    centre = np.array([(2 * left + dw) / c.width - 1, (2 * top + dh) / c.height - 1], np.float32)
    shift = centre[None] + rng.uniform(-opts.shift_jitter, opts.shift_jitter, (n, 2)) * side * 2
    z_where = np.concatenate([np.log(side / (1 - side)), shift], 1).astype(np.float32)
    with torch.no_grad():
        return model.read(torch.from_numpy(canvas), torch.from_numpy(z_where)[:, None])[:, 0]


def glimpse_elbo(model: SQAIR, glimpses: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per-glimpse ELBO ``(n,)`` in nats of the glimpse VAE (SQAIR's discovery coder and decoder,
    pixel likelihood ``N(decoded, sigma^2)``)."""
    c = model.config
    e = model.disc_glimpse_enc(glimpses)
    loc, scale = model.disc_what(torch.cat([e, e.new_zeros(len(e), c.hidden)], -1))
    q = Normal(loc, scale)
    what = q.rsample()
    recon = model.decoder(what).flatten(1)
    log_lik = Normal(recon, sigma).log_prob(glimpses).sum(1)
    kl = (q.log_prob(what) - Normal(0.0, 1.0).log_prob(what)).sum(1)
    return log_lik - kl


def pretrain_glimpses(model: SQAIR, digits: np.ndarray, opts: GlimpsePretrainOptions | None = None) -> dict:
    """Train ``model``'s glimpse decoder, discovery glimpse encoder and ``what`` head as a VAE
    on whole digits (in place), then copy the discovery glimpse encoder into the propagation one.

    Returns:
        ``{"steps", "seconds", "elbo_first", "elbo_last"}``: the glimpse ELBO (nats per glimpse,
        mean of the first and of the last 50 steps).
    """
    opts = opts or GlimpsePretrainOptions()
    rng = np.random.default_rng(opts.seed)
    params = [*model.decoder.parameters(), *model.disc_glimpse_enc.parameters(), *model.disc_what.parameters()]
    optim = torch.optim.Adam(params, lr=opts.lr)
    history = []
    t0 = time.perf_counter()
    was_training = model.training
    model.train()
    for step in range(opts.steps):
        lr = opts.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / max(opts.steps, 1))))
        for g in optim.param_groups:
            g["lr"] = lr
        elbo = glimpse_elbo(model, digit_windows(model, digits, rng, opts.batch, opts), opts.sigma).mean()
        optim.zero_grad(set_to_none=True)
        (-elbo).backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        optim.step()
        history.append(float(elbo.detach()))
    model.prop_glimpse_enc.load_state_dict(model.disc_glimpse_enc.state_dict())
    model.train(was_training)
    k = min(50, len(history))
    return {"steps": opts.steps, "seconds": round(time.perf_counter() - t0, 1),
            "elbo_first": round(float(np.mean(history[:k])), 2) if history else None,
            "elbo_last": round(float(np.mean(history[-k:])), 2) if history else None}
