"""Fitting SQAIR unsupervised on the foreground canvases of one camera (:func:`fit_cctv`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.cctv.blobs import blob_frames, foreground_blobs
from attentrack.tracker.sqair.config import SQAIRConfig
from attentrack.tracker.sqair.model import SQAIR


def fit_cctv(canvases: list[np.ndarray], out: str | Path, config: SQAIRConfig, steps: int = 600,
             resume: bool = True, max_minutes: float = 0.0, seed: int = 0, progress: bool = True,
             lr: float = 5e-4, batch: int = 8, particles: int = 3, pretrain_steps: int = 1500,
             discovery_warmup: int | None = None) -> SQAIR:
    """Fit SQAIR unsupervised on foreground canvases of one camera.

    A fresh fit first pre-trains the glimpse coder on the canvases' own foreground blobs
    (:func:`foreground_blobs`; :func:`attentrack.tracker.sqair.pretrain.pretrain_glimpses`), so that the
    decoder can render a whole person before any sequence is seen, and discovery runs only on
    each sub-sequence's first frame for the first ``discovery_warmup`` steps, so that
    propagation learns to follow.

    Args:
        canvases: ``(T_i, H, W)`` canvas videos (each at least 2 frames).
        out: folder for ``checkpoint.pt`` (resumed from when present) and ``sqair.pt``.
        config: model settings (its canvas must match the canvases).
        steps: total optimiser steps.
        resume: continue from ``out/checkpoint.pt`` when it exists.
        max_minutes: stop early (and save) after this long; 0 = no limit.
        seed: random seed (initialisation, pre-training, training); with a step budget
            (``max_minutes`` 0) a fit is repeatable on one machine and thread count.
        progress: progress bar.
        lr: Adam learning rate.
        batch: sub-sequences per step.
        particles: ``K`` of the IWAE bound.
        pretrain_steps: glimpse pre-training steps (0: none; also none without blobs).
        discovery_warmup: steps with discovery on the first frame only (default: a third of
            ``steps``).

    Returns:
        the fitted model (in eval mode).
    """
    from attentrack.tracker.sqair.pretrain import GlimpsePretrainOptions, pretrain_glimpses
    from attentrack.tracker.sqair.train import TrainOptions, train

    videos = [np.asarray(c) for c in canvases if len(c) >= 2]  # float16 or float32; drawn as float32
    if not videos:
        raise InputError("fitting needs a video of at least 2 frames")
    if videos[0].shape[1:] != (config.height, config.width):
        raise InputError(f"canvases are {videos[0].shape[2]}x{videos[0].shape[1]}, the model's canvas is "
                         f"{config.width}x{config.height}")
    shortest = min(len(v) for v in videos)
    max_len = min(8, shortest)

    def draw(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
        out_b = np.empty((n, length, config.height, config.width), np.float32)
        for i in range(n):
            v = videos[rng.integers(len(videos))]
            start = rng.integers(0, len(v) - length + 1)
            out_b[i] = v[start:start + length]
            if rng.random() < 0.5:  # mirror: people walk both ways
                out_b[i] = out_b[i, :, :, ::-1]
        return out_b

    def pretrain(model: SQAIR) -> None:
        crops = np.concatenate([foreground_blobs(blob_frames(v))[1] for v in videos])
        if len(crops):
            pretrain_glimpses(model, crops, GlimpsePretrainOptions(steps=pretrain_steps, seed=seed))

    opts = TrainOptions(out=str(out), steps=steps, batch=batch, particles=particles, lr=lr,
                        min_length=min(3, max_len), max_length=max_len, grow_every=max(1, steps // 8),
                        checkpoint_every=50, log_every=25, seed=seed, resume=resume,
                        max_minutes=max_minutes, progress=progress, config=config.to_dict(),
                        discovery_warmup=steps // 3 if discovery_warmup is None else discovery_warmup)
    torch.manual_seed(seed)  # the initialisation is part of the seeded run
    model = SQAIR(config)
    train(opts, draw, model, fresh_start=pretrain if pretrain_steps else None)
    model.eval()
    return model
