"""Training DRAW, alignDRAW and the digit classifier: one resumable, seeded loop.

Each model is a :class:`Task` (how to build the model, draw a batch from a numpy random
generator, compute the loss, and validate). :func:`train` runs it with Adam and a cosine
learning rate in the one training loop (:mod:`attentrack.tracker.training`): gradient
clipping, a tqdm bar, ``OUT/checkpoint.pt`` replaced atomically every ``checkpoint_every``
steps, ``resume`` that continues exactly, and ``OUT/<model_id>.pt`` in the one weights format
at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from attentrack.generative.registry import GenerativeModel
from attentrack.tracker.training import LoopOptions, TrainingTask
from attentrack.tracker.training import train as run_training


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
        extra: notes added to the weights' ``metadata["training"]``.
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


class _GenerativeTask(TrainingTask):
    """A :class:`Task` in :func:`attentrack.tracker.training.train`: Adam with a cosine learning rate."""

    def __init__(self, task: Task, opts: TrainOptions) -> None:
        self.task, self.opts = task, opts
        self.module = task.model
        self.model_id = task.model.model_id
        self.config = task.model.config.to_dict()
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=opts.lr)

    def loss(self, step: int, rng: np.random.Generator):
        return self.task.loss(self.module, self.task.batch(rng, self.opts.batch), step)

    def learning_rate(self, step: int, progress: float) -> float:
        """Cosine decay from ``lr`` to ``lr / 10`` over the run's progress."""
        return self.opts.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    def validate(self) -> dict[str, float] | None:
        return None if self.task.validate is None else self.task.validate(self.module)

    def metadata(self) -> dict[str, Any]:
        return {"batch": self.opts.batch, "data": self.task.describe, **self.opts.extra}


def train(task: Task, opts: TrainOptions) -> dict[str, Any]:
    """Train ``task.model`` with :func:`attentrack.tracker.training.train`; returns its summary
    (steps, seconds, last losses, validation, weights path).

    Raises:
        InputError: a checkpoint that cannot be resumed (unreadable, or of another model).
    """
    return run_training(_GenerativeTask(task, opts), LoopOptions.pick(opts))
