"""The attentional face model (Tang, Srivastava and Salakhutdinov, "Learning Generative Models
with Visual Attention", NIPS 2014), with a small VAE in place of the paper's Gaussian DBN.

Generative (top-down) process for one image ``x``::

    z ~ N(0, I)                            # face latents, (Z,)
    v | z ~ N(mu(z), diag(sigma^2))        # canonical face, 24x24, normalised contrast
    u ~ p(u)                               # similarity transform (cx, cy, s, theta)
    x = the face v placed by u over a background

Pixels under the transformed canonical window are explained by the face model, the rest by a
background model. Reading the window back with the same ``u`` (:func:`read_glimpse`) gives
``v`` again, so up to terms that do not depend on ``(u, z)``::

    log p(x, u, z) = log p(z) + log p(u) + log N(g(u) | mu(z), sigma) - log p_bg(g(u))

where ``g(u)`` is the normalised 24x24 glimpse at ``u`` and ``p_bg`` is the background model
on the same pixels (the likelihood ratio form: the window's pixels are taken from the
background model and given to the face model). The background model
(:class:`BackgroundModel`) is a full-covariance Gaussian over normalised 24x24 glimpses of
real background frames, a classic natural-image-patch model: it explains smooth, correlated
clutter as well as a face model would, so only face-like windows win the ratio (an i.i.d.
background lets any smooth patch look like a face). The
glimpse samples the window at 24x24 rather than at image resolution, so every window counts
as 576 pixels whatever its size (documented approximation; it keeps scales comparable).

:class:`FaceVAE` is the face model (encoder = amortised initial guess of ``z``),
:class:`Proposer` the ConvNet that proposes ``u`` from the image, :func:`log_joint` the
differentiable log-joint that :mod:`attentrack.generative.face.hmc` samples.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from attentrack.generative.face.transform import normalise, read_glimpse
from attentrack.tracker.errors import InputError

LOG_2PI = math.log(2 * math.pi)


@dataclass
class FaceConfig:
    """Sizes of the face model and the proposer.

    Attributes:
        size: canonical face side in pixels.
        latents: VAE latent dimension ``Z``.
        hidden: VAE encoder hidden units (and decoder's, for the ``mlp`` decoder).
        decoder: ``linear`` (a linear-Gaussian face model, like probabilistic PCA with an
            amortised encoder; it generalises to new people far better than an MLP decoder
            on ORL's 300 training faces) or ``mlp``.
        proposer_width: ``(W, H)`` of the proposer's input image in pixels.
        proposer_channels: channels of the proposer's four conv layers' first layer (doubling).
        max_rotation: largest rotation in radians of the synthetic training placements.
        theta_prior: standard deviation in radians of the Gaussian prior on rotation.
    """

    size: int = 24
    latents: int = 32
    hidden: int = 256
    decoder: str = "linear"
    proposer_width: tuple[int, int] = (80, 60)
    proposer_channels: int = 16
    max_rotation: float = 0.35
    theta_prior: float = 0.35

    def to_dict(self) -> dict:
        """The settings as a JSON-ready dict (the weights file's ``config``)."""
        d = asdict(self)
        d["proposer_width"] = list(self.proposer_width)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FaceConfig":
        """Settings from :meth:`to_dict`'s output; an unknown key is an :class:`InputError`."""
        d = dict(d)
        if "proposer_width" in d:
            d["proposer_width"] = tuple(int(v) for v in d["proposer_width"])
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise InputError(f"unknown face-model settings: {', '.join(unknown)}")
        return cls(**d)


class FaceVAE(nn.Module):
    """A VAE on normalised canonical faces: ``(B, S, S)`` <-> ``(B, Z)``.

    The decoder gives the mean face; ``log_sigma`` is a learned noise level shared by all pixels.
    """

    def __init__(self, config: FaceConfig) -> None:
        super().__init__()
        n = config.size * config.size
        self.config = config
        self.encoder = nn.Sequential(nn.Linear(n, config.hidden), nn.ELU(), nn.Linear(config.hidden, config.hidden),
                                     nn.ELU(), nn.Linear(config.hidden, 2 * config.latents))
        if config.decoder == "linear":
            self.decoder = nn.Sequential(nn.Linear(config.latents, n))
        elif config.decoder == "mlp":
            self.decoder = nn.Sequential(nn.Linear(config.latents, config.hidden), nn.ELU(),
                                         nn.Linear(config.hidden, config.hidden), nn.ELU(), nn.Linear(config.hidden, n))
        else:
            raise InputError(f"unknown face decoder {config.decoder!r} (linear or mlp)")
        self.log_sigma = nn.Parameter(torch.tensor(math.log(0.5)))

    def encode(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, S, S)`` normalised faces -> posterior mean and log-std, each ``(B, Z)``."""
        mu, log_std = self.encoder(v.flatten(1)).chunk(2, dim=1)
        return mu, log_std.clamp(-6, 2)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, Z)`` -> ``(B, S, S)`` mean normalised faces."""
        s = self.config.size
        return self.decoder(z).view(-1, s, s)

    def log_likelihood(self, v: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log N(v | mu(z), sigma^2)`` summed over pixels: ``(B, S, S), (B, Z) -> (B,)``."""
        mean = self.decode(z).flatten(1)
        ls = self.log_sigma.clamp(-3, 1)
        r = (v.flatten(1) - mean) * torch.exp(-ls)
        return -(0.5 * r.pow(2)).sum(1) - mean.shape[1] * (ls + 0.5 * LOG_2PI)


    def _linear(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.config.decoder != "linear":
            raise InputError("the latents can be integrated out only with the linear decoder")
        lin = self.decoder[0]
        return lin.weight, lin.bias, self.log_sigma.clamp(-3, 1)

    def marginal_log_likelihood(self, v: torch.Tensor, prior_mean: torch.Tensor | None = None,
                                prior_sd: float = 1.0, residual: torch.Tensor | None = None) -> torch.Tensor:
        """``log p(v) = log N(v | b, W W^T + sigma^2 I)`` with ``z`` integrated out (linear decoder
        only; Woodbury identity, ``O(n Z^2)``): ``(B, S, S) -> (B,)``.

        With ``prior_mean`` ``(B, Z)`` the latents' prior is ``N(prior_mean, prior_sd^2 I)`` instead
        of ``N(0, I)`` (a face model of one person: ``log N(v | b + W m, prior_sd^2 W W^T + sigma^2 I)``).
        ``residual`` ``(B, S, S)`` is added to that mean: the part of this person's normalised face
        the latents do not reproduce (``v0 - b - W m`` of a face ``v0`` makes ``v0`` the mean).
        """
        w, b, ls = self._linear()
        if prior_mean is not None:
            b = b + prior_mean @ w.T
            w = w * prior_sd
        if residual is not None:
            b = b + residual.flatten(1)
        n, k = w.shape
        var = torch.exp(2 * ls)
        m = var * torch.eye(k, dtype=w.dtype, device=w.device) + w.T @ w
        chol = torch.linalg.cholesky(m)
        r = v.flatten(1) - b
        proj = torch.linalg.solve_triangular(chol, (r @ w).T, upper=False).T  # L^-1 W^T r
        quad = (r.pow(2).sum(1) - proj.pow(2).sum(1)) / var
        logdet = (n - k) * 2 * ls + 2 * torch.log(torch.diagonal(chol)).sum()
        return -0.5 * (quad + logdet + n * LOG_2PI)

    def posterior_mean(self, v: torch.Tensor) -> torch.Tensor:
        """``E[z | v] = (sigma^2 I + W^T W)^-1 W^T (v - b)`` (linear decoder): ``(B, S, S) -> (B, Z)``."""
        w, b, ls = self._linear()
        m = torch.exp(2 * ls) * torch.eye(w.shape[1], dtype=w.dtype, device=w.device) + w.T @ w
        return torch.linalg.solve(m, (w.T @ (v.flatten(1) - b).T)).T


@dataclass
class ElboTerms:
    """Per-batch VAE terms (means over the batch, in nats per face)."""

    elbo: torch.Tensor
    likelihood: torch.Tensor
    kl: torch.Tensor


def vae_elbo(vae: FaceVAE, v: torch.Tensor) -> ElboTerms:
    """One-sample ELBO of normalised faces ``v`` ``(B, S, S)`` (the loss is ``-elbo``)."""
    mu, log_std = vae.encode(v)
    z = mu + torch.randn_like(mu) * torch.exp(log_std)
    ll = vae.log_likelihood(v, z)
    kl = 0.5 * (mu.pow(2) + torch.exp(2 * log_std) - 1 - 2 * log_std).sum(1)
    return ElboTerms((ll - kl).mean(), ll.mean(), kl.mean())


class BackgroundModel(nn.Module):
    """A Gaussian ``N(mean, cov)`` over normalised ``(S, S)`` glimpses of backgrounds.

    Stored as ``mean`` ``(n,)``, ``prec_chol`` ``(n, n)`` (lower-triangular ``L`` with
    ``cov^-1 = L L^T``) and ``log_norm`` (``-0.5 log det(2 pi cov)``), all buffers.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        n = size * size
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("prec_chol", torch.eye(n))
        self.register_buffer("log_norm", torch.tensor(-0.5 * n * LOG_2PI))
        self.register_buffer("fitted", torch.tensor(False))

    @torch.no_grad()
    def fit(self, glimpses: torch.Tensor, rank: int = 0, shrink: float = 0.02) -> None:
        """Set mean and covariance from ``(N, S, S)`` normalised glimpses.

        Args:
            glimpses: the background glimpses.
            rank: 0 for the full sample covariance; otherwise the maximum-likelihood
                probabilistic-PCA covariance ``W W^T + sigma^2 I`` with ``rank`` factors (the
                same form and capacity as the linear face model, so the likelihood ratio
                compares like with like).
            shrink: added to the covariance's diagonal so it stays well conditioned.
        """
        x = glimpses.flatten(1).double()
        mean = x.mean(0)
        d = x - mean
        cov = d.T @ d / max(1, len(x) - 1)
        if rank:
            evals, evecs = torch.linalg.eigh(cov)  # ascending
            evals, evecs = evals.flip(0), evecs.flip(1)
            noise = evals[rank:].mean()
            top = evecs[:, :rank]
            cov = top @ torch.diag(evals[:rank] - noise) @ top.T + noise * torch.eye(len(cov), dtype=torch.float64)
        cov = cov + shrink * torch.eye(x.shape[1], dtype=torch.float64)
        chol = torch.linalg.cholesky(cov)
        inv_chol = torch.linalg.solve_triangular(chol, torch.eye(len(cov), dtype=torch.float64), upper=False)
        self.mean.copy_(mean.float())
        self.prec_chol.copy_(inv_chol.T.float())  # cov^-1 = C^-T C^-1 = (C^-T)(C^-T)^T
        self.log_norm.copy_(-(torch.log(torch.diagonal(chol)).sum() + 0.5 * len(cov) * LOG_2PI).float())
        self.fitted.fill_(True)

    def log_prob(self, g: torch.Tensor) -> torch.Tensor:
        """``(B, S, S)`` normalised glimpses -> ``(B,)`` log-densities (nats)."""
        r = (g.flatten(1) - self.mean) @ self.prec_chol
        return self.log_norm - 0.5 * r.pow(2).sum(1)


class Proposer(nn.Module):
    """ConvNet that proposes a transform from the whole (resized) image.

    Input ``(B, 1, H, W)`` normalised grey image at ``config.proposer_width``; output
    ``(B, 4)`` = ``cx / W, cy / H, log(s / W), theta`` (see :func:`decode_proposal`).
    """

    def __init__(self, config: FaceConfig) -> None:
        super().__init__()
        c = config.proposer_channels
        layers, cin = [], 1
        for cout in (c, 2 * c, 4 * c, 4 * c):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.LazyLinear(128), nn.ReLU(), nn.Linear(128, 4))
        w, h = config.proposer_width
        self.head(self.features(torch.zeros(1, 1, h, w)))  # materialise the lazy layer

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 4)`` similarity-transform parameters ``u`` of the face in ``(B, 1, H, W)`` grey ``image``."""
        return self.head(self.features(image))


def proposer_input(images: torch.Tensor, config: FaceConfig) -> torch.Tensor:
    """``(B, 1, H, W)`` grey images in [0, 1] -> the proposer's ``(B, 1, h, w)`` input
    (area-resized, each image normalised to zero mean, unit variance)."""
    w, h = config.proposer_width
    x = F.interpolate(images, size=(h, w), mode="area")
    flat = x.flatten(1)
    return ((flat - flat.mean(1, keepdim=True)) / (flat.std(1, keepdim=True) + 1e-3)).view_as(x)


def encode_target(u: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """Transforms ``(B, 4)`` in pixels -> the proposer's regression targets ``(B, 4)``."""
    w, h = image_size
    return torch.stack([u[:, 0] / w, u[:, 1] / h, torch.log(u[:, 2] / w), u[:, 3]], 1)


def decode_proposal(out: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """The inverse of :func:`encode_target`: ``(B, 4)`` outputs -> transforms in pixels."""
    w, h = image_size
    return torch.stack([out[:, 0] * w, out[:, 1] * h, torch.exp(out[:, 2]) * w, out[:, 3]], 1)


@dataclass
class JointTerms:
    """The log-joint of :func:`log_joint` split into its terms, each ``(B,)`` in nats."""

    total: torch.Tensor
    face: torch.Tensor
    background: torch.Tensor
    prior_z: torch.Tensor
    prior_u: torch.Tensor

    @property
    def ratio(self) -> torch.Tensor:
        """Face-versus-background log-likelihood ratio of the window, ``(B,)``."""
        return self.face - self.background


def log_joint(vae: FaceVAE, background: BackgroundModel, images: torch.Tensor, u: torch.Tensor,
              z: torch.Tensor | None, scale_range: tuple[float, float], theta_prior: float,
              z_prior: tuple | None = None) -> JointTerms:
    """``log p(x, u, z)`` up to a constant (see the module docstring), differentiable in ``u, z``.

    Args:
        vae: the face model.
        background: the background model of the same glimpses.
        images: ``(B, 1, H, W)`` (or ``(1, 1, H, W)``) grey images in [0, 1].
        u: ``(B, 4)`` transforms in pixels.
        z: ``(B, Z)`` latents, or ``None`` to integrate them out (``log p(x, u)``, linear decoder).
        scale_range: ``(s_min, s_max)`` in pixels: a log-uniform prior on the face side,
            with soft (quadratic) walls outside it.
        theta_prior: standard deviation in radians of the zero-mean rotation prior.
        z_prior: with ``z`` integrated out, the prior of ``z`` as ``(mean (B, Z), sd)`` (one
            person's face model) instead of ``N(0, I)``, or ``(mean, sd, residual (B, S, S))`` with
            the person's residual image added to the model's mean (see
            :meth:`FaceVAE.marginal_log_likelihood`).
    """
    g = normalise(read_glimpse(images, u, vae.config.size))
    if z is None:
        face = vae.marginal_log_likelihood(g, *(z_prior or (None, 1.0)))
        prior_z = torch.zeros_like(face)
    else:
        face = vae.log_likelihood(g, z)
        prior_z = -0.5 * (z.pow(2) + LOG_2PI).sum(1)
    background_lp = background.log_prob(g)
    log_s = torch.log(u[:, 2].clamp_min(1e-3))
    lo, hi = math.log(scale_range[0]), math.log(scale_range[1])
    wall = F.relu(lo - log_s) + F.relu(log_s - hi)
    h, w = images.shape[-2:]
    out_x = F.relu(-u[:, 0]) + F.relu(u[:, 0] - w)
    out_y = F.relu(-u[:, 1]) + F.relu(u[:, 1] - h)
    prior_u = -0.5 * (u[:, 3] / theta_prior) ** 2 - 5000.0 * wall.pow(2) - 0.5 * ((out_x + out_y) / 2.0) ** 2
    total = face - background_lp + prior_z + prior_u
    return JointTerms(total, face, background_lp, prior_z, prior_u)


@dataclass
class FaceModel:
    """The face VAE, the background model and the proposer, with their configuration."""

    config: FaceConfig
    vae: FaceVAE
    proposer: Proposer
    background: BackgroundModel
    meta: dict = field(default_factory=dict)

    @classmethod
    def create(cls, config: FaceConfig | None = None) -> "FaceModel":
        """A freshly initialised model of ``config`` (the defaults when ``None``)."""
        config = config or FaceConfig()
        return cls(config, FaceVAE(config), Proposer(config), BackgroundModel(config.size))

    def eval(self) -> "FaceModel":
        """Put the VAE and the proposer in evaluation mode; returns ``self``."""
        self.vae.eval()
        self.proposer.eval()
        return self

    def parts(self) -> nn.ModuleDict:
        """The three networks as one module (``vae.*``, ``proposer.*``, ``background.*`` tensors):
        what training checkpoints and the weights file holds."""
        return nn.ModuleDict({"vae": self.vae, "proposer": self.proposer, "background": self.background})

    def save(self, path) -> None:
        """Write the weights in the one weights format (:mod:`attentrack.tracker.weights_file`),
        atomically, with :attr:`meta` as metadata."""
        from attentrack.tracker.weights_file import save_weights

        save_weights(path, "face", self.config.to_dict(), self.parts().state_dict(), self.meta)


#: the face weights shipped in the package
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "face.pt"


def load_face_model(path: str | Path = "", device: torch.device | str = "cpu") -> FaceModel:
    """Load face weights (``attentrack train face`` output; empty: the shipped weights).

    Raises:
        InputError: the file is missing or broken, is not a face-model weights file, or holds
            a config or tensors this version cannot build.
    """
    from attentrack.tracker.weights_file import load_weights

    weights = load_weights(Path(path) if path else SHIPPED_WEIGHTS, expect="face")
    model = weights.build(lambda config: FaceModel.create(FaceConfig.from_dict(config)), module=FaceModel.parts)
    model.meta = dict(weights.metadata)
    model.parts().to(device)
    return model.eval()
