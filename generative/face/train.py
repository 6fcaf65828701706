"""Training the face model: the background Gaussian (closed form, on glimpses of the training
backgrounds), the VAE on canonical ORL faces, then the ConvNet proposer on synthetic scenes
(training people on training backgrounds, :mod:`attentrack.generative.face.scenes`).

Every ``checkpoint_every`` steps ``OUT/checkpoint.pt`` is replaced atomically (both networks,
both optimisers, stage, step and the torch and numpy random states); ``resume`` continues
from it, so an interrupted run ends with the same weights as an uninterrupted one. At the
end ``OUT/face.pt`` holds the weights (:func:`attentrack.generative.face.model.load_face_model`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from attentrack.datasets.orl import CANONICAL_CROP, OrlFaces, load_orl, split_people
from attentrack.generative.face.model import FaceConfig, FaceModel, encode_target, proposer_input, vae_elbo
from attentrack.generative.face.scenes import face_squares, load_backgrounds, make_scenes
from attentrack.generative.face.transform import normalise, read_glimpse
from attentrack.tracker.boxes import iou as box_iou
from attentrack.tracker.errors import InputError

#: the canonical transform of an ORL image (centre and side of :data:`CANONICAL_CROP`)
ORL_CANONICAL_U = (CANONICAL_CROP[0] + CANONICAL_CROP[2] / 2, CANONICAL_CROP[1] + CANONICAL_CROP[3] / 2,
                   float(CANONICAL_CROP[2]), 0.0)


@dataclass
class FaceTrainOptions:
    """Options of :func:`train_face`.

    Attributes:
        data: the data folder (holds ``faces/orl`` and the background sources).
        out: output folder.
        vae_steps: VAE optimisation steps.
        proposer_steps: proposer optimisation steps.
        batch: VAE batch size (faces).
        scene_batch: proposer batch size (scenes).
        lr: Adam learning rate.
        held_out: number of held-out people (the last ones, ``s31..s40`` for 10).
        background_glimpses: background glimpses the background Gaussian is fitted to.
        background_rank: factors of the background's probabilistic PCA (0: full covariance).
        checkpoint_every: checkpoint every this many steps.
        val_every: validation every this many steps (0: never).
        seed: random seed.
        threads: torch threads.
        resume: continue from ``OUT/checkpoint.pt``.
        stop_after: stop (and save) after this many steps of this run (0: no limit).
        progress: show a tqdm bar.
        config: :class:`FaceConfig` fields.
    """

    data: str
    out: str
    vae_steps: int = 3000
    proposer_steps: int = 3000
    batch: int = 64
    scene_batch: int = 32
    lr: float = 1e-3
    held_out: int = 10
    background_glimpses: int = 30000
    background_rank: int = 32
    checkpoint_every: int = 250
    val_every: int = 500
    seed: int = 0
    threads: int = 1
    resume: bool = False
    stop_after: int = 0
    progress: bool = True
    config: dict = field(default_factory=dict)


def orl_glimpses(images: np.ndarray, u: np.ndarray, size: int) -> torch.Tensor:
    """Normalised ``(B, size, size)`` glimpses of ORL images ``(B, 112, 92)`` uint8 at transforms ``(B, 4)``
    (blurred as :func:`attentrack.generative.face.localise.prepare_images` does for a 60-pixel face)."""
    sigma = 0.45 * CANONICAL_CROP[2] / size
    blurred = np.stack([cv2.GaussianBlur(im.astype(np.float32) / 255.0, (0, 0), sigma) for im in images])
    g = read_glimpse(torch.from_numpy(blurred)[:, None], torch.as_tensor(u, dtype=torch.float32), size)
    return normalise(g)


def vae_batch(rng: np.random.Generator, faces: OrlFaces, n: int, size: int) -> torch.Tensor:
    """``n`` augmented canonical faces: random image, flip, and a small random similarity jitter
    (centre +-1.5 px and side +-4 % at 60 px, rotation +-3 degrees)."""
    idx = rng.integers(len(faces), size=n)
    images = faces.images[idx]
    flip = rng.random(n) < 0.5
    images = np.stack([im[:, ::-1] if f else im for im, f in zip(images, flip)])
    u = np.tile(np.asarray(ORL_CANONICAL_U), (n, 1))
    u[flip, 0] = images.shape[2] - u[flip, 0]
    u[:, 0:2] += rng.uniform(-1.5, 1.5, (n, 2))
    u[:, 2] *= np.exp(rng.uniform(-0.04, 0.04, n))
    u[:, 3] += rng.uniform(-0.05, 0.05, n)
    return orl_glimpses(images, u, size)


def background_glimpses(rng: np.random.Generator, backgrounds: list[np.ndarray], n: int, size: int,
                        side_range: tuple[float, float] = (16.0, 120.0), max_rotation: float = 0.35) -> torch.Tensor:
    """``n`` normalised glimpses of backgrounds at random transforms (side log-uniform in
    ``side_range``, rotation uniform in ``+-max_rotation``), each frame anti-aliased as
    :func:`attentrack.generative.face.localise.prepare_images` does for the glimpse's side band."""
    from attentrack.generative.face.localise import prepare_images

    bands = np.exp(np.linspace(np.log(side_range[0]), np.log(side_range[1]), 6))
    per = int(np.ceil(n / (len(backgrounds) * (len(bands) - 1))))
    out = []
    for frame in backgrounds:
        h, w = frame.shape
        for lo, hi in zip(bands[:-1], bands[1:]):
            hi = min(hi, 0.9 * min(h, w))
            if hi <= lo:
                continue
            img = prepare_images(frame[None], np.array([np.sqrt(lo * hi)]), size)
            s = np.exp(rng.uniform(np.log(lo), np.log(hi), per))
            u = np.stack([rng.uniform(s / 2, w - s / 2), rng.uniform(s / 2, h - s / 2), s,
                          rng.uniform(-max_rotation, max_rotation, per)], 1)
            out.append(normalise(read_glimpse(img, torch.as_tensor(u, dtype=torch.float32), size)))
    g = torch.cat(out)
    return g[torch.from_numpy(rng.permutation(len(g))[:n])]


def proposer_loss(model: FaceModel, images: np.ndarray, u: np.ndarray) -> torch.Tensor:
    """Smooth-L1 loss of the proposer's encoded transforms on scenes ``(B, H, W)`` with truth ``(B, 4)``."""
    h, w = images.shape[1:]
    x = proposer_input(torch.from_numpy(images)[:, None], model.config)
    target = encode_target(torch.as_tensor(u, dtype=torch.float32), (w, h))
    pred = model.proposer(x)
    weight = torch.tensor([4.0, 4.0, 2.0, 1.0])
    return (torch.nn.functional.smooth_l1_loss(pred, target, reduction="none", beta=0.05) * weight).sum(1).mean()


def open_training_data(opts: FaceTrainOptions):
    """ORL split into training and held-out people, and the training backgrounds."""
    root = Path(opts.data)
    faces = load_orl(root / "faces" / "orl")
    train_people, test_people = split_people(opts.held_out, int(faces.person.max()))
    train_faces, val_faces = faces.subset(train_people), faces.subset(test_people)
    if not len(train_faces) or not len(val_faces):
        raise InputError(f"ORL split left no training or no held-out faces under {root}")
    return train_faces, val_faces, load_backgrounds(root, "train")


def train_face(opts: FaceTrainOptions) -> dict[str, Any]:
    """Train the face VAE then the proposer; returns a summary (steps, seconds, validation).

    Raises:
        InputError: bad options or data, or an unreadable checkpoint.
    """
    from attentrack.generative.face.transform import u_to_box

    torch.set_num_threads(max(1, int(opts.threads)))
    cv2.setNumThreads(1)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    train_faces, val_faces, backgrounds = open_training_data(opts)
    try:
        config = FaceConfig.from_dict({**FaceConfig().to_dict(), **opts.config})
    except TypeError as exc:
        raise InputError(f"bad face-model setting: {exc}") from None
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    model = FaceModel.create(config)
    opt_vae = torch.optim.Adam(model.vae.parameters(), lr=opts.lr)
    opt_prop = torch.optim.Adam(model.proposer.parameters(), lr=opts.lr)
    total = opts.vae_steps + opts.proposer_steps
    step, seconds = 0, 0.0
    history: list[dict[str, Any]] = []
    if opts.resume and ckpt_path.is_file():
        try:
            ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            model.vae.load_state_dict(ck["vae"])
            model.proposer.load_state_dict(ck["proposer"])
            opt_vae.load_state_dict(ck["opt_vae"])
            opt_prop.load_state_dict(ck["opt_prop"])
            step, seconds = int(ck["step"]), float(ck["seconds"])
            history = json.loads(ck["history"])
            torch.set_rng_state(ck["torch_rng"])
            rng.bit_generator.state = json.loads(ck["data_rng"])
            if "background" in ck:
                model.background.load_state_dict(ck["background"])
        except Exception as exc:
            raise InputError(f"cannot resume from {ckpt_path}: {type(exc).__name__}: {exc}") from None
    if not bool(model.background.fitted):  # closed form, from its own seeded generator
        model.background.fit(background_glimpses(np.random.default_rng(opts.seed + 555), backgrounds,
                                                 opts.background_glimpses, config.size,
                                                 max_rotation=config.max_rotation), rank=opts.background_rank)
    val_rng = np.random.default_rng(opts.seed + 991)
    val_faces_t = orl_glimpses(val_faces.images, np.tile(np.asarray(ORL_CANONICAL_U), (len(val_faces), 1)), config.size)
    val_scenes = make_scenes(val_rng, face_squares(val_faces), backgrounds, 128, max_rotation=config.max_rotation)
    train_sq = face_squares(train_faces)

    def save_checkpoint():
        from attentrack.tracker.atomic import AtomicPath

        ap = AtomicPath(ckpt_path)
        try:
            torch.save({"vae": model.vae.state_dict(), "proposer": model.proposer.state_dict(),
                        "background": model.background.state_dict(),
                        "opt_vae": opt_vae.state_dict(), "opt_prop": opt_prop.state_dict(), "step": step,
                        "seconds": seconds, "config": json.dumps(config.to_dict()), "history": json.dumps(history),
                        "torch_rng": torch.get_rng_state(), "data_rng": json.dumps(rng.bit_generator.state)}, ap.tmp)
        except BaseException:
            ap.abort()
            raise
        ap.commit()

    def validate() -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            torch_state = torch.get_rng_state()
            torch.manual_seed(0)
            elbo = float(vae_elbo(model.vae, val_faces_t).elbo)
            torch.set_rng_state(torch_state)
            x = proposer_input(torch.from_numpy(val_scenes.images)[:, None], config)
            from attentrack.generative.face.model import decode_proposal

            u = decode_proposal(model.proposer(x), SCENE_WH).double().numpy()
        model.vae.train()
        model.proposer.train()
        iou = float(box_iou(u_to_box(u), u_to_box(val_scenes.u)).mean())
        return {"val_elbo": round(elbo, 2), "val_proposer_iou": round(iou, 4)}

    from attentrack.generative.face.scenes import SCENE_SIZE as SCENE_WH

    bar = None
    if opts.progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=step, desc="train face", dynamic_ncols=True)
    t_start = time.perf_counter() - seconds
    first = step
    model.vae.train()
    model.proposer.train()
    try:
        while step < total:
            if opts.stop_after and step - first >= opts.stop_after:
                break
            if step < opts.vae_steps:
                frac = step / max(1, opts.vae_steps)
                for grp in opt_vae.param_groups:
                    grp["lr"] = opts.lr * 0.5 * (1 + math.cos(math.pi * frac))
                terms = vae_elbo(model.vae, vae_batch(rng, train_faces, opts.batch, config.size))
                loss = -terms.elbo
                opt_vae.zero_grad(set_to_none=True)
                loss.backward()
                opt_vae.step()
                info = {"stage": "vae", "elbo": f"{terms.elbo.item():.1f}", "kl": f"{terms.kl.item():.1f}"}
            else:
                frac = (step - opts.vae_steps) / max(1, opts.proposer_steps)
                for grp in opt_prop.param_groups:
                    grp["lr"] = opts.lr * 0.5 * (1 + math.cos(math.pi * frac))
                scenes = make_scenes(rng, train_sq, backgrounds, opts.scene_batch, max_rotation=config.max_rotation)
                loss = proposer_loss(model, scenes.images, scenes.u)
                opt_prop.zero_grad(set_to_none=True)
                loss.backward()
                opt_prop.step()
                info = {"stage": "proposer", "loss": f"{loss.item():.4f}"}
            step += 1
            seconds = time.perf_counter() - t_start
            if bar is not None:
                bar.update(1)
                bar.set_postfix(**info)
            if opts.val_every and (step % opts.val_every == 0 or step == opts.vae_steps):
                v = validate()
                history.append({"step": step, "seconds": round(seconds, 1), **v})
                (bar.write if bar is not None else print)(f"step {step}: " + " ".join(f"{k} {x}" for k, x in v.items()))
                with open(out / "log.jsonl", "a") as fh:
                    fh.write(json.dumps(history[-1]) + "\n")
            if step % opts.checkpoint_every == 0:
                save_checkpoint()
    finally:
        if bar is not None:
            bar.close()
    save_checkpoint()
    summary: dict[str, Any] = {"steps": step, "seconds": round(seconds, 1)}
    if step >= total:
        summary.update(validate())
        model.meta = {"training": {**summary, "held_out_people": opts.held_out, "seed": opts.seed,
                                   "vae_steps": opts.vae_steps, "proposer_steps": opts.proposer_steps}}
        weights = out / "face.pt"
        model.eval().save(weights)
        summary["weights"] = str(weights)
    return summary
