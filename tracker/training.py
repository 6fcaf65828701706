"""The one resumable training loop every attentrack model trains with.

A model plugs in as a :class:`TrainingTask` (its module, optimiser, a ``loss(step, rng)`` that
draws a batch and scores it, and optional hooks: learning-rate schedule, validation, a
curriculum after each step, extra checkpoint state); :func:`train` does the rest:

* seeds torch and a numpy generator (``rng``, handed to ``loss``) with ``seed``;
* clips the gradient norm (``clip``), sets the learning rate each step (``learning_rate``);
  a batch whose gradient is not finite (NaN or inf) changes nothing: its update is skipped,
  counted (``skipped`` in the summary and the log) and warned about, so one bad batch cannot
  turn every weight into NaN;
* shows a tqdm bar with the running (EMA) training terms and the last validation;
* validates every ``val_every`` steps and at the end, in evaluation mode, without gradients,
  on a random stream of its own (so validating never changes training); with
  ``task.best_by`` the best-scoring weights are kept in ``OUT/best.pt``;
* replaces ``OUT/checkpoint.pt`` atomically every ``checkpoint_every`` steps and at the end
  (module, optimiser, step, seconds, both random states, the running terms, the best score
  and whatever the task adds); ``resume`` continues from it exactly, so a run cut into pieces
  ends with the weights of an uninterrupted one;
* stops after ``max_minutes`` of training (counted over all resumed pieces) or ``stop_after``
  steps of this run, and writes the weights (``OUT/<model_id>.pt``, the one weights format)
  with the run's summary as metadata.

Data-parallel training (HART under ``torchrun``): each process runs the loop; only the task
with ``is_main`` writes files and shows the bar.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from attentrack.tracker.errors import InputError
from attentrack.tracker.weights_file import read_torch_file, save_torch_file, save_weights

#: version of the checkpoint layout
CHECKPOINT_FORMAT = 1


@dataclass
class LoopOptions:
    """Options of :func:`train` (each model's training options hold them under the same names).

    Attributes:
        out: output folder (``checkpoint.pt``, ``log.jsonl``, the weights, ``best.pt``).
        steps: optimiser steps of the whole run.
        seed: seeds torch and the numpy generator handed to ``loss``.
        threads: torch CPU threads (0: leave as is).
        checkpoint_every: steps between checkpoints (one is always written at the end).
        val_every: steps between validations (0: only at the end).
        log_every: steps between lines of running training terms in ``log.jsonl`` (0: none;
            validations are always logged).
        clip: gradient-norm clip (0: none).
        resume: continue from ``OUT/checkpoint.pt`` when it exists.
        max_minutes: stop (and save) once training has taken this long, over all resumed
            pieces (0: no limit).
        stop_after: stop (and save) after this many steps of this run (0: no limit).
        progress: show a progress bar (and a line per validation).
    """

    out: str
    steps: int
    seed: int = 0
    threads: int = 1
    checkpoint_every: int = 250
    val_every: int = 0
    log_every: int = 0
    clip: float = 0.0
    resume: bool = False
    max_minutes: float = 0.0
    stop_after: int = 0
    progress: bool = True

    @classmethod
    def pick(cls, options: Any, **overrides: Any) -> "LoopOptions":
        """The loop's options taken from a model's options object (same attribute names), then ``overrides``."""
        names = [f.name for f in dataclasses.fields(cls)]
        values = {n: getattr(options, n) for n in names if hasattr(options, n)}
        return cls(**{**values, **overrides})


class TrainingTask:
    """What a model plugs into :func:`train`. Set the attributes, override :meth:`loss`, and the
    hooks the model needs.

    Attributes:
        model_id: the model's id: names the bar, the weights file (``OUT/<model_id>.pt``
            unless ``weights_name`` says otherwise) and is checked on resume.
        config: the model's settings (plain types): written with the weights; a checkpoint
            with other settings is not resumed.
        config_defaults: the value of each setting when it is not given (the model's config
            class defaults): a setting added after a checkpoint was written counts as this
            value, so a run started by an earlier version still resumes when it is unchanged.
        module: every trained parameter and checkpointed buffer (e.g. model and loss).
        model: what the weights file holds (default: ``module``).
        optimizer: the optimiser of ``module``'s parameters.
        best_by: a key of :meth:`validate`'s result; when set, the weights that scored highest
            on it (the start of a fresh run included) are kept in ``OUT/best.pt``.
        weights_name: file name of the final weights ("" = ``<model_id>.pt``).
        is_main: this process writes the files (rank 0 of a data-parallel run).
    """

    model_id: str = ""
    config: dict[str, Any] = {}
    config_defaults: dict[str, Any] = {}
    module: nn.Module
    model: nn.Module | None = None
    optimizer: torch.optim.Optimizer
    best_by: str = ""
    weights_name: str = ""
    is_main: bool = True

    def loss(self, step: int, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """Draw a batch and score it: ``(scalar loss to minimise, {name: float} shown and logged})``.

        Args:
            step: the 0-based optimiser step about to be taken.
            rng: the loop's seeded, checkpointed data generator.
        """
        raise NotImplementedError

    def learning_rate(self, step: int, progress: float) -> float | None:
        """The learning rate of ``step`` (``None``: leave the optimiser's).

        Args:
            step: the 0-based step about to be taken.
            progress: the run's progress in ``[0, 1]``: ``step / steps``, or the share of
                ``max_minutes`` already spent when that is further along.
        """
        return None

    def after_step(self, step: int, terms: dict[str, float]) -> None:
        """Called after optimiser step ``step`` (1-based count of steps taken) with the step's terms
        (e.g. a curriculum, a scheduler's ``step()``)."""

    def status(self) -> dict[str, Any]:
        """Extra values shown on the bar and written to the summary (e.g. the curriculum's length)."""
        return {}

    def validate(self) -> dict[str, float] | None:
        """Scores on held-out data (``None``: the task does not validate). Called in evaluation mode,
        without gradients, under a random stream seeded afresh."""
        return None

    def fresh_start(self) -> None:
        """Called before the first step of a run that does not resume (e.g. pre-training); the torch
        generator is seeded again after it."""

    def state(self) -> dict[str, Any]:
        """Extra checkpoint state (tensors and plain types), given back to :meth:`load_state`."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""

    def metadata(self) -> dict[str, Any]:
        """Extra notes for the weights file's ``metadata["training"]`` (e.g. the data used)."""
        return {}

    def save_weights(self, path: Path, metadata: dict[str, Any]) -> None:
        """Write the weights file (by default :attr:`model`'s in the one format)."""
        save_weights(path, self.model_id, self.config, (self.model or self.module).state_dict(), metadata)

    def close(self) -> None:
        """Release resources (worker processes); called however the loop ends."""


def _finite_gradient(params: list[nn.Parameter], clip: float) -> bool:
    """Clip the gradients' total norm to ``clip`` (0: no clipping) and say whether it is
    finite (when it is not, the caller skips the update and the next step zeroes them)."""
    norm = torch.nn.utils.clip_grad_norm_(params, clip if clip else float("inf"))
    return bool(torch.isfinite(norm))


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}


class _Run:
    """The mutable state of one call of :func:`train`: what a checkpoint holds."""

    def __init__(self, task: TrainingTask, opts: LoopOptions) -> None:
        self.task, self.opts = task, opts
        self.out = Path(opts.out)
        self.checkpoint = self.out / "checkpoint.pt"
        self.rng = np.random.default_rng(opts.seed)
        self.step, self.seconds = 0, 0.0
        self.skipped = 0  # updates skipped for a non-finite gradient
        self.ema: dict[str, float] = {}
        self.val: dict[str, float] = {}
        self.validated_at = -1
        self.best: dict[str, Any] = {"score": None, "step": None}

    def save_checkpoint(self) -> None:
        task = self.task
        save_torch_file({
            "format": CHECKPOINT_FORMAT, "model_id": task.model_id, "config": dict(task.config),
            "module": task.module.state_dict(), "optimizer": task.optimizer.state_dict(),
            "step": self.step, "seconds": self.seconds, "skipped": self.skipped,
            "ema": dict(self.ema), "best": dict(self.best),
            "torch_rng": torch.get_rng_state(), "data_rng": json.dumps(self.rng.bit_generator.state),
            "task": task.state()}, self.checkpoint)

    def load_checkpoint(self) -> None:
        ck = read_torch_file(self.checkpoint, "checkpoint")
        task = self.task
        try:
            if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
                raise ValueError("not a checkpoint of this attentrack version")
            if ck["model_id"] != task.model_id:
                raise ValueError(f"it is a checkpoint of {ck['model_id']}, not of {task.model_id}")
            saved = {**{k: v for k, v in task.config_defaults.items() if k not in ck["config"]}, **ck["config"]}
            if saved != dict(task.config):
                changed = sorted(k for k in set(saved) | set(task.config) if saved.get(k) != task.config.get(k))
                raise ValueError(f"its model settings differ from this run's ({', '.join(changed)})")
            task.module.load_state_dict(ck["module"])
            task.optimizer.load_state_dict(ck["optimizer"])
            task.load_state(ck["task"])
            self.step, self.seconds = int(ck["step"]), float(ck["seconds"])
            self.skipped = int(ck.get("skipped", 0))
            self.ema, self.best = dict(ck["ema"]), dict(ck["best"])
            torch.set_rng_state(ck["torch_rng"])
            self.rng.bit_generator.state = json.loads(ck["data_rng"])
        except Exception as exc:  # noqa: BLE001 - any mismatch makes the checkpoint unusable
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise InputError(f"cannot resume from {self.checkpoint}: {type(exc).__name__}: {first}") from None

    def log(self, record: dict[str, Any]) -> None:
        with open(self.out / "log.jsonl", "a") as fh:
            fh.write(json.dumps(_rounded(record)) + "\n")

    def validate(self, bar) -> None:
        """Score the task, log it, and keep ``best.pt`` when the score is the best so far."""
        task = self.task
        was = task.module.training
        task.module.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng():
                torch.manual_seed(self.opts.seed)
                scores = task.validate()
        finally:
            task.module.train(was)
        self.validated_at = self.step
        if scores is None:
            return
        self.val = {f"val_{k}": float(v) for k, v in scores.items()}
        self.log({"step": self.step, "seconds": round(self.seconds, 1), **self.ema, **self.val})
        if self.opts.progress:
            line = f"step {self.step}: " + " ".join(f"{k} {v:.4g}" for k, v in self.val.items())
            (bar.write if bar is not None else print)(line, file=sys.stderr)
        if task.best_by:
            if task.best_by not in scores:
                raise KeyError(f"validation gave no {task.best_by!r} to keep the best weights by")
            score = float(scores[task.best_by])
            if self.best["score"] is None or score > self.best["score"]:
                self.best = {"score": score, "step": self.step}
                task.save_weights(self.out / "best.pt", {"training": {
                    "model": task.model_id, "steps": self.step, "seconds": round(self.seconds, 1),
                    task.best_by: score, **task.metadata()}})

    def stop(self, first: int, t_start: float) -> bool:
        opts = self.opts
        if opts.max_minutes and time.perf_counter() - t_start > opts.max_minutes * 60:
            return True
        return bool(opts.stop_after and self.step - first >= opts.stop_after)


def train(task: TrainingTask, opts: LoopOptions) -> dict[str, Any]:
    """Train ``task`` (see the module docstring); seed torch before building the task's model for
    reproducible initial weights.

    Returns:
        the summary: ``model``, ``steps`` (taken in all), ``finished`` (all ``opts.steps``
        taken), ``seconds``, the running training terms, the last validation (``val_*``), the
        task's status, ``weights`` (path); with ``best_by``: ``best_score``, ``best_step``,
        ``best_weights``.

    Raises:
        InputError: a checkpoint that cannot be resumed (unreadable, of another model or of
            other settings).
    """
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    run = _Run(task, opts)
    if task.is_main:
        run.out.mkdir(parents=True, exist_ok=True)
    resuming = opts.resume and run.checkpoint.is_file()
    if not resuming:
        task.fresh_start()
    torch.manual_seed(opts.seed)
    if resuming:
        run.load_checkpoint()
    has_validation = type(task).validate is not TrainingTask.validate
    bar = None
    if task.is_main and opts.progress:
        from tqdm import tqdm

        bar = tqdm(total=opts.steps, initial=run.step, desc=f"train {task.model_id}", dynamic_ncols=True)
    t_start = time.perf_counter() - run.seconds
    first = run.step
    task.module.train()
    params = [p for p in task.module.parameters() if p.requires_grad]
    try:
        if task.is_main and has_validation and task.best_by and run.step == 0:
            run.validate(bar)  # the starting point (e.g. weights to fine-tune) is a candidate too
        while run.step < opts.steps and not run.stop(first, t_start):
            progress = run.step / opts.steps
            if opts.max_minutes:
                progress = max(progress, (time.perf_counter() - t_start) / (opts.max_minutes * 60))
            lr = task.learning_rate(run.step, min(1.0, progress))
            if lr is not None:
                for group in task.optimizer.param_groups:
                    group["lr"] = lr
            loss, terms = task.loss(run.step, run.rng)
            task.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            run.step += 1
            if _finite_gradient(params, opts.clip):
                task.optimizer.step()
                task.after_step(run.step, terms)
                run.ema = {k: float(v) if k not in run.ema else 0.98 * run.ema[k] + 0.02 * float(v)
                           for k, v in terms.items()}
            else:
                run.skipped += 1
                if task.is_main:
                    warnings.warn(f"step {run.step}: the gradient is not finite (loss {float(loss.detach()):.4g}); "
                                  f"update skipped ({run.skipped} so far)", stacklevel=1)
            run.seconds = time.perf_counter() - t_start
            if not task.is_main:
                continue
            if bar is not None:
                bar.update(1)
                shown = {**run.ema, **run.val, **task.status()}
                bar.set_postfix({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in shown.items()})
            if opts.log_every and run.step % opts.log_every == 0:
                run.log({"step": run.step, "seconds": round(run.seconds, 1), **run.ema, **task.status()})
            if has_validation and opts.val_every and run.step % opts.val_every == 0:
                run.validate(bar)
            if run.step % opts.checkpoint_every == 0:
                run.save_checkpoint()
        if task.is_main and has_validation and run.validated_at != run.step:
            run.validate(bar)
    finally:
        if bar is not None:
            bar.close()
        task.close()
    summary: dict[str, Any] = {"model": task.model_id, "steps": run.step, "finished": run.step >= opts.steps,
                               "seconds": round(run.seconds, 1), "seed": opts.seed, "skipped": run.skipped,
                               **_rounded({**run.ema, **run.val}), **task.status()}
    if not task.is_main:
        return summary
    run.save_checkpoint()
    run.log(summary)
    weights = run.out / (task.weights_name or f"{task.model_id}.pt")
    task.save_weights(weights, {"training": {**summary, **task.metadata()}})
    summary["weights"] = str(weights)
    if run.best["score"] is not None:
        summary.update(best_score=run.best["score"], best_step=run.best["step"],
                       best_weights=str(run.out / "best.pt"))
    return summary
