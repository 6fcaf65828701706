"""Training SQAIR on Moving MNIST (or on any stream of frame batches), resumably.

Schedule: sequences start ``min_length`` frames long and grow by one frame every
``grow_every`` steps up to ``max_length`` (the original does not train without this
curriculum). Objective: the IWAE bound with ``particles`` samples and VIMCO for the
presences (:mod:`attentrack.tracker.sqair.losses`).

SQAIR plugs into the one training loop (:mod:`attentrack.tracker.training`) as a
:class:`SQAIRTask`: the loop replaces ``OUT/checkpoint.pt`` atomically every
``checkpoint_every`` steps (model, optimiser, step, elapsed time, torch and data random
states), ``--resume`` continues from it, and at the end ``OUT/sqair.pt`` holds the weights in
the one weights format.

With a validation function (e.g. :func:`moving_mnist_validator`) the model is scored every
``validate_every`` steps and ``OUT/best.pt`` keeps the weights that scored best: on Moving
MNIST the IWAE bound keeps rising long after the counting accuracy peaks (the model learns
to split digits), so the last weights are not the best tracker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.losses import SQAIRLoss
from attentrack.tracker.sqair.model import ADDED_PREFIXES, PRIOR_PARAMETERS, SQAIR, SQAIRConfig
from attentrack.tracker.training import LoopOptions, TrainingTask
from attentrack.tracker.training import train as run_training

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
        prior_lr: Adam learning rate of the learned discovery prior (``disc_prior=categorical``:
            its count logits and later-frame bonus); 0: ``lr``. Adam moves a parameter by at
            most about its learning rate per step, so at a fine-tune's 1e-4 those logits cannot
            move by more than 0.1 in 1,000 steps.
        added_lr: Adam learning rate of the optional parts (``glimpse_mask``, ``relational``,
            ``where_prior=conditioned``), for the same reason: a fine-tune that adds them starts
            them so that they change nothing (a saturated sigmoid, zero last layers); 0: ``lr``.
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
        validate_every: steps between validations (with a ``validate`` function; 0: only at the end).
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
    prior_lr: float = 0.0
    added_lr: float = 0.0
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


def _own_rate(name: str, opts: TrainOptions) -> float:
    """The learning rate of parameter ``name``: ``prior_lr`` or ``added_lr`` for the parts they
    name (when set), else ``lr``."""
    if name in PRIOR_PARAMETERS and opts.prior_lr:
        return opts.prior_lr
    if name.startswith(ADDED_PREFIXES) and opts.added_lr:
        return opts.added_lr
    return opts.lr


def _parameter_groups(model: SQAIR, opts: TrainOptions) -> list[dict]:
    """Adam's parameter groups, one per learning rate (:func:`_own_rate`)."""
    groups: dict[float, list] = {}
    for name, p in model.named_parameters():
        groups.setdefault(_own_rate(name, opts), []).append(p)
    return [{"params": params, "lr": rate} for rate, params in groups.items()]


def check_particles(particles: int) -> None:
    """Refuse fewer than two particles (:class:`InputError`): with one the VIMCO term vanishes and
    the presence variables stop learning."""
    if particles < 2:
        raise InputError(f"particles must be at least 2, got {particles}: with one particle the VIMCO term "
                         "vanishes and the presence variables stop learning")


def curriculum_length(step: int, opts: TrainOptions) -> int:
    """Sequence length at ``step``: ``min_length`` growing by 1 every ``grow_every`` steps."""
    return min(opts.max_length, opts.min_length + step // max(opts.grow_every, 1))


class SQAIRTask(TrainingTask):
    """SQAIR in :func:`attentrack.tracker.training.train`: the IWAE bound with VIMCO for the
    presences (:class:`SQAIRLoss`) on batches from ``batches``, the curriculum over sequence
    length, the discovery warm-up, and validation by a score (kept best in ``OUT/best.pt``).

    Args:
        opts: the training options.
        batches: the data (see :data:`BatchFn`).
        model: the model to train.
        fresh_start: called with the model before the first step of a run that does not resume.
        validate: scores the model (higher is better).
    """

    model_id = "sqair"

    def __init__(self, opts: TrainOptions, batches: BatchFn, model: SQAIR,
                 fresh_start: Callable[[SQAIR], Any] | None = None,
                 validate: Callable[[SQAIR], float] | None = None) -> None:
        self.opts, self.batches, self.module = opts, batches, model
        self.config = model.config.to_dict()
        self.config_defaults = type(model.config)().to_dict()
        self.optimizer = torch.optim.Adam(_parameter_groups(model, opts), lr=opts.lr)
        self.loss_fn = SQAIRLoss()
        self._fresh_start, self._validate = fresh_start, validate
        self.best_by = "score" if validate is not None else ""
        self.length = curriculum_length(0, opts)

    def loss(self, step: int, rng: np.random.Generator):
        """The negative IWAE bound of one batch of sequences of the curriculum's length."""
        opts = self.opts
        self.length = curriculum_length(step, opts)
        frames = torch.from_numpy(np.ascontiguousarray(self.batches(rng, opts.batch, self.length)))
        out = self.module(frames, opts.particles, first_frame_discovery_only=step < opts.discovery_warmup)
        terms = self.loss_fn(out.log_weights, out.log_q_pres, self.length)
        return terms.total, {"bound_per_frame": float(terms.bound_per_frame),
                             "mean_objects": float(out.counts.float().mean())}

    def status(self) -> dict[str, Any]:
        """The curriculum's sequence length, for the bar."""
        return {"length": self.length}

    def validate(self) -> dict[str, float] | None:
        """The ``validate`` callback's score (``None`` without one)."""
        return None if self._validate is None else {"score": float(self._validate(self.module))}

    def fresh_start(self) -> None:
        """Run the ``fresh_start`` callback, if any (e.g. glimpse pre-training)."""
        if self._fresh_start is not None:
            self._fresh_start(self.module)


def train(opts: TrainOptions, batches: BatchFn, model: SQAIR | None = None,
          fresh_start: Callable[[SQAIR], Any] | None = None,
          validate: Callable[[SQAIR], float] | None = None) -> dict[str, Any]:
    """Fit SQAIR by maximising the IWAE bound, with :func:`attentrack.tracker.training.train`.

    Args:
        opts: options.
        batches: the data (see :data:`BatchFn`).
        model: start from this model (default: a new one built from ``opts.config``; on
            ``resume`` the checkpoint's weights replace it).
        fresh_start: called with the model when the run does not resume from a checkpoint,
            before the first step (e.g. :func:`attentrack.tracker.sqair.pretrain.pretrain_glimpses`); the
            random streams of training are seeded afresh after it.
        validate: scores the model (higher is better; called in eval mode, without
            gradients, on its own random stream) before the first step of a new run, every
            ``opts.validate_every`` steps and at the end; the best-scoring weights are written
            to ``OUT/best.pt``.

    Returns:
        the loop's summary: steps, seconds, final length, running bound per frame, weights
        path (and, with validation, the best score, its step and ``best.pt``).

    Raises:
        InputError: bad options or a checkpoint that cannot be resumed.
    """
    if opts.min_length < 1 or opts.max_length < opts.min_length:
        raise InputError("need 1 <= min_length <= max_length")
    check_particles(opts.particles)
    if opts.batch < 1:
        raise InputError("need batch >= 1")
    torch.manual_seed(opts.seed)  # the initial weights
    model = model or SQAIR(SQAIRConfig.from_dict(dict(opts.config)))
    task = SQAIRTask(opts, batches, model, fresh_start, validate)
    return run_training(task, LoopOptions.pick(opts, val_every=opts.validate_every, clip=10.0))


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
