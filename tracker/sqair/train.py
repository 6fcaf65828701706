"""Training SQAIR on Moving MNIST (or on any stream of frame batches), resumably.

Schedule: sequences start ``min_length`` frames long and grow by one frame every
``grow_every`` steps up to ``max_length`` (the original does not train without this
curriculum). Objective: the IWAE bound with ``particles`` samples and VIMCO for the
presences (:mod:`attentrack.tracker.sqair.losses`).

Every ``checkpoint_every`` steps ``OUT/checkpoint.pt`` is replaced atomically (model,
optimiser, step, elapsed time, torch and data random states); ``--resume`` continues from
it. At the end ``OUT/sqair.pt`` holds the weights (:func:`attentrack.tracker.sqair.model.save_weights`).

With a validation function (e.g. :func:`moving_mnist_validator`) the model is scored every
``validate_every`` steps and ``OUT/best.pt`` keeps the weights that scored best: on Moving
MNIST the IWAE bound keeps rising long after the counting accuracy peaks (the model learns
to split digits), so the last weights are not the best tracker.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.losses import SQAIRLoss
from attentrack.tracker.sqair.model import SQAIR, SQAIRConfig, save_weights

BatchFn = Callable[[np.random.Generator, int, int], np.ndarray]
"""``(rng, batch, length) -> (batch, length, H, W)`` float32 frames in ``[0, 1]``."""


@dataclass
class TrainOptions:
    """Options of :func:`train` (the command line mirrors them).

    Attributes:
        out: output folder (checkpoint, weights, log).
        steps: optimiser steps.
        batch: sequences per step.
        particles: ``K`` of the IWAE bound.
        lr: Adam learning rate.
        min_length, max_length: curriculum over sequence length (frames).
        grow_every: steps between one-frame increases of the length.
        checkpoint_every: steps between checkpoints.
        log_every: steps between lines of ``OUT/log.jsonl``.
        seed: seed of the model initialisation, the sampling and the data.
        threads: torch CPU threads.
        resume: continue from ``OUT/checkpoint.pt`` when it exists.
        max_minutes: stop (and save) after this long; 0 = no limit.
        stop_after: stop (and save) after this many steps of this run; 0 = no limit.
        progress: show a progress bar.
        config: :class:`SQAIRConfig` fields.
        validate_every: steps between validations (with a ``validate`` function; 0: none).
        discovery_warmup: for this many steps discovery runs only on each sequence's first
            frame, so objects must be propagated (followed) through the rest. Without it a model
            whose discovery learns first (e.g. after glimpse pre-training) finds forgetting
            every object and discovering it again cheaper than learning to follow it, and never
            propagates. Only for data whose objects are all visible in the first frame (Moving
            MNIST); 0 disables it.
    """

    out: str
    steps: int = 3000
    batch: int = 8
    particles: int = 5
    lr: float = 3e-4
    min_length: int = 3
    max_length: int = 10
    grow_every: int = 200
    checkpoint_every: int = 100
    log_every: int = 50
    seed: int = 0
    threads: int = 1
    resume: bool = False
    max_minutes: float = 0.0
    stop_after: int = 0
    progress: bool = True
    config: dict = field(default_factory=dict)
    discovery_warmup: int = 0
    validate_every: int = 0


def curriculum_length(step: int, opts: TrainOptions) -> int:
    """Sequence length at ``step``: ``min_length`` growing by 1 every ``grow_every`` steps."""
    return min(opts.max_length, opts.min_length + step // max(opts.grow_every, 1))


def train(opts: TrainOptions, batches: BatchFn, model: SQAIR | None = None,
          fresh_start: Callable[[SQAIR], Any] | None = None,
          validate: Callable[[SQAIR], float] | None = None) -> dict[str, Any]:
    """Fit SQAIR by maximising the IWAE bound.

    Args:
        opts: options.
        batches: the data (see :data:`BatchFn`).
        model: start from this model (default: a new one built from ``opts.config``; on
            ``resume`` the checkpoint's weights replace it).
        fresh_start: called with the model when the run does not resume from a checkpoint,
            before the first step (e.g. :func:`attentrack.tracker.sqair.pretrain.pretrain_glimpses`); the
            random streams of training are seeded afresh after it.
        validate: scores the model (higher is better; called in eval mode, without
            gradients, on its own random stream) before the first step of a new run and every
            ``opts.validate_every`` steps; the best-scoring weights are written to
            ``OUT/best.pt``.

    Returns:
        a summary: steps, seconds, final length, last bound per frame, weights path (and,
        with validation, the best score, its step and ``best.pt``).

    Raises:
        InputError: bad options or an unreadable checkpoint.
    """
    if opts.min_length < 1 or opts.max_length < opts.min_length:
        raise InputError("need 1 <= min_length <= max_length")
    if opts.particles < 1 or opts.batch < 1:
        raise InputError("need particles >= 1 and batch >= 1")
    torch.set_num_threads(max(1, opts.threads))
    out_dir = Path(opts.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"
    torch.manual_seed(opts.seed)
    model = model or SQAIR(SQAIRConfig.from_dict(dict(opts.config)))
    model.train()
    loss_fn = SQAIRLoss()
    optim = torch.optim.Adam(model.parameters(), lr=opts.lr)
    rng = np.random.default_rng(opts.seed)
    step, seconds = 0, 0.0
    ema = None
    best = {"score": None, "step": None}
    if fresh_start is not None and not (opts.resume and ckpt_path.is_file()):
        fresh_start(model)
        torch.manual_seed(opts.seed)
    if opts.resume and ckpt_path.is_file():
        try:
            ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            if json.loads(ck["config"]) != model.config.to_dict():
                raise ValueError("the checkpoint's model settings differ from this run's")
            model.load_state_dict(ck["model"])
            optim.load_state_dict(ck["optimizer"])
            step, seconds = int(ck["step"]), float(ck["seconds"])
            ema = ck.get("ema")
            best = json.loads(ck.get("best", json.dumps(best)))
            torch.set_rng_state(ck["torch_rng"])
            rng.bit_generator.state = json.loads(ck["data_rng"])
        except Exception as exc:
            raise InputError(f"cannot resume from {ckpt_path}: {type(exc).__name__}: {exc}") from None

    def save_checkpoint():
        from attentrack.tracker.atomic import AtomicPath

        ap = AtomicPath(ckpt_path)
        try:
            torch.save({"model": model.state_dict(), "optimizer": optim.state_dict(), "step": step,
                        "seconds": seconds, "ema": ema, "best": json.dumps(best), "config": json.dumps(model.config.to_dict()),
                        "options": json.dumps(asdict(opts)), "torch_rng": torch.get_rng_state(),
                        "data_rng": json.dumps(rng.bit_generator.state)}, ap.tmp)
        except BaseException:
            ap.abort()
            raise
        ap.commit()

    bar = None
    if opts.progress:
        from tqdm import tqdm

        bar = tqdm(total=opts.steps, initial=step, desc="train sqair", dynamic_ncols=True)
    t_start = time.perf_counter() - seconds
    first = step
    length = curriculum_length(step, opts)
    validating = validate is not None and opts.validate_every > 0
    if validating and step == 0:  # the starting point (e.g. weights to fine-tune)
        _validate(model, validate, step, seconds, best, out_dir, opts.seed)
    try:
        while step < opts.steps:
            if opts.max_minutes and time.perf_counter() - t_start > opts.max_minutes * 60:
                break
            if opts.stop_after and step - first >= opts.stop_after:
                break
            length = curriculum_length(step, opts)
            frames = torch.from_numpy(np.ascontiguousarray(batches(rng, opts.batch, length)))
            out = model(frames, opts.particles, first_frame_discovery_only=step < opts.discovery_warmup)
            terms = loss_fn(out.log_weights, out.log_q_pres, length)
            optim.zero_grad(set_to_none=True)
            terms.total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optim.step()
            step += 1
            ema = terms.bound_per_frame if ema is None else 0.98 * ema + 0.02 * terms.bound_per_frame
            seconds = time.perf_counter() - t_start
            count = float(out.counts.float().mean())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(bound_per_frame=f"{ema:.1f}", T=length, objects=f"{count:.2f}")
            if step % opts.log_every == 0:
                with open(out_dir / "log.jsonl", "a") as fh:
                    fh.write(json.dumps({"step": step, "seconds": round(seconds, 1), "length": length,
                                         "bound_per_frame": round(ema, 2), "mean_objects": round(count, 3)}) + "\n")
            if validating and step % opts.validate_every == 0:
                _validate(model, validate, step, seconds, best, out_dir, opts.seed)
            if step % opts.checkpoint_every == 0:
                save_checkpoint()
    finally:
        if bar is not None:
            bar.close()
    save_checkpoint()
    weights = out_dir / "sqair.pt"
    summary = {"steps": step, "seconds": round(seconds, 1), "length": length,
               "bound_per_frame": None if ema is None else round(ema, 2)}
    save_weights(model, weights, extra={"training": json.dumps(summary)})
    summary["weights"] = str(weights)
    if best["score"] is not None:
        summary.update(best_score=best["score"], best_step=best["step"], best_weights=str(out_dir / "best.pt"))
    return summary


def _validate(model: SQAIR, validate: Callable[[SQAIR], float], step: int, seconds: float, best: dict,
              out_dir: Path, seed: int) -> None:
    """Score ``model``, log the score, and write ``OUT/best.pt`` (updating ``best``) when it
    beats every earlier score. Training's random stream is left untouched."""
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            score = float(validate(model))
    finally:
        model.train()
    with open(out_dir / "log.jsonl", "a") as fh:
        fh.write(json.dumps({"step": step, "seconds": round(seconds, 1), "validation": round(score, 4)}) + "\n")
    if best["score"] is None or score > best["score"]:
        best.update(score=score, step=step)
        save_weights(model, out_dir / "best.pt",
                     extra={"training": json.dumps({"steps": step, "seconds": round(seconds, 1), "validation": score})})


def moving_mnist_validator(digits: np.ndarray, sequences: int = 200, particles: int = 5, canvas: int = 50,
                           max_digits: int = 2, seed: int = 4321) -> Callable[[SQAIR], float]:
    """A ``validate`` function for :func:`train`: the counting accuracy (share of frames whose
    best particle holds as many objects as there are digits) on ``sequences`` fixed 10-frame
    Moving MNIST sequences of ``digits`` (hold them out of training)."""
    from attentrack.datasets.moving_mnist import MovingMnist

    data = MovingMnist(digits, canvas=canvas, max_digits=max_digits).sample(np.random.default_rng(seed), sequences)
    frames, counts = torch.from_numpy(data.frames), torch.from_numpy(data.counts)

    def count_accuracy(model: SQAIR) -> float:
        correct = 0
        for start in range(0, sequences, 25):
            out = model(frames[start:start + 25], particles)
            best = out.best_particle()
            counted = out.counts[torch.arange(len(best)), best]
            correct += int((counted == counts[start:start + 25]).sum())
        return correct / counts.numel()

    return count_accuracy


def moving_mnist_batches(split: str = "train", root=None, max_digits: int = 2, canvas: int = 50,
                         digits: np.ndarray | None = None, augment: Callable | None = None,
                         overlap: float = 0.0) -> BatchFn:
    """A :data:`BatchFn` drawing Moving MNIST sequences of real digits of ``split`` (or of
    ``digits``, ``(N, 28, 28)`` in ``[0, 1]``, when given: already loaded), each digit changed
    at random by ``augment`` (a :class:`attentrack.datasets.moving_mnist.DigitAugment`) when given; with
    probability ``overlap`` a second digit starts on top of the first (see
    :class:`attentrack.datasets.moving_mnist.MovingMnist`)."""
    from attentrack.datasets.moving_mnist import MovingMnist, load_digits

    gen = MovingMnist(load_digits(split, root) if digits is None else digits, canvas=canvas, max_digits=max_digits,
                      augment=augment, overlap=overlap)

    def draw(rng: np.random.Generator, batch: int, length: int) -> np.ndarray:
        return gen.sample(rng, batch, length).frames

    return draw
