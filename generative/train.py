"""Training DRAW, alignDRAW and the digit classifier: one resumable, seeded loop.

Each model is a :class:`Task` (how to build the model, draw a batch from a numpy random
generator, compute the loss, and validate). :func:`train` runs Adam with gradient clipping,
shows a tqdm bar, replaces ``OUT/checkpoint.pt`` atomically every ``checkpoint_every`` steps
(model, optimiser, step, time, torch and numpy random states) and at the end writes
``OUT/<model_id>.pt`` with :func:`attentrack.generative.registry.save_weights`. ``resume=True``
continues from the checkpoint with the same random streams, so an interrupted run ends
where an uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from attentrack.generative.registry import GenerativeModel, save_weights
from attentrack.tracker.atomic import AtomicPath
from attentrack.tracker.errors import InputError


@dataclass
class Task:
    """What :func:`train` needs to know about one model.

    Attributes:
        model: the model to train.
        batch: ``batch(rng, size) -> tuple of tensors``.
        loss: ``loss(model, batch, step) -> (scalar loss, {name: float})`` (``step``: 0-based
            optimiser step, for schedules such as a KL warm-up).
        validate: ``validate(model) -> {name: float}`` on fixed held-out data, or ``None``.
        describe: data description stored with the weights.
    """

    model: GenerativeModel
    batch: Callable[[np.random.Generator, int], tuple]
    loss: Callable[[GenerativeModel, tuple, int], tuple[torch.Tensor, dict[str, float]]]
    validate: Callable[[GenerativeModel], dict[str, float]] | None = None
    describe: str = ""


@dataclass
class TrainOptions:
    """Options of :func:`train`.

    Attributes:
        out: output folder (``checkpoint.pt``, ``<model_id>.pt``, ``log.jsonl``).
        steps: optimiser steps; batch: images per step.
        lr: Adam learning rate, with a cosine decay to ``lr / 10`` over the run: the run's
            progress is ``step / steps``, or the elapsed share of ``max_minutes`` when that is
            further along (so a time-limited run on a busy machine still ends at ``lr / 10``).
        clip: gradient-norm clip.
        seed: seeds torch and the numpy data generator.
        threads: torch threads.
        checkpoint_every, val_every: in steps (``val_every = 0``: validate only at the end).
        resume: continue from ``OUT/checkpoint.pt``.
        max_minutes: stop (and save) after this long; stop_after: after this many steps of this run.
        progress: show a progress bar.
    """

    out: str
    steps: int = 10000
    batch: int = 64
    lr: float = 1e-3
    clip: float = 10.0
    seed: int = 0
    threads: int = 1
    checkpoint_every: int = 500
    val_every: int = 1000
    resume: bool = False
    max_minutes: float = 0.0
    stop_after: int = 0
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def train(task: Task, opts: TrainOptions) -> dict[str, Any]:
    """Train ``task.model``; returns a summary (steps, seconds, last losses, validation, weights path).

    Raises:
        InputError: an unreadable checkpoint or one of another model.
    """
    torch.set_num_threads(max(1, opts.threads))
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    out_dir = Path(opts.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"
    model = task.model
    optim = torch.optim.Adam(model.parameters(), lr=opts.lr)
    step, seconds = 0, 0.0
    if opts.resume and ckpt_path.is_file():
        try:
            ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            if ck["model_id"] != model.model_id or ck["config"] != model.config.to_dict():
                raise ValueError(f"checkpoint of {ck['model_id']} {ck['config']}, not of this model")
            model.load_state_dict(ck["model"])
            optim.load_state_dict(ck["optimizer"])
            step, seconds = int(ck["step"]), float(ck["seconds"])
            torch.set_rng_state(ck["torch_rng"])
            rng.bit_generator.state = json.loads(ck["data_rng"])
        except Exception as exc:
            raise InputError(f"cannot resume from {ckpt_path}: {type(exc).__name__}: {exc}"[:400]) from None

    def save_checkpoint() -> None:
        ap = AtomicPath(ckpt_path)
        try:
            torch.save({"model_id": model.model_id, "config": model.config.to_dict(), "model": model.state_dict(),
                        "optimizer": optim.state_dict(), "step": step, "seconds": seconds,
                        "torch_rng": torch.get_rng_state(), "data_rng": json.dumps(rng.bit_generator.state)}, ap.tmp)
        except BaseException:
            ap.abort()
            raise
        ap.commit()

    def log(record: dict) -> None:
        with open(out_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")

    bar = None
    if opts.progress:
        from tqdm import tqdm

        bar = tqdm(total=opts.steps, initial=step, desc=f"train {model.model_id}", dynamic_ncols=True)
    t0 = time.perf_counter() - seconds
    first = step
    ema: dict[str, float] = {}
    val: dict[str, float] = {}
    model.train()
    try:
        while step < opts.steps:
            if opts.max_minutes and time.perf_counter() - t0 > opts.max_minutes * 60:
                break
            if opts.stop_after and step - first >= opts.stop_after:
                break
            progress = step / opts.steps
            if opts.max_minutes:
                progress = max(progress, (time.perf_counter() - t0) / (opts.max_minutes * 60))
            lr = opts.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
            for g in optim.param_groups:
                g["lr"] = lr
            batch = task.batch(rng, opts.batch)
            loss, terms = task.loss(model, batch, step)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), opts.clip)
            optim.step()
            step += 1
            ema = {k: v if not ema else 0.98 * ema[k] + 0.02 * v for k, v in terms.items()}
            seconds = time.perf_counter() - t0
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v:.2f}" for k, v in {**ema, **val}.items()})
            if opts.val_every and step % opts.val_every == 0 and task.validate is not None:
                model.eval()
                val = {f"val_{k}": v for k, v in task.validate(model).items()}
                model.train()
                log({"step": step, "seconds": round(seconds, 1), **{k: round(v, 4) for k, v in {**ema, **val}.items()}})
            if step % opts.checkpoint_every == 0:
                save_checkpoint()
    finally:
        if bar is not None:
            bar.close()
    save_checkpoint()
    model.eval()
    if task.validate is not None:
        val = {f"val_{k}": v for k, v in task.validate(model).items()}
    summary = {"model": model.model_id, "steps": step, "seconds": round(seconds, 1), "batch": opts.batch,
               "seed": opts.seed, **{k: round(v, 4) for k, v in {**ema, **val}.items()}}
    log(summary)
    weights = out_dir / f"{model.model_id}.pt"
    save_weights(model, weights, extra={"training": json.dumps({**summary, "data": task.describe, **opts.extra})})
    summary["weights"] = str(weights)
    return summary
