"""Training the small saliency classifiers (pedestrian vs background; MNIST digits on canvases).

They train in the one training loop (:mod:`attentrack.tracker.training`) as a
:class:`ClassifierTask`: seeded and resumable (batch ``t`` is drawn from
``numpy.random.default_rng([seed, t])``, so a run resumed from ``OUT/checkpoint.pt`` sees
exactly the batches an uninterrupted run would); checkpoints and the final ``OUT/<task>.pt``
(the one weights format) are written atomically.
The loss is built here, outside the model: cross-entropy for the pedestrian task, per-class
binary cross-entropy (multi-label) for digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from attentrack.saliency.data import digits_training, pedestrian_training
from attentrack.saliency.models import SmallCNN, SmallCNNConfig
from attentrack.tracker.errors import InputError
from attentrack.tracker.training import LoopOptions, TrainingTask
from attentrack.tracker.training import train as run_training

TASKS = {
    "pedestrian": SmallCNNConfig(classes=["background", "pedestrian"], in_channels=3, widths=[16, 32, 64, 64],
                                 hidden=64, mean=[0.45] * 3, std=[0.25] * 3, multilabel=False, scale=0.5),
    "digits": SmallCNNConfig(classes=[str(d) for d in range(10)], in_channels=1, widths=[16, 32, 64, 64],
                             hidden=64, mean=[0.1], std=[0.3], multilabel=True, scale=1.0),
}


@dataclass
class TrainOptions:
    """Options of :func:`train_classifier`.

    Attributes:
        task: ``pedestrian`` or ``digits``.
        data: the data folder (holding ``mot15/`` and ``digits/``).
        out: output folder (``checkpoint.pt``, ``<task>.pt``).
        steps: optimisation steps in total.
        batch: images per step.
        lr: Adam learning rate.
        seed: seeds the weights and every batch.
        threads: torch threads.
        resume: continue from ``out/checkpoint.pt``.
        checkpoint_every: steps between checkpoints.
        val_every: steps between validation reports (0: only at the end).
        max_minutes: stop (and save) once training has taken this long; 0: no limit.
        stop_after: stop (and save) after this many steps of this run; 0: no limit.
        progress: show a progress bar and a line per validation.
    """

    task: str
    data: str
    out: str
    steps: int = 1500
    batch: int = 32
    lr: float = 2e-3
    seed: int = 0
    threads: int = 1
    resume: bool = False
    checkpoint_every: int = 100
    val_every: int = 250
    max_minutes: float = 0.0
    stop_after: int = 0
    progress: bool = True


def _samplers(task: str, data: Path):
    if task == "pedestrian":
        return pedestrian_training(data)
    if task == "digits":
        return digits_training(data)
    raise InputError(f"unknown task {task!r}; available: {', '.join(TASKS)}")


def loss_and_accuracy(model: SmallCNN, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The task's loss and accuracy (per-label accuracy for multi-label) on one batch."""
    logits = model(x)
    if model.config.multilabel:
        loss = F.binary_cross_entropy_with_logits(logits, y)
        acc = ((logits > 0).float() == y).float().mean().item()
    else:
        loss = F.cross_entropy(logits, y)
        acc = (logits.argmax(1) == y).float().mean().item()
    return loss, acc


def _batch(model: SmallCNN, sampler, rng, n):
    imgs, ys = sampler.sample(rng, n)
    x = model.prepare(list(imgs), resize=False)  # patches are at the network's scale already
    y = torch.from_numpy(ys)
    return x, y


def evaluate(model: SmallCNN, sampler, seed: int, n: int = 256) -> tuple[float, float]:
    """Loss and accuracy on ``n`` fixed validation samples."""
    rng = np.random.default_rng([seed, 10**9])
    x, y = _batch(model, sampler, rng, n)
    model.eval()
    with torch.no_grad():
        loss, acc = loss_and_accuracy(model, x, y)
    model.train()
    return float(loss), acc


class ClassifierTask(TrainingTask):
    """A saliency classifier in :func:`attentrack.tracker.training.train`: Adam under a one-cycle
    learning-rate schedule; batch ``t`` is drawn from ``numpy.random.default_rng([seed, t])``.

    Args:
        opts: the training options.
    """

    model_id = "saliency-classifier"

    def __init__(self, opts: TrainOptions) -> None:
        if opts.task not in TASKS:
            raise InputError(f"unknown task {opts.task!r}; available: {', '.join(TASKS)}")
        data = Path(opts.data)
        if not data.is_dir():
            raise InputError(f"data folder not found: {data}")
        self.opts = opts
        self.weights_name = f"{opts.task}.pt"
        self.train_set, self.val_set = _samplers(opts.task, data)
        torch.manual_seed(opts.seed)  # the initial weights
        self.module = SmallCNN(SmallCNNConfig.from_dict(TASKS[opts.task].to_dict()))
        self.config = self.module.config.to_dict()
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=opts.lr)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=opts.lr, total_steps=opts.steps,
                                                            pct_start=0.15)

    def loss(self, step: int, rng: np.random.Generator):
        """The task's loss on batch ``step`` (drawn from its own generator, seeded by ``seed`` and ``step``)."""
        x, y = _batch(self.module, self.train_set, np.random.default_rng([self.opts.seed, step]), self.opts.batch)
        loss, acc = loss_and_accuracy(self.module, x, y)
        return loss, {"loss": float(loss.detach()), "accuracy": acc}

    def after_step(self, step: int, terms: dict[str, float]) -> None:
        """Advance the learning-rate schedule."""
        self.schedule.step()

    def validate(self) -> dict[str, float]:
        """Loss and accuracy on fixed validation samples."""
        loss, acc = evaluate(self.module, self.val_set, self.opts.seed)
        return {"loss": loss, "accuracy": acc}

    def state(self) -> dict:
        """The schedule's state and the step count it was made for."""
        return {"schedule": self.schedule.state_dict(), "steps": self.opts.steps}

    def load_state(self, state: dict) -> None:
        """Restore the schedule; a checkpoint of a schedule of another length is a :class:`ValueError`."""
        if state["steps"] != self.opts.steps:
            raise ValueError(f"the checkpoint is of a {state['steps']}-step schedule, not {self.opts.steps}")
        self.schedule.load_state_dict(state["schedule"])

    def metadata(self) -> dict:
        """The task, batch size and learning rate, for the weights file."""
        return {"task": self.opts.task, "batch": self.opts.batch, "lr": self.opts.lr}


def train_classifier(opts: TrainOptions) -> dict:
    """Train (or continue training) a classifier with :func:`attentrack.tracker.training.train`;
    returns its summary (``steps``, ``finished``, ``seconds``, ``val_loss``, ``val_accuracy``,
    ``weights``).

    Raises:
        InputError: unknown task, missing data, or a checkpoint that cannot be resumed.
    """
    return run_training(ClassifierTask(opts), LoopOptions.pick(opts))
