"""Training the small saliency classifiers (pedestrian vs background; MNIST digits on canvases).

The loop is seeded and resumable: batch ``t`` is drawn from ``numpy.random.default_rng([seed, t])``,
so a run resumed from ``OUT/checkpoint.pt`` sees exactly the batches an uninterrupted run
would. Checkpoints and the final ``OUT/<task>.pt`` are written atomically.
The loss is built here, outside the model: cross-entropy for the pedestrian task, per-class
binary cross-entropy (multi-label) for digits.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from attentrack.saliency.data import digits_training, pedestrian_training
from attentrack.saliency.models import SmallCNN, SmallCNNConfig, save_classifier
from attentrack.tracker.atomic import AtomicPath
from attentrack.tracker.errors import InputError

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
        max_minutes: stop (and save a checkpoint) after this long; 0: no limit.
        progress: print a line per validation.
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
    x = _to_input(model, imgs)
    y = torch.from_numpy(ys)
    return x, y


def _to_input(model: SmallCNN, imgs: np.ndarray) -> torch.Tensor:
    """Patches are already at the network's scale: normalise without resizing."""
    scale = model.config.scale
    model.config.scale = 1.0
    try:
        return model.prepare(list(imgs))
    finally:
        model.config.scale = scale


def evaluate(model: SmallCNN, sampler, seed: int, n: int = 256) -> tuple[float, float]:
    """Loss and accuracy on ``n`` fixed validation samples."""
    rng = np.random.default_rng([seed, 10**9])
    x, y = _batch(model, sampler, rng, n)
    model.eval()
    with torch.no_grad():
        loss, acc = loss_and_accuracy(model, x, y)
    model.train()
    return float(loss), acc


def train_classifier(opts: TrainOptions, log=print) -> dict:
    """Train (or continue training) a classifier; returns a summary dict.

    Raises:
        InputError: unknown task, missing data, or a checkpoint that does not match.
    """
    if opts.task not in TASKS:
        raise InputError(f"unknown task {opts.task!r}; available: {', '.join(TASKS)}")
    data = Path(opts.data)
    if not data.is_dir():
        raise InputError(f"data folder not found: {data}")
    out = Path(opts.out)
    ckpt = out / "checkpoint.pt"
    if opts.resume and not ckpt.is_file():
        raise InputError(f"--resume: no checkpoint at {ckpt}")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed)
    train_set, val_set = _samplers(opts.task, data)
    model = SmallCNN(SmallCNNConfig.from_dict(TASKS[opts.task].to_dict()))
    optim = torch.optim.Adam(model.parameters(), lr=opts.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=opts.lr, total_steps=opts.steps, pct_start=0.15)
    step, seconds = 0, 0.0
    if opts.resume:
        try:
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise InputError(f"{ckpt}: unreadable checkpoint ({type(exc).__name__})") from None
        if not isinstance(state, dict) or state.get("task") != opts.task or state.get("steps") != opts.steps:
            raise InputError(f"{ckpt}: checkpoint is for task {state.get('task')!r} with {state.get('steps')} steps")
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        step, seconds = int(state["step"]), float(state["seconds"])
        log(f"resumed at step {step}")
    t0 = time.perf_counter() - seconds
    start = time.perf_counter()
    model.train()
    history = []

    def save_checkpoint():
        ap = AtomicPath(ckpt)
        torch.save({"task": opts.task, "steps": opts.steps, "step": step, "seconds": time.perf_counter() - t0,
                    "model": model.state_dict(), "optim": optim.state_dict(), "sched": sched.state_dict(),
                    "options": asdict(opts)}, ap.tmp)
        ap.commit()

    while step < opts.steps:
        rng = np.random.default_rng([opts.seed, step])
        x, y = _batch(model, train_set, rng, opts.batch)
        loss, acc = loss_and_accuracy(model, x, y)
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()
        step += 1
        if opts.val_every and step % opts.val_every == 0 or step == opts.steps:
            vl, va = evaluate(model, val_set, opts.seed)
            history.append({"step": step, "train_loss": float(loss.detach()), "val_loss": vl, "val_accuracy": va})
            if opts.progress:
                log(f"step {step}/{opts.steps}  train loss {float(loss.detach()):.4f}  val loss {vl:.4f}  "
                    f"val accuracy {va:.3f}  {time.perf_counter() - t0:.0f}s")
        if step % opts.checkpoint_every == 0 or step == opts.steps:
            save_checkpoint()
        if opts.max_minutes and time.perf_counter() - start > opts.max_minutes * 60 and step < opts.steps:
            save_checkpoint()
            log(f"stopped after {opts.max_minutes} min at step {step}; continue with --resume")
            return {"task": opts.task, "step": step, "finished": False}
    vl, va = evaluate(model, val_set, opts.seed)
    total = time.perf_counter() - t0
    model.eval()
    save_classifier(model, out / f"{opts.task}.pt",
                    {"steps": opts.steps, "seed": opts.seed, "seconds": round(total, 1), "val_loss": vl,
                     "val_accuracy": va, "batch": opts.batch, "lr": opts.lr})
    return {"task": opts.task, "step": step, "finished": True, "seconds": total, "val_loss": vl, "val_accuracy": va,
            "weights": str(out / f"{opts.task}.pt"), "history": history}
