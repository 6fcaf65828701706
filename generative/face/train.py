"""Training the face model: the background Gaussian (closed form, on glimpses of the training
backgrounds), the VAE on canonical ORL faces, then the ConvNet proposer on synthetic scenes
(training people on training backgrounds, :mod:`attentrack.generative.face.scenes`).

The model plugs into the one training loop (:mod:`attentrack.tracker.training`) as a
:class:`FaceTask`: ``OUT/checkpoint.pt`` is replaced atomically every ``checkpoint_every``
steps (the networks, the optimiser, step and the torch and numpy random states); ``resume``
continues from it, so an interrupted run ends with the same weights as an uninterrupted one.
At the end ``OUT/face.pt`` holds the weights in the one weights format
(:func:`attentrack.generative.face.model.load_face_model` reads them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from attentrack.datasets.orl import CANONICAL_CROP, OrlFaces, load_orl, split_people
from attentrack.generative.face.model import FaceConfig, FaceModel, encode_target, proposer_input, vae_elbo
from attentrack.generative.face.scenes import check_side_range, face_squares, load_backgrounds, make_scenes
from attentrack.generative.face.transform import normalise, read_glimpse
from attentrack.tracker.boxes import iou as box_iou
from attentrack.tracker.errors import InputError
from attentrack.tracker.training import LoopOptions, TrainingTask
from attentrack.tracker.training import train as run_training

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
        val_every: validation every this many steps (0: only at the end).
        seed: random seed.
        threads: torch threads.
        resume: continue from ``OUT/checkpoint.pt``.
        stop_after: stop (and save) after this many steps of this run (0: no limit).
        max_minutes: stop (and save) once training has taken this long (0: no limit).
        progress: show a tqdm bar.
        config: :class:`FaceConfig` fields.
        init_weights: start from these face weights (their VAE, background model and proposer;
            the background model is then not refitted), e.g. to train only the proposer further.
        scene_sides: face side range in pixels of the proposer's training scenes.
        illumination: strength of the scenes' relighting (:func:`attentrack.generative.face.scenes.relight`;
            0: none, as the first shipped weights).
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
    max_minutes: float = 0.0
    progress: bool = True
    config: dict = field(default_factory=dict)
    init_weights: str = ""
    scene_sides: tuple[float, float] = (30.0, 80.0)
    illumination: float = 0.0


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


class FaceTask(TrainingTask):
    """The face model in :func:`attentrack.tracker.training.train`: ``vae_steps`` steps of the
    VAE on augmented canonical training faces, then ``proposer_steps`` steps of the proposer on
    synthetic scenes, each stage with its own cosine learning rate (one Adam over both
    networks: a network outside its stage has no gradient and is left alone); the background
    Gaussian is fitted in closed form before the first step.

    Args:
        opts: the training options.
    """

    model_id = "face"

    def __init__(self, opts: FaceTrainOptions) -> None:
        self.opts = opts
        config = FaceConfig.from_dict({**FaceConfig().to_dict(), **opts.config})
        check_side_range(tuple(opts.scene_sides), config.max_rotation)
        self.train_faces, val_faces, self.backgrounds = open_training_data(opts)
        self.config = config.to_dict()
        torch.manual_seed(opts.seed)  # the initial weights
        self.face = FaceModel.create(config)
        self.module = self.face.parts()
        self.optimizer = torch.optim.Adam([{"params": self.face.vae.parameters()},
                                           {"params": self.face.proposer.parameters()}], lr=opts.lr)
        val_rng = np.random.default_rng(opts.seed + 991)
        self.val_faces = orl_glimpses(val_faces.images, np.tile(np.asarray(ORL_CANONICAL_U), (len(val_faces), 1)),
                                      config.size)
        self.val_scenes = make_scenes(val_rng, face_squares(val_faces), self.backgrounds, 128,
                                      max_rotation=config.max_rotation)
        self.train_squares = face_squares(self.train_faces)

    def fresh_start(self) -> None:
        """Fit the background Gaussian (closed form, from its own seeded generator), or load all three
        parts from ``init_weights``."""
        opts, config = self.opts, self.face.config
        if opts.init_weights:
            from attentrack.generative.face.model import load_face_model

            start = load_face_model(opts.init_weights)
            try:
                self.face.parts().load_state_dict(start.parts().state_dict())
            except RuntimeError:
                raise InputError(f"{opts.init_weights} holds a face model of other sizes than this run's") from None
            return
        glimpses = background_glimpses(np.random.default_rng(opts.seed + 555), self.backgrounds,
                                       opts.background_glimpses, config.size, max_rotation=config.max_rotation)
        self.face.background.fit(glimpses, rank=opts.background_rank)

    def learning_rate(self, step: int, progress: float) -> float:
        """The cosine decay from ``lr`` to 0 over the current stage."""
        opts = self.opts
        if step < opts.vae_steps:
            frac = step / max(1, opts.vae_steps)
        else:
            frac = (step - opts.vae_steps) / max(1, opts.proposer_steps)
        return opts.lr * 0.5 * (1 + math.cos(math.pi * frac))

    def loss(self, step: int, rng: np.random.Generator):
        """The negative VAE ELBO of a batch of faces, then the proposer's loss on a batch of scenes."""
        opts, model = self.opts, self.face
        if step < opts.vae_steps:
            terms = vae_elbo(model.vae, vae_batch(rng, self.train_faces, opts.batch, model.config.size))
            return -terms.elbo, {"elbo": terms.elbo.item(), "kl": terms.kl.item()}
        scenes = make_scenes(rng, self.train_squares, self.backgrounds, opts.scene_batch,
                             side_range=tuple(opts.scene_sides), max_rotation=model.config.max_rotation,
                             illumination=opts.illumination)
        loss = proposer_loss(model, scenes.images, scenes.u)
        return loss, {"proposer_loss": loss.item()}

    def validate(self) -> dict[str, float]:
        """The VAE ELBO of the held-out people's faces and the proposer's mean IoU on held-out scenes."""
        from attentrack.generative.face.model import decode_proposal
        from attentrack.generative.face.scenes import SCENE_SIZE
        from attentrack.generative.face.transform import u_to_box

        model = self.face
        elbo = float(vae_elbo(model.vae, self.val_faces).elbo)
        x = proposer_input(torch.from_numpy(self.val_scenes.images)[:, None], model.config)
        u = decode_proposal(model.proposer(x), SCENE_SIZE).double().numpy()
        iou = float(box_iou(u_to_box(u), u_to_box(self.val_scenes.u)).mean())
        return {"elbo": round(elbo, 2), "proposer_iou": round(iou, 4)}

    def metadata(self) -> dict[str, Any]:
        """The held-out people and the step counts, for the weights file."""
        opts = self.opts
        return {"held_out_people": opts.held_out, "vae_steps": opts.vae_steps, "proposer_steps": opts.proposer_steps,
                "init_weights": Path(opts.init_weights).name if opts.init_weights else "",
                "scene_sides": list(opts.scene_sides), "illumination": opts.illumination,
                "max_rotation": self.face.config.max_rotation}


def train_face(opts: FaceTrainOptions) -> dict[str, Any]:
    """Train the face VAE then the proposer with :func:`attentrack.tracker.training.train`;
    returns its summary (steps, seconds, validation, weights path).

    Raises:
        InputError: bad options or data, or a checkpoint that cannot be resumed.
    """
    cv2.setNumThreads(1)
    task = FaceTask(opts)
    return run_training(task, LoopOptions.pick(opts, steps=opts.vae_steps + opts.proposer_steps))
