"""Finding a face: the ConvNet's proposal, refined by HMC over ``(u, z)`` under the model.

:func:`propose` runs the proposer; :func:`refine` starts several HMC chains per image around
given transforms (each chain's ``z`` from the VAE encoder at its start) and returns, per
image, the highest log-joint state any chain visited. The HMC state is
``q = (cx, cy, log s, theta, z)``; its preconditioning scales position by a fraction of the
starting face side, so step sizes mean the same at every scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from attentrack.generative.face.hmc import hmc
from attentrack.generative.face.model import FaceModel, JointTerms, decode_proposal, log_joint, proposer_input
from attentrack.generative.face.transform import normalise, read_glimpse


@dataclass
class HMCOptions:
    """Settings of the HMC refinement.

    Attributes:
        chains: chains per image.
        steps: HMC iterations per chain (including ``adapt``).
        leapfrog: leapfrog steps per iteration.
        step_size: initial leapfrog step (preconditioned units).
        adapt: iterations of step-size adaptation (burn-in).
        jitter: spread of the chains' starts: position by this fraction of the face side,
            log-scale and rotation by this much.
        position_scale: preconditioner on ``cx, cy`` as a fraction of the starting side.
        shape_scale: preconditioner on ``log s`` and ``theta``.
        latent_scale: preconditioner on ``z``.
        marginal: integrate ``z`` out in closed form (linear decoder) and run HMC over ``u``
            alone; ``z`` is then its posterior mean at the best ``u``. Otherwise HMC runs over
            ``(u, z)`` jointly, ``z`` starting from the encoder.
    """

    chains: int = 8
    steps: int = 40
    leapfrog: int = 5
    step_size: float = 0.5
    adapt: int = 15
    jitter: float = 0.1
    position_scale: float = 0.05
    shape_scale: float = 0.05
    latent_scale: float = 0.3
    marginal: bool = False


@dataclass
class Localisation:
    """Per-image result of :func:`refine`.

    Attributes:
        u: ``(N, 4)`` best transforms ``cx, cy, s, theta`` (pixels, radians).
        z: ``(N, Z)`` the latents with it.
        log_joint: ``(N,)`` its log-joint.
        ratio: ``(N,)`` face-versus-background log-likelihood ratio of its window (nats).
        accept_rate: ``(N,)`` mean HMC acceptance of the image's chains.
        face: ``(N,)`` the window's log-likelihood under the face model (nats).
        background: ``(N,)`` its log-likelihood under the background model (nats).
        step_size: ``(N,)`` the median of the image's chains' adapted HMC step sizes
            (preconditioned units): a good starting step for the next frame of a track.
    """

    u: np.ndarray
    z: np.ndarray
    log_joint: np.ndarray
    ratio: np.ndarray
    accept_rate: np.ndarray
    face: np.ndarray | None = None
    background: np.ndarray | None = None
    step_size: np.ndarray | None = None

    def score(self, pixels: int = 576, calibration: dict | None = None) -> np.ndarray:
        """Face score in (0, 1).

        Without ``calibration``: a logistic of the per-pixel log-likelihood ratio (0.5 when the
        window is as likely under the background as under the face model). With one (the
        ``score_calibration`` of :mod:`attentrack.generative.face.calibrate`, kept in the weights'
        metadata): the logistic regression of on-face against off-face windows on the per-pixel
        face and background log-likelihoods.
        """
        if self.face is None or self.background is None:
            return score_of_ratio(self.ratio, pixels)
        return face_score(self.face, self.background, pixels, calibration)


def prepare_images(images: np.ndarray, side: np.ndarray, size: int = 24) -> torch.Tensor:
    """Anti-alias grey images for reading a ``size``-pixel glimpse of a ``side``-pixel window:
    Gaussian blur with sigma ``0.45 * side / size`` when that exceeds 0.5 px.

    Args:
        images: ``(N, H, W)`` float32 in [0, 1].
        side: ``(N,)`` expected face side in pixels.
        size: side of the glimpse in pixels.

    Returns:
        ``(N, 1, H, W)`` float32 tensor.
    """
    out = np.empty_like(images, dtype=np.float32)
    for i, (im, s) in enumerate(zip(images, np.broadcast_to(side, (len(images),)))):
        sigma = 0.45 * float(s) / size
        out[i] = cv2.GaussianBlur(im, (0, 0), sigma) if sigma > 0.5 else im
    return torch.from_numpy(out)[:, None]


@torch.no_grad()
def propose(model: FaceModel, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """The ConvNet's transforms for ``(N, H, W)`` grey images in [0, 1] -> ``(N, 4)``."""
    h, w = images.shape[1:]
    out = []
    for i in range(0, len(images), batch):
        x = proposer_input(torch.from_numpy(np.ascontiguousarray(images[i : i + batch]))[:, None], model.config)
        out.append(decode_proposal(model.proposer(x), (w, h)))
    return torch.cat(out).double().numpy()


def refine(model: FaceModel, images: np.ndarray, u_init: np.ndarray, options: HMCOptions | None = None,
           side_range: tuple[float, float] = (20.0, 400.0), seed: int = 0,
           blur_side: np.ndarray | None = None, anchor: np.ndarray | None = None,
           anchor_sd: tuple[float, float] = (0.1, 0.05), z_prior: tuple | None = None) -> Localisation:
    """HMC over ``(u, z)`` from ``u_init`` for each image.

    Args:
        model: the face model.
        images: ``(N, H, W)`` float32 grey images in [0, 1].
        u_init: ``(N, 4)`` starting transforms, or ``(N, C, 4)`` one per chain (``C`` chains).
        options: HMC settings.
        side_range: prior range of the face side in pixels.
        seed: seed of the chains' jitter and momenta.
        blur_side: ``(N,)`` face side the images are anti-aliased for (default: the mean
            starting side per image).
        anchor: ``(N, 4)`` transforms of a Gaussian motion prior (a tracker's previous
            frame), or ``None`` for none.
        anchor_sd: its standard deviations: centre as a fraction of the anchor's side, and
            ``log s`` (rotation uses the same value in radians).
        z_prior: ``(mean (N, Z), sd)``: the prior of the face latents per image (one person's
            face model, e.g. a tracker's face), or ``(mean, sd, residual (N, S, S))`` with the
            person's residual image added to the model's mean, with ``z`` integrated out (``marginal`` only);
            the returned ``face`` and ``background`` terms are still those of the generic model
            (``z ~ N(0, I)``), which the face score is calibrated on.
    """
    opts = options or HMCOptions()
    vae = model.vae
    g = torch.Generator().manual_seed(seed)
    n = len(images)
    u0 = torch.as_tensor(np.asarray(u_init, np.float64), dtype=torch.float32)
    if u0.dim() == 2:
        c = opts.chains
        u0 = u0[:, None].expand(n, c, 4).clone()
        jit = torch.randn(n, c, 4, generator=g) * opts.jitter
        jit[:, 0] = 0.0  # the first chain starts exactly at the given transform
        u0[..., 0:2] += jit[..., 0:2] * u0[..., 2:3]
        u0[..., 2] *= torch.exp(jit[..., 2])
        u0[..., 3] += jit[..., 3]
    c = u0.shape[1]
    side0 = u0[..., 2].clamp(side_range[0], side_range[1])
    u0[..., 2] = side0
    blur = side0.mean(1).numpy() if blur_side is None else np.asarray(blur_side)
    imgs = prepare_images(np.asarray(images, np.float32), blur, vae.config.size)
    img_idx = torch.arange(n).repeat_interleave(c)
    flat_u = u0.reshape(n * c, 4)
    with torch.no_grad():
        if opts.marginal:
            z0 = flat_u.new_zeros(n * c, 0)
        else:
            z0, _ = vae.encode(normalise(read_glimpse(imgs[img_idx], flat_u, vae.config.size)))
    q0 = torch.cat([flat_u[:, :2], torch.log(flat_u[:, 2:3]), flat_u[:, 3:4], z0], 1)
    zdim = z0.shape[1]
    s0 = flat_u[:, 2:3]
    scale = torch.cat([s0 * opts.position_scale, s0 * opts.position_scale,
                       torch.full((n * c, 2), opts.shape_scale), torch.full((n * c, zdim), opts.latent_scale)], 1)
    chain_imgs = imgs[img_idx]
    theta_prior = model.config.theta_prior

    def to_u(q):
        return torch.cat([q[:, :2], torch.exp(q[:, 2:3]), q[:, 3:4]], 1)

    def latents(q):
        return None if opts.marginal else q[:, 4:]

    motion = None
    if anchor is not None:
        a = torch.as_tensor(np.asarray(anchor, np.float64), dtype=torch.float32)[img_idx]
        a_q = torch.cat([a[:, :2], torch.log(a[:, 2:3]), a[:, 3:4]], 1)
        sd_pos, sd_shape = anchor_sd
        a_sd = torch.cat([a[:, 2:3] * sd_pos, a[:, 2:3] * sd_pos, torch.full((len(a), 2), sd_shape)], 1)
        motion = (a_q, a_sd)

    image_prior = chain_prior = None
    if z_prior is not None:
        if not opts.marginal:
            raise ValueError("z_prior needs marginal HMC")
        mean = torch.as_tensor(np.asarray(z_prior[0], np.float64), dtype=torch.float32).reshape(n, -1)
        image_prior = (mean, float(z_prior[1]))
        chain_prior = (mean[img_idx], image_prior[1])
        if len(z_prior) > 2 and z_prior[2] is not None:
            size = vae.config.size
            residual = torch.as_tensor(np.asarray(z_prior[2], np.float64), dtype=torch.float32).reshape(n, size, size)
            image_prior += (residual,)
            chain_prior += (residual[img_idx],)

    def log_prob(q):
        lp = log_joint(vae, model.background, chain_imgs, to_u(q), latents(q), side_range, theta_prior,
                       chain_prior).total
        if motion is not None:
            lp = lp - 0.5 * ((q[:, :4] - motion[0]) / motion[1]).pow(2).sum(1)
        return lp

    for p in vae.parameters():
        p.requires_grad_(False)
    try:
        res = hmc(log_prob, q0, steps=opts.steps, leapfrog=opts.leapfrog, step_size=opts.step_size, scale=scale,
                  adapt=opts.adapt, generator=g)
    finally:
        for p in vae.parameters():
            p.requires_grad_(True)
    best_lp = res.best_log_prob.view(n, c)
    pick = best_lp.argmax(1)
    rows = torch.arange(n) * c + pick
    q = res.best[rows]
    u = to_u(q)
    with torch.no_grad():
        terms = log_joint(vae, model.background, imgs, u, latents(q), side_range, theta_prior)
        if image_prior is not None:
            total = log_joint(vae, model.background, imgs, u, None, side_range, theta_prior, image_prior).total
            terms = JointTerms(total, terms.face, terms.background, terms.prior_z, terms.prior_u)
        z = vae.posterior_mean(normalise(read_glimpse(imgs, u, vae.config.size))) if opts.marginal else q[:, 4:]
    return Localisation(u.double().numpy(), z.numpy(), terms.total.numpy(), terms.ratio.numpy(),
                        res.accept_rate.view(n, c).mean(1).numpy(), terms.face.numpy(), terms.background.numpy(),
                        res.step_size.view(n, c).median(1).values.numpy())


def grid_starts(u: np.ndarray, spread: float = 0.35) -> np.ndarray:
    """Chain starts around proposals: a 3x3 grid of centres ``spread`` face sides apart, plus
    the proposal at 0.8x and 1.25x its side (11 starts). ``(N, 4)`` -> ``(N, 11, 4)``.

    A proposal's centre is often off by a third of the face side; HMC moves locally, so the
    chains must start around it to find the mode the model prefers."""
    u = np.asarray(u, np.float64)
    offs = [(dx, dy, 1.0) for dy in (-1, 0, 1) for dx in (-1, 0, 1)] + [(0, 0, 0.8), (0, 0, 1.25)]
    out = np.repeat(u[:, None], len(offs), axis=1)
    for k, (dx, dy, f) in enumerate(offs):
        out[:, k, 0] += dx * spread * u[:, 2]
        out[:, k, 1] += dy * spread * u[:, 2]
        out[:, k, 2] *= f
    return out


def random_starts(rng: np.random.Generator, n: int, chains: int, image_size: tuple[int, int],
                  side_range: tuple[float, float]) -> np.ndarray:
    """``(n, chains, 4)`` uniform random transforms: centre anywhere the square fits, side
    log-uniform in ``side_range``, no rotation."""
    w, h = image_size
    s = np.exp(rng.uniform(math.log(side_range[0]), math.log(side_range[1]), (n, chains)))
    cx = rng.uniform(s / 2, np.maximum(w - s / 2, s / 2 + 1))
    cy = rng.uniform(s / 2, np.maximum(h - s / 2, s / 2 + 1))
    return np.stack([cx, cy, s, np.zeros_like(s)], -1)


def cut_region(img: np.ndarray, cx: float, cy: float, width: float, height: float,
               out_size: tuple[int, int]) -> np.ndarray:
    """The region of ``width`` x ``height`` pixels centred at ``(cx, cy)`` of a grey ``(H, W)`` image,
    resized (area-averaged) to ``out_size`` ``(w, h)``; parts outside the image repeat its border.

    Returns:
        ``(h, w)`` float32 image.
    """
    h, w = img.shape
    x0, y0 = int(math.floor(cx - width / 2)), int(math.floor(cy - height / 2))
    x1, y1 = int(math.ceil(cx + width / 2)), int(math.ceil(cy + height / 2))
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    src = img
    if pad:
        pad = min(pad, 4 * max(h, w))
        src = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = src[y0 + pad : y1 + pad, x0 + pad : x1 + pad]
    if crop.size == 0:
        crop = img
    return cv2.resize(np.ascontiguousarray(crop, np.float32), out_size, interpolation=cv2.INTER_AREA)


#: a search region is this many face sides wide: the proposer's training scenes (160x120,
#: faces 30..80 px) hold a face of about a third of their width
REGION_SIDES = 3.0


def propose_in_regions(model: FaceModel, img: np.ndarray, centres: np.ndarray, sides: np.ndarray,
                       region_sides: float = REGION_SIDES) -> np.ndarray:
    """The ConvNet's transform inside regions of a grey image (a search region around a predicted
    face, or the tiles of a whole frame).

    Each region is ``region_sides * side`` wide with the training scenes' 4:3 aspect, centred at
    its centre, cut and resized to the training scene size so the face has the size the proposer
    learnt.

    Args:
        model: the face model.
        img: ``(H, W)`` float32 grey image in [0, 1].
        centres: ``(N, 2)`` region centres in pixels.
        sides: ``(N,)`` the expected face side in pixels.
        region_sides: region width in face sides.

    Returns:
        ``(N, 4)`` transforms ``cx, cy, s, theta`` in pixels of ``img``.
    """
    from attentrack.generative.face.scenes import SCENE_SIZE

    sw, sh = SCENE_SIZE
    centres = np.asarray(centres, np.float64).reshape(-1, 2)
    sides = np.broadcast_to(np.asarray(sides, np.float64), (len(centres),))
    widths = region_sides * sides
    crops = np.stack([cut_region(img, c[0], c[1], rw, rw * sh / sw, (sw, sh)) for c, rw in zip(centres, widths)])
    u = propose(model, crops)
    f = sw / widths  # scene pixels per image pixel
    out = np.empty_like(u)
    out[:, 0] = centres[:, 0] + (u[:, 0] - sw / 2) / f
    out[:, 1] = centres[:, 1] + (u[:, 1] - sh / 2) / f
    out[:, 2] = u[:, 2] / f
    out[:, 3] = u[:, 3]
    return out


@torch.no_grad()
def window_terms(model: FaceModel, img: np.ndarray, u: np.ndarray,
                 blur_side: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Log-likelihoods (nats, ``z`` integrated out) under the face model and under the background
    model of the windows ``u`` ``(N, 4)`` of one grey ``(H, W)`` image, anti-aliased for
    ``blur_side`` (default: their mean side).

    Returns:
        ``(face, background)``, each ``(N,)`` float64.
    """
    from attentrack.generative.face.model import log_joint

    u = np.asarray(u, np.float64).reshape(-1, 4)
    side = float(np.mean(u[:, 2])) if blur_side is None else float(blur_side)
    prepared = prepare_images(np.asarray(img, np.float32)[None], np.array([side]), model.vae.config.size)
    terms = log_joint(model.vae, model.background, prepared, torch.as_tensor(u, dtype=torch.float32), None,
                      (1e-3, 1e6), model.config.theta_prior)
    return terms.face.double().numpy(), terms.background.double().numpy()


def window_ratio(model: FaceModel, img: np.ndarray, u: np.ndarray, blur_side: float | None = None) -> np.ndarray:
    """Face-versus-background log-likelihood ratio (nats) of the windows of :func:`window_terms`: ``(N,)``."""
    face, background = window_terms(model, img, u, blur_side)
    return face - background


def score_of_ratio(ratio, pixels: int = 576) -> np.ndarray:
    """The face score of :meth:`Localisation.score` for a log-likelihood ratio in nats."""
    return 1.0 / (1.0 + np.exp(-np.clip(4.0 * np.asarray(ratio, np.float64) / pixels, -50, 50)))


def face_score(face, background, pixels: int, calibration: dict | None = None) -> np.ndarray:
    """The face score in (0, 1) of windows of ``pixels`` pixels from their summed face and
    background log-likelihoods in nats (arrays of one shape): :func:`calibrated_score` of the
    per-pixel terms with a ``calibration``, else :func:`score_of_ratio` of their difference."""
    if calibration:
        return calibrated_score(np.asarray(face) / pixels, np.asarray(background) / pixels, calibration)
    return score_of_ratio(np.asarray(face) - np.asarray(background), pixels)


def calibrated_score(face, background, calibration: dict) -> np.ndarray:
    """``sigmoid(w_face * face + w_background * background + bias)`` of per-pixel log-likelihoods
    (arrays of one shape), with the weights of a ``score_calibration`` dict."""
    w = calibration["weights"]
    x = w[0] * np.asarray(face, np.float64) + w[1] * np.asarray(background, np.float64) + calibration["bias"]
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
