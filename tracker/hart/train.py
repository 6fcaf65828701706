"""Training HART: curriculum over sequence length, synthetic then real data, checkpoints,
validation, and data-parallel training with ``torchrun``.

One process::

    attentrack train hart --data ../shared/data/mot15/TUD-Stadtmitte --out runs/hart

Several processes (CPU: gloo; GPUs: nccl), each with its own data stream::

    torchrun --nproc_per_node 2 -m tools.train_cmd hart --data ... --out runs/hart

Schedule: sequences start ``min_length`` frames long and grow by ``curriculum_step`` frames
(5; the original code: 1) up to ``max_length`` whenever the running training IoU passes
``iou_threshold`` and at least ``curriculum_min_steps`` steps (0; the original code waits
13 epochs) have been spent at the current length (both are :class:`HARTConfig` fields); the batch
holds about ``tokens`` frames (``batch = tokens // length``). The first
``pretrain_fraction`` of the steps draw mostly synthetic sequences
(``1 - real_fraction_pretrain`` of them), the rest mostly real ones.

HART plugs into the one training loop (:mod:`attentrack.tracker.training`) as a
:class:`HARTTask`: the loop checkpoints ``OUT/checkpoint.pt`` atomically every
``checkpoint_every`` steps (model, loss weights, optimiser, step, random states, and the
task's curriculum and data generator), resumes from it, keeps the time budget, shows the bar,
validates and writes ``OUT/hart.pt`` in the one weights format at the end.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from attentrack.tracker.errors import InputError
from attentrack.tracker.hart.data import Assets, Batch, RealTracks, SampleStream, SyntheticSequences, split_tracks
from attentrack.tracker.hart.losses import HARTLoss
from attentrack.tracker.hart.model import HART, HARTConfig
from attentrack.tracker.training import LoopOptions, TrainingTask
from attentrack.tracker.training import train as run_training


@dataclass
class TrainOptions:
    """Options of :func:`train` (the command line mirrors them).

    Attributes:
        data: real sequence folders (or folders holding sequences) with ground truth.
        out: output folder (checkpoint, weights, log).
        assets: data folder with ``faces/``, ``digits/``, ``video/``, ``kitti/`` for the
            synthetic sequences ("" = the attentrack data folder when found; "none" = off).
        steps: optimiser steps.
        tokens: frames per batch (batch size = tokens // sequence length).
        min_length, max_length: curriculum over sequence length.
        iou_threshold: running training IoU that lengthens the sequences.
        lr: learning rate (cosine decay to lr / 10 after a linear warm-up).
        optimizer: ``adam`` or ``rmsprop`` (the paper's).
        pretrain_fraction: share of the steps that are synthetic-heavy.
        real_fraction_pretrain, real_fraction: share of real sequences in the two phases.
        sequence_share: how real windows are shared among the training sequences
            (:class:`RealTracks`: ``boxes`` or ``equal``).
        val_split: share of each training sequence's boxes (whole tracks) kept for validation.
        val_every: validate every this many steps (0: only at the end).
        checkpoint_every: checkpoint every this many steps.
        seed: random seed.
        threads: torch threads per process.
        workers: background processes generating batches (0: in the training process).
        resume: continue from ``OUT/checkpoint.pt``.
        backbone_weights: a pretrained backbone ``state_dict`` file to start from.
        init_weights: HART weights to fine-tune (``config`` must be theirs, changed only in
            ways :func:`attentrack.tracker.hart.model.grow_from` can start from).
        config: model hyper-parameters (:class:`HARTConfig` fields).
        progress: show a tqdm bar.
        max_minutes: stop (and save) after this much wall time (0: no limit).
        stop_after: stop (and save) after this many steps of this run (0: no limit); with
            ``resume`` a long schedule can run in chunks.
    """

    data: list[str] = field(default_factory=list)
    out: str = "runs/hart"
    assets: str = ""
    steps: int = 3000
    tokens: int = 160
    min_length: int = 5
    max_length: int = 30
    iou_threshold: float = 0.65
    lr: float = 1e-3
    optimizer: str = "adam"
    pretrain_fraction: float = 0.3
    real_fraction_pretrain: float = 0.2
    real_fraction: float = 0.5
    sequence_share: str = "boxes"
    val_split: float = 0.15
    val_every: int = 250
    checkpoint_every: int = 250
    seed: int = 0
    threads: int = 2
    workers: int = 1
    resume: bool = False
    backbone_weights: str = ""
    init_weights: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    max_minutes: float = 0.0
    stop_after: int = 0


class TrainModule(nn.Module):
    """Model and loss in one module so data parallelism sees every parameter."""

    def __init__(self, model: HART, loss: HARTLoss) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, batch: Batch):
        """The loss terms of HART run on ``batch`` from its first boxes."""
        out = self.model(batch.levels, batch.boxes[:, 0])
        return self.loss(out, batch.boxes, batch.presence, model=self.model)


# -- data --------------------------------------------------------------------------------

def open_training_data(opts: TrainOptions):
    """``(stream, val_tracks, sequences)`` for the options (real and/or synthetic)."""
    from attentrack.datasets.paths import data_root
    from attentrack.datasets.sequence import detect_kind, find_sequences, open_sequence

    sequences = []
    for d in opts.data:
        p = Path(d)
        if not p.exists():
            raise InputError(f"no such training data: {p}")
        if detect_kind(p) is not None:
            sequences.append(open_sequence(p))
        else:
            sequences += find_sequences(p)
    sequences = [s for s in sequences if len(s.gt)]
    train_tracks, val_tracks = split_tracks(sequences, opts.val_split, seed=opts.seed)
    real = RealTracks(sequences, train_tracks, share=opts.sequence_share) if train_tracks else None
    synthetic = None
    if opts.assets.lower() != "none":
        root = Path(opts.assets) if opts.assets else data_root()
        if opts.assets and not Path(opts.assets).is_dir():
            raise InputError(f"no such assets folder: {opts.assets}")
        try:
            synthetic = SyntheticSequences(Assets(root, sequences, train_tracks))
        except InputError:
            if real is None:
                raise
    return SampleStream(real, synthetic), val_tracks, sequences


def _worker(opts: TrainOptions, queue, shared, seed: int) -> None:
    """Background batch producer (a spawned process with its own copy of the data): reads
    the wanted length, batch frames and real share from ``shared``."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    stream = open_training_data(opts)[0]
    rng = np.random.default_rng(seed)
    while True:
        with shared.get_lock():
            length, tokens, real_frac, stop = int(shared[0]), int(shared[1]), float(shared[2]), shared[3]
        if stop:
            return
        size = max(2, tokens // length)
        queue.put(stream.batch(rng, size, length, real_frac))


class BatchSource:
    """Batches from background processes (or in-process when ``workers == 0``)."""

    def __init__(self, stream: SampleStream, opts: TrainOptions, seed: int) -> None:
        self.stream = stream
        self.rng = np.random.default_rng(seed)
        self.procs = []
        if opts.workers > 0:
            import torch.multiprocessing as mp

            ctx = mp.get_context("spawn")
            self.shared = ctx.Array("d", [opts.min_length, opts.tokens, opts.real_fraction_pretrain, 0])
            self.queue = ctx.Queue(maxsize=3)
            for i in range(opts.workers):
                p = ctx.Process(target=_worker, args=(opts, self.queue, self.shared, seed * 1000 + i + 1), daemon=True)
                p.start()
                self.procs.append(p)

    def get(self, length: int, tokens: int, real_fraction: float) -> Batch:
        """A batch of about ``tokens`` frames in sequences of ``length`` frames, ``real_fraction`` of them real."""
        if not self.procs:
            return self.stream.batch(self.rng, max(2, tokens // length), length, real_fraction)
        with self.shared.get_lock():
            self.shared[0], self.shared[1], self.shared[2] = length, tokens, real_fraction
        while True:
            if not any(p.is_alive() for p in self.procs):
                raise RuntimeError("the batch-generating processes died")
            try:
                return self.queue.get(timeout=60)  # a stale (shorter) batch is still good data
            except Exception:  # queue.Empty: check the workers again
                continue

    def close(self) -> None:
        """Stop the batch-generating processes."""
        if self.procs:
            with self.shared.get_lock():
                self.shared[3] = 1
            for p in self.procs:
                p.terminate()
                p.join(timeout=5)


def validation_batches(stream: SampleStream, val_tracks: list, sequences: list, seed: int,
                       length: int = 20, count: int = 24) -> dict[str, Batch]:
    """Fixed validation sets: windows of the held-out real tracks, and synthetic sequences."""
    from attentrack.tracker.hart.data import make_batch

    rng = np.random.default_rng(seed + 777)
    out = {}
    if val_tracks:
        rt = RealTracks(sequences, val_tracks)
        out["real"] = make_batch([rt.sample(rng, length, max_step=2) for _ in range(count)])
    if stream.synthetic is not None:
        out["synthetic"] = make_batch([stream.synthetic.sample(rng, length) for _ in range(count)])
    return out


@torch.no_grad()
def validate(model: HART, batches: dict[str, Batch]) -> dict[str, float]:
    """Mean IoU (frames 1..T-1) of each validation set."""
    from attentrack.tracker.hart.losses import cxcywh_iou

    was = model.training
    model.eval()
    res = {}
    for name, b in batches.items():
        ious = []
        for i in range(0, b.boxes.shape[0], 8):
            out = model([lv[i:i + 8] for lv in b.levels], b.boxes[i:i + 8, 0])
            ious.append(cxcywh_iou(out["box"][:, 1:], b.boxes[i:i + 8, 1:]).reshape(-1))
        res[name] = float(torch.cat(ious).mean())
    model.train(was)
    return res


# -- the task the training loop runs -------------------------------------------------------

def _lr_at(step: int, opts: TrainOptions) -> float:
    warm = min(200, max(1, opts.steps // 20))
    if step < warm:
        return opts.lr * (step + 1) / warm
    p = (step - warm) / max(1, opts.steps - warm)
    return opts.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


class HARTTask(TrainingTask):
    """HART in :func:`attentrack.tracker.training.train`: batches from :class:`BatchSource` (its own
    per-rank data generator, checkpointed with the curriculum), the curriculum over sequence
    length after each step, validation IoU on rank 0, and the model wrapped in
    ``DistributedDataParallel`` when ``world > 1``.

    Args:
        opts: the training options.
        rank, world: this process's rank and the number of processes.
        device: where the model trains.
    """

    model_id = "hart"

    def __init__(self, opts: TrainOptions, rank: int = 0, world: int = 1,
                 device: torch.device | None = None) -> None:
        device = device or torch.device("cpu")
        config = HARTConfig.from_dict(dict(opts.config))
        self.opts, self.world, self.device = opts, world, device
        self.is_main = rank == 0
        self.config = config.to_dict()
        self.config_defaults = HARTConfig().to_dict()
        torch.manual_seed(opts.seed)  # the initial weights
        self.model = HART(config)
        if opts.backbone_weights:
            self.model.backbone.load_pretrained(opts.backbone_weights)
        loss = HARTLoss(area_loss=config.area_loss)
        if opts.init_weights:
            from attentrack.tracker.hart.model import grow_from
            from attentrack.tracker.weights_file import load_weights as read_weights

            start = read_weights(opts.init_weights, expect="hart")
            grow_from(self.model, start.state_dict)
            # the learned uncertainty weights of the run that wrote them (weights of older runs
            # do not hold them: those start at zero, as a fresh run does)
            log_vars = start.metadata.get("training", {}).get("loss_log_vars")
            if log_vars is not None and len(log_vars) == len(loss.log_vars):
                with torch.no_grad():
                    loss.log_vars.copy_(torch.tensor(log_vars, dtype=loss.log_vars.dtype))
        self.module = TrainModule(self.model, loss).to(device)
        params = list(self.module.parameters())
        if opts.optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=opts.lr)
        else:
            self.optimizer = torch.optim.RMSprop(params, lr=opts.lr, momentum=0.9, eps=1e-6)
        self.wrapped: nn.Module = self.module
        if world > 1:
            self.wrapped = nn.parallel.DistributedDataParallel(
                self.module, device_ids=[device.index] if device.type == "cuda" else None)
        stream, val_tracks, sequences = open_training_data(opts)
        self.val_sets = validation_batches(stream, val_tracks, sequences, opts.seed) if self.is_main else {}
        self.source = BatchSource(stream, opts, opts.seed + 1000 * rank)
        self.length, self.ema_iou, self.batch_length = opts.min_length, 0.0, opts.min_length
        self.length_step, self.length_min_steps = config.curriculum_step, config.curriculum_min_steps
        self.steps_at_length = 0
        self.real_split = int(opts.steps * opts.pretrain_fraction)

    def learning_rate(self, step: int, progress: float) -> float:
        """Linear warm-up, then a cosine decay to ``lr / 10`` over the steps."""
        return _lr_at(step, self.opts)

    def loss(self, step: int, rng: np.random.Generator):
        """The HART loss of one batch (``rng`` unused: :class:`BatchSource` has its own per-rank stream)."""
        opts = self.opts
        rf = opts.real_fraction_pretrain if step < self.real_split else opts.real_fraction
        batch = self.source.get(self.length, opts.tokens, rf)
        if self.device.type != "cpu":
            batch = Batch([lv.to(self.device) for lv in batch.levels], batch.boxes.to(self.device),
                          batch.presence.to(self.device))
        self.batch_length = batch.boxes.shape[1]
        terms = self.wrapped(batch)
        return terms.total, {"loss": float(terms.total.detach()), "iou": float(terms.iou.detach())}

    def after_step(self, step: int, terms: dict[str, float]) -> None:
        """The curriculum: lengthen the sequences by ``curriculum_step`` frames when the running
        training IoU passes the threshold after at least ``curriculum_min_steps`` steps at this length."""
        import torch.distributed as dist

        opts = self.opts
        iou = terms["iou"]
        self.ema_iou = iou if step == 1 else 0.95 * self.ema_iou + 0.05 * iou
        if self.world > 1:  # every rank must lengthen together
            t = torch.tensor([self.ema_iou], device=self.device)
            dist.all_reduce(t)
            self.ema_iou = float(t) / self.world
        self.steps_at_length += 1
        if (self.ema_iou > opts.iou_threshold and self.length < opts.max_length and self.batch_length == self.length
                and self.steps_at_length >= self.length_min_steps):
            self.length = min(opts.max_length, self.length + self.length_step)
            self.ema_iou = 0.5 * opts.iou_threshold  # must earn the next step again
            self.steps_at_length = 0

    def status(self) -> dict[str, Any]:
        """The curriculum's sequence length, for the bar."""
        return {"length": self.length}

    def validate(self) -> dict[str, float] | None:
        """Mean IoU of each validation set (``real_iou``, ``synthetic_iou``)."""
        if not self.val_sets:
            return None
        return {f"{k}_iou": v for k, v in validate(self.model, self.val_sets).items()}

    def state(self) -> dict[str, Any]:
        """The curriculum's length and IoU average and the data stream's random state."""
        return {"length": self.length, "ema_iou": self.ema_iou, "steps_at_length": self.steps_at_length,
                "data_rng": json.dumps(self.source.rng.bit_generator.state)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        self.length, self.ema_iou = int(state["length"]), float(state["ema_iou"])
        self.steps_at_length = int(state.get("steps_at_length", 0))
        self.source.rng.bit_generator.state = json.loads(state["data_rng"])

    def metadata(self) -> dict[str, Any]:
        """The training data folders, the loss's learned uncertainty weights (``loss_log_vars``,
        which ``--init-weights`` fine-tunes start from) and the fine-tuned weights, for the
        weights file."""
        meta: dict[str, Any] = {"data": list(self.opts.data), "sequence_share": self.opts.sequence_share,
                                "loss_log_vars": [round(float(v), 6) for v in self.module.loss.log_vars.detach().cpu()]}
        if self.opts.init_weights:
            meta["init_weights"] = str(self.opts.init_weights)
        return meta

    def close(self) -> None:
        """Stop the batch-generating processes."""
        self.source.close()


def train(opts: TrainOptions) -> dict[str, Any]:
    """Train HART with :func:`attentrack.tracker.training.train`; returns its summary (steps,
    seconds, validation IoU, curriculum length, weights path).

    Raises:
        InputError: bad options or data, or a checkpoint that cannot be resumed.
    """
    import torch.distributed as dist

    if opts.optimizer not in ("adam", "rmsprop"):
        raise InputError(f"unknown optimizer {opts.optimizer!r}; use adam or rmsprop")
    if opts.min_length < 2 or opts.max_length < opts.min_length:
        raise InputError("need 2 <= min_length <= max_length")
    world, rank, local = _dist_info()
    torch.set_num_threads(max(1, opts.threads))
    device = torch.device("cpu")
    if world > 1:
        if torch.cuda.is_available():
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    task = HARTTask(opts, rank, world, device)
    summary = run_training(task, LoopOptions.pick(opts, clip=5.0))
    if world > 1 and dist.is_initialized():
        dist.barrier()
    return summary
