"""Localisation benchmark: does HMC under the generative model improve the ConvNet's proposal?

The test scenes (:func:`test_scenes`) are held-out people's faces placed with random
similarity transforms into the test backgrounds of :mod:`attentrack.generative.face.scenes`, from a
fixed seed. Each method returns one transform per scene; its box is the unrotated face
square (:func:`attentrack.generative.face.transform.u_to_box`), scored against the true one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from attentrack.datasets.orl import load_orl, split_people
from attentrack.generative.face.localise import HMCOptions, grid_starts, propose, random_starts, refine
from attentrack.generative.face.model import FaceModel
from attentrack.generative.face.scenes import SIDE_RANGE, Scenes, face_squares, load_backgrounds, make_scenes
from attentrack.generative.face.transform import u_to_box
from attentrack.tracker.boxes import iou as box_iou

#: the prior range of the face side used by HMC on the test scenes (the scenes' range, widened)
PRIOR_SIDE_RANGE = (SIDE_RANGE[0] * 0.75, SIDE_RANGE[1] * 1.25)


@dataclass
class MethodScore:
    """Localisation quality of one method over the test scenes.

    Attributes:
        name: the method.
        mean_iou: mean IoU of the face squares.
        success: fraction of scenes with IoU >= 0.5.
        centre_error: mean distance in pixels between true and found centres.
        relative_centre_error: mean centre distance as a fraction of the true face side.
        scale_error: mean ``|log(s / s_true)|``.
        rotation_error: mean ``|theta - theta_true|`` in degrees.
        seconds: wall-clock time of the method over all scenes.
    """

    name: str
    mean_iou: float
    success: float
    centre_error: float
    relative_centre_error: float
    scale_error: float
    rotation_error: float
    seconds: float


@dataclass
class LocalisationResult:
    """The table of :func:`evaluate_localisation` and how it was made."""

    scenes: int
    methods: list[MethodScore]
    setup: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The result as a JSON-ready dict: scene count, one entry per method, the set-up."""
        return {"scenes": self.scenes, "methods": [asdict(m) for m in self.methods], "setup": self.setup}


def score(name: str, u: np.ndarray, truth: np.ndarray, seconds: float) -> MethodScore:
    """Compare ``(N, 4)`` found transforms with the true ones."""
    iou = box_iou(u_to_box(u), u_to_box(truth))
    dist = np.hypot(u[:, 0] - truth[:, 0], u[:, 1] - truth[:, 1])
    return MethodScore(name, float(iou.mean()), float((iou >= 0.5).mean()), float(dist.mean()),
                       float((dist / truth[:, 2]).mean()), float(np.abs(np.log(u[:, 2] / truth[:, 2])).mean()),
                       float(np.degrees(np.abs(u[:, 3] - truth[:, 3])).mean()), round(seconds, 2))


def test_scenes(root: str | Path, n: int, held_out: int = 10, seed: int = 0, max_rotation: float = 0.35) -> Scenes:
    """``n`` test scenes: held-out people on test backgrounds, from ``seed``."""
    root = Path(root)
    faces = load_orl(root / "faces" / "orl")
    _, test_people = split_people(held_out, int(faces.person.max()))
    rng = np.random.default_rng(10_000 + seed)
    return make_scenes(rng, face_squares(faces.subset(test_people)), load_backgrounds(root, "test"), n,
                       max_rotation=max_rotation)


def _refine_in_chunks(model, images, starts, options, seed, chunk=25):
    us = []
    for i in range(0, len(images), chunk):
        us.append(refine(model, images[i : i + chunk], starts[i : i + chunk], options, PRIOR_SIDE_RANGE,
                         seed=seed + i).u)
    return np.concatenate(us)


def evaluate_localisation(model: FaceModel, root: str | Path, n_scenes: int = 200, options: HMCOptions | None = None,
                          held_out: int = 10, seed: int = 0, spread: float = 0.0) -> LocalisationResult:
    """Score the ConvNet alone, ConvNet + HMC, HMC from random starts, and (a diagnostic of the
    model rather than of the search) HMC started at the true transform.

    With ``spread > 0`` the ConvNet + HMC chains start on :func:`grid_starts` around the
    proposal (11 chains); the random-start baseline then gets as many chains."""
    opts = options or HMCOptions()
    scenes = test_scenes(root, n_scenes, held_out, seed, model.config.max_rotation)
    h, w = scenes.images.shape[1:]
    methods = []
    t = time.perf_counter()
    u_prop = propose(model, scenes.images)
    methods.append(score("ConvNet", u_prop, scenes.u, time.perf_counter() - t))
    t0 = time.perf_counter()
    starts_prop = grid_starts(u_prop, spread) if spread > 0 else u_prop
    u_hmc = _refine_in_chunks(model, scenes.images, starts_prop, opts, seed)
    methods.append(score("ConvNet + HMC", u_hmc, scenes.u, time.perf_counter() - t0 + methods[0].seconds))
    rng = np.random.default_rng(20_000 + seed)
    n_chains = starts_prop.shape[1] if spread > 0 else opts.chains
    starts = random_starts(rng, n_scenes, n_chains, (w, h), PRIOR_SIDE_RANGE)
    t = time.perf_counter()
    u_rand = _refine_in_chunks(model, scenes.images, starts, opts, seed)
    methods.append(score("HMC, random start", u_rand, scenes.u, time.perf_counter() - t))
    t = time.perf_counter()
    u_true = _refine_in_chunks(model, scenes.images, scenes.u, opts, seed)
    methods.append(score("HMC from the truth (diagnostic)", u_true, scenes.u, time.perf_counter() - t))
    setup = {"held_out_people": held_out, "seed": seed, "scene_size": [w, h], "side_range": list(SIDE_RANGE),
             "max_rotation_deg": round(float(np.degrees(model.config.max_rotation)), 1),
             "backgrounds": "test: TUD-Stadtmitte, sot/Crossing, sot/bag", "hmc": asdict(opts),
             "start_spread": spread}
    return LocalisationResult(n_scenes, methods, setup)


def format_table(result: LocalisationResult) -> str:
    """A plain-text table of a :class:`LocalisationResult`."""
    head = f"{'method':34s} {'mean IoU':>8s} {'IoU>=.5':>8s} {'centre px':>9s} {'centre/side':>11s} " \
           f"{'|dlog s|':>8s} {'|dtheta|':>8s} {'seconds':>8s}"
    lines = [f"face localisation: {result.scenes} scenes, held-out people, {result.setup.get('backgrounds', '')}",
             head, "-" * len(head)]
    for m in result.methods:
        lines.append(f"{m.name:34s} {m.mean_iou:8.3f} {m.success:8.3f} {m.centre_error:9.2f} "
                     f"{m.relative_centre_error:11.3f} {m.scale_error:8.3f} {m.rotation_error:8.1f} {m.seconds:8.1f}")
    hmc = result.setup.get("hmc", {})
    if hmc:
        spread = result.setup.get("start_spread", 0.0)
        chains = f"11 chains (3x3 grid {spread} sides apart + 2 scales)" if spread else f"{hmc['chains']} chains"
        lines.append(f"HMC: {chains} x {hmc['steps']} iterations x {hmc['leapfrog']} leapfrog steps per scene "
                     f"({hmc['adapt']} adapting), {'u only (z integrated out)' if hmc.get('marginal') else 'joint (u, z)'}; "
                     "best log-joint state kept")
    return "\n".join(lines)
