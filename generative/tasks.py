"""The training tasks (:class:`attentrack.generative.train.Task`) of DRAW, alignDRAW and the digit classifier."""

from __future__ import annotations

import os

import numpy as np
import torch

from attentrack.generative.aligndraw import AlignDRAW, AlignDRAWConfig
from attentrack.generative.data import binarise_batch, binarise_fixed, official_test_digits, training_digits
from attentrack.generative.draw import DRAW, DRAWConfig, variational_loss
from attentrack.generative.train import Task


def kl_weight(step: int, warmup: int) -> float:
    """The KL weight of a linear warm-up from 0 to 1 over ``warmup`` steps (1 when ``warmup`` is 0).

    Without it DRAW's posterior often collapses early (KL near 0: the canvas becomes the
    mean digit); the bound reported is always the full one (weight 1)."""
    return 1.0 if warmup <= 0 else min(1.0, step / warmup)


def draw_task(config: DRAWConfig, root: str | os.PathLike | None = None, val_count: int = 1000,
              kl_warmup: int = 0) -> Task:
    """DRAW on the 5k MNIST training digits (stochastically binarised per batch), validated
    by the bound on the first ``val_count`` test digits (fixed binarisation); the KL term is
    warmed up over ``kl_warmup`` steps (:func:`kl_weight`)."""
    train_x, _ = training_digits(root)
    val_x = binarise_fixed(official_test_digits(root, val_count)[0]) if val_count else None

    def loss(model, batch, step):
        (x,) = batch
        terms = variational_loss(model(x), x)
        objective = (terms.reconstruction + kl_weight(step, kl_warmup) * terms.kl).mean()
        return objective, {"bound": float(terms.total.detach().mean()), "kl": float(terms.kl.detach().mean())}

    def validate(model):
        from attentrack.generative.evaluate import variational_bound

        return {"bound": variational_bound(model, val_x).bound}

    model = DRAW(config)
    model.core.init_canvas(torch.from_numpy(train_x.mean(0)))
    return Task(model, lambda rng, n: (binarise_batch(rng, train_x, n),), loss,
                validate if val_x is not None else None,
                describe=f"mnist_5k.csv.gz ({len(train_x)} training digits), stochastic binarisation per batch")


def _caption_tensors(comps) -> tuple[torch.Tensor, torch.Tensor]:
    from attentrack.datasets.mnist_captions import encode_captions

    tokens, lengths = encode_captions([c.caption for c in comps])
    return torch.from_numpy(tokens), torch.from_numpy(lengths)


def aligndraw_task(config: AlignDRAWConfig, root: str | os.PathLike | None = None, val_count: int = 256,
                   kl_warmup: int = 0, two_digit_fraction: float = 0.5) -> Task:
    """The training task of alignDRAW on MNIST-with-captions canvases generated on the fly from the 5k training
    digits (training compositions only; stochastically binarised per batch), validated by the
    bound on ``val_count`` fixed canvases of test digits in held-out compositions."""
    from attentrack.datasets.mnist_captions import CaptionedDigits

    train_x, train_y = training_digits(root)
    stream = CaptionedDigits(train_x, train_y, "train", two_digit_fraction)
    val = None
    if val_count:
        test_x, test_y = official_test_digits(root)
        vrng = np.random.default_rng(12345)
        imgs, comps = CaptionedDigits(test_x, test_y, "held_out", two_digit_fraction).batch(vrng, val_count)
        val = (binarise_fixed(imgs), *_caption_tensors(comps))

    def batch(rng, n):
        imgs, comps = stream.batch(rng, n)
        x = torch.from_numpy((rng.random(imgs.shape, dtype=np.float32) < imgs).astype(np.float32))
        return (x, *_caption_tensors(comps))

    def loss(model, b, step):
        x, tokens, lengths = b
        terms = variational_loss(model(x, tokens, lengths), x)
        objective = (terms.reconstruction + kl_weight(step, kl_warmup) * terms.kl).mean()
        return objective, {"bound": float(terms.total.detach().mean()), "kl": float(terms.kl.detach().mean())}

    @torch.no_grad()
    def validate(model):
        x, tokens, lengths = val
        torch.manual_seed(0)
        return {"held_out_bound": float(variational_loss(model(x, tokens, lengths), x).total.mean())}

    model = AlignDRAW(config)
    model.core.init_canvas(torch.from_numpy(stream.batch(np.random.default_rng(99), 2000)[0].mean(0)))
    return Task(model, batch, loss, validate if val is not None else None,
                describe=(f"MNIST with captions generated from mnist_5k.csv.gz ({len(train_x)} training digits), "
                          f"{two_digit_fraction:.0%} two-digit canvases, held-out compositions excluded, "
                          "stochastic binarisation per batch"))
