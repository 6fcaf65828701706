"""SQAIR: Sequential Attend, Infer, Repeat (Kosiorek, Kim, Posner, Teh, NeurIPS 2018).

A generative model of a video in which every object is its own latent variable:
``what`` (appearance code), ``where`` (``z_where``: logit scales and translations, see
:mod:`attentrack.tracker.sqair.modules`) and ``pres`` (Bernoulli presence). At each frame

1. **propagation** updates every object of the previous frame (a temporal GRU per object
   carries its history; ``where`` and ``what`` move by Gaussian steps; ``pres`` may drop to
   0, and the object is then forgotten), and
2. **discovery** adds new objects AIR-style: a GRU over free object slots looks at the frame
   and at the residual the objects found so far leave unexplained, and stops at the first
   absent object.

Every object's glimpse is decoded from ``what`` and written onto the canvas with a spatial
transformer; the frame is Gaussian around the sum of the objects with standard deviation
``sigma``.

Generative and inference paths sit side by side: :meth:`SQAIR.propagate` and
:meth:`SQAIR.discover` are the inference (guide) steps, each scoring its samples under the
matching prior (learned for propagation, fixed for discovery: a presence prior that
discourages extra objects and a scale prior centred near the object size);
:meth:`SQAIR.generate` samples from the priors. States are typed tuples
(:class:`ObjectState`); the loss (IWAE + VIMCO) is built outside, in
:mod:`attentrack.tracker.sqair.losses`. The hyper-parameters are
:class:`attentrack.tracker.sqair.config.SQAIRConfig`, the ``anchor`` heuristics live in
:mod:`attentrack.tracker.sqair.anchors` and the pixel boxes of the inferred objects are read
out by :mod:`attentrack.tracker.sqair.readout`; this module also writes and reads the weights.

Differences from the paper (sized for a CPU): hidden layers have 128 units, not 256;
propagation objects do not attend to each other through a relational RNN (with
``sequential_propagation`` each one reads the frame minus the objects propagated before
it instead), and discovery reads the residual image rather than a summary of the
propagated latents.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal

from attentrack.tracker.errors import InputError
from attentrack.tracker.layers import MLP
from attentrack.tracker.sqair.anchors import nearest_peak, residual_peak, window_centroid, window_mass
from attentrack.tracker.sqair.config import SQAIRConfig
from attentrack.tracker.sqair.modules import GLIMPSE_DECODERS, GaussianHead, stn_read, stn_write, where_from_latent
from attentrack.tracker.weights_file import WeightsFile
from attentrack.tracker.weights_file import load_weights as read_weights
from attentrack.tracker.weights_file import save_weights as write_weights

#: the initial logit of every glimpse-mask pixel (``SQAIRConfig.glimpse_mask``): sigmoid(6) = 0.9975
GLIMPSE_MASK_BIAS = 6.0
#: the learned discovery prior's parameters (``disc_prior=categorical``)
PRIOR_PARAMETERS = ("disc_count_logits", "disc_count_later")
#: the name prefixes of the optional parts' parameters (``glimpse_mask``, ``relational``,
#: ``where_prior=conditioned``, ``prop_prior=rnn``): the first three are built so that they start
#: changing nothing; the prior GRU changes only the propagation prior, not what inference computes
ADDED_PREFIXES = ("prop_glimpse_mask.", "prop_relation.", "prop_relation_head.", "disc_where_prior_enc.",
                  "disc_where_prior_head.", "prior_rnn.")


def addable(name: str) -> bool:
    """Whether parameter ``name`` may be missing from weights a fine-tune starts from: the learned
    discovery prior's and the optional parts' start at their initial values."""
    return name in PRIOR_PARAMETERS or name.startswith(ADDED_PREFIXES)


class ObjectState(NamedTuple):
    """The objects of one frame, for ``n`` independent rows (sequences x particles).

    Attributes:
        what: ``(n, N, what_dim)`` appearance codes.
        where: ``(n, N, 4)`` ``z_where`` (logit ``sx, sy``, then ``tx, ty``).
        pres: ``(n, N)`` float 0/1 presence.
        h: ``(n, N, hidden)`` temporal GRU state of each object.
        prior_h: ``(n, N, hidden)`` state of each object's propagation prior GRU, which reads only
            the object's past latents (``prop_prior="rnn"``, the original's); None with the
            default ``prop_prior="state"``, whose prior reads ``h``.
    """

    what: torch.Tensor
    where: torch.Tensor
    pres: torch.Tensor
    h: torch.Tensor
    prior_h: torch.Tensor | None = None


class StepScores(NamedTuple):
    """Log densities of one step's samples, each ``(n,)``.

    Attributes:
        log_p: prior log density of the sampled latents.
        log_q: posterior log density of the sampled latents.
        log_q_pres: the part of ``log_q`` from the discrete presences (for VIMCO).
    """

    log_p: torch.Tensor
    log_q: torch.Tensor
    log_q_pres: torch.Tensor


class _Propagated(NamedTuple):
    """Per-object outcome of a propagation step, each ``(k,)``."""

    pres: torch.Tensor
    log_p: torch.Tensor
    log_q_pres: torch.Tensor
    log_q_latents: torch.Tensor
    prior_h: torch.Tensor | None = None  # ``(k, hidden)`` the prior GRU's new state (``prop_prior="rnn"``)


class FrameResult(NamedTuple):
    """One frame of inference.

    Attributes:
        state: objects after propagation and discovery.
        canvas: ``(n, H, W)`` the rendered frame.
        objects: ``(n, N, H, W)`` every object written alone (zero where absent).
        scores: log densities of the frame's latents.
        log_lik: ``(n,)`` log-likelihood of the frame.
        discovered: ``(n, N)`` 0/1, the slot got a new object at this frame.
    """

    state: ObjectState
    canvas: torch.Tensor
    objects: torch.Tensor
    scores: StepScores
    log_lik: torch.Tensor
    discovered: torch.Tensor


@dataclass
class SQAIROutput:
    """Inference on a batch of sequences with ``K`` particles each.

    Attributes:
        log_weights: ``(B, K)`` importance log-weights ``log p(x, z) - log q(z | x)``, summed
            over frames (nats).
        log_q_pres: ``(B, K)`` posterior log-probability of the sampled presences.
        log_lik: ``(B, K, T)`` per-frame log-likelihood.
        pres: ``(B, K, T, N)`` presences.
        where: ``(B, K, T, N, 4)`` windows ``sx, sy, tx, ty``.
        discovered: ``(B, K, T, N)`` the slot got a new object at that frame.
        objects: ``(B, K, T, N, H, W)`` rendered objects (only with ``keep_objects``).
        canvas: ``(B, K, T, H, W)`` rendered frames (only with ``keep_objects``).
    """

    log_weights: torch.Tensor
    log_q_pres: torch.Tensor
    log_lik: torch.Tensor
    pres: torch.Tensor
    where: torch.Tensor
    discovered: torch.Tensor
    objects: torch.Tensor | None = None
    canvas: torch.Tensor | None = None

    @property
    def counts(self) -> torch.Tensor:
        """``(B, K, T)`` number of objects per frame."""
        return self.pres.sum(-1)

    def best_particle(self) -> torch.Tensor:
        """``(B,)`` index of each sequence's particle with the largest importance weight
        (the one evaluation reads out)."""
        return self.log_weights.argmax(1)


def _bernoulli(prob: torch.Tensor, mode: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``pres ~ Bernoulli(prob)`` (``mode``: take the most probable value); return
    ``(pres, log q(pres))`` (no gradient through the sample)."""
    prob = prob.clamp(1e-5, 1 - 1e-5)
    pres = (prob.detach() > 0.5).to(prob.dtype) if mode else torch.bernoulli(prob.detach())
    return pres, pres * prob.log() + (1 - pres) * (-prob).log1p()


def _bernoulli_log_prob(pres: torch.Tensor, prob: torch.Tensor | float) -> torch.Tensor:
    """``log p(pres)`` under ``Bernoulli(prob)``. A network's ``prob`` (a tensor) is clamped
    to ``[1e-5, 1 - 1e-5]``; a fixed prior (a float, e.g. ``disc_pres_prior``) is used as
    given, however small (clamping it silently turned priors below 1e-5 into 1e-5)."""
    if torch.is_tensor(prob):
        prob = prob.clamp(1e-5, 1 - 1e-5)
        return pres * prob.log() + (1 - pres) * (-prob).log1p()
    if not 0.0 < prob < 1.0:
        raise ValueError(f"a Bernoulli prior must lie strictly between 0 and 1, got {prob}")
    return pres * math.log(prob) + (1 - pres) * math.log1p(-prob)


def _normal_sample(loc: torch.Tensor, scale: torch.Tensor, mode: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised sample (``mode``: the mean) and its log density summed over the last
    dimension."""
    z = loc if mode else loc + scale * torch.randn_like(loc)
    return z, Normal(loc, scale).log_prob(z).sum(-1)


class SQAIR(nn.Module):
    """The SQAIR model (generative model and inference network).

    Args:
        config: hyper-parameters (see :class:`SQAIRConfig`).
    """

    def __init__(self, config: SQAIRConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or SQAIRConfig()
        g2, hd, dw, ah = c.glimpse * c.glimpse, c.hidden, c.what_dim, c.appearance_hidden
        self.decoder = GLIMPSE_DECODERS[c.decoder](dw, ah, c.glimpse, output=c.decoder_output)
        # propagation (inference)
        self.prop_glimpse_enc = MLP(g2, ah, hd)
        self.prop_where = GaussianHead(2 * hd + dw + 4, hd, 4, init_scale=0.1)
        self.prop_where.set_initial_scale((2, 3), 0.1 * c.shift_init_factor)
        self.prop_what = GaussianHead(2 * hd + dw, ah, dw, init_scale=0.1)
        self.prop_pres = MLP(2 * hd, hd, 1)
        nn.init.constant_(self.prop_pres[-1].bias, 3.0)
        self.temporal = nn.GRUCell(dw + 4 + hd, hd)
        if c.glimpse_mask:  # the original's mask of each propagated glimpse, from the temporal state
            self.prop_glimpse_mask = MLP(hd, hd, g2)
            nn.init.zeros_(self.prop_glimpse_mask[-1].weight)
            nn.init.constant_(self.prop_glimpse_mask[-1].bias, GLIMPSE_MASK_BIAS)
        if c.relational:  # the original's relational RNN across the propagated objects
            self.prop_relation = nn.GRUCell(dw + 4 + 1, hd)
            self.prop_relation_head = MLP(2 * hd, hd, 4 + dw)
            nn.init.zeros_(self.prop_relation_head[-1].weight)
            nn.init.zeros_(self.prop_relation_head[-1].bias)
        # propagation (learned prior)
        self.prior_where = GaussianHead(hd + 4, hd, 4, init_scale=0.2)
        self.prior_what = GaussianHead(hd + dw, hd, dw, init_scale=0.2)
        self.prior_pres = MLP(hd, hd, 1)
        nn.init.constant_(self.prior_pres[-1].bias, 3.0)
        if c.prop_prior == "rnn":  # the original's: the heads read a GRU over the object's past latents
            self.prior_rnn = nn.GRUCell(dw + 4, hd)
        # discovery (inference)
        self.disc_image_enc = MLP(2 * (c.height // 2) * (c.width // 2), hd, hd)
        self.disc_rnn = nn.GRUCell(hd + dw + 4, hd)
        self.disc_where = GaussianHead(hd, hd, 4, init_scale=0.3)
        self.disc_where.set_initial_scale((2, 3), 0.3 * c.shift_init_factor)
        self.disc_glimpse_enc = MLP(g2, ah, hd)
        self.disc_what = GaussianHead(2 * hd, ah, dw, init_scale=0.5)
        self.disc_pres = MLP(2 * hd, hd, 1)
        nn.init.constant_(self.disc_pres[-1].bias, 1.0)
        with torch.no_grad():  # discovery starts at the prior's window
            self.disc_where.net[-1].bias[:4] = self._where_prior_loc()
        if c.where_prior == "conditioned":  # the original's where prior, given the propagated objects
            self.disc_where_prior_enc = MLP(dw + 4, hd, hd)
            self.disc_where_prior_head = MLP(hd, hd, 8)
            nn.init.zeros_(self.disc_where_prior_head[-1].weight)
            nn.init.zeros_(self.disc_where_prior_head[-1].bias)
        if c.disc_prior == "categorical":  # learned prior on the number of new objects per frame
            self.disc_count_logits = nn.Parameter(torch.zeros(c.max_objects + 1))
            self.disc_count_later = nn.Parameter(F.pad(torch.tensor([float(c.disc_count_bonus)]), (0, c.max_objects)))
        self._means = False

    @contextlib.contextmanager
    def posterior_means(self):
        """Within this block inference takes posterior means and most probable presences
        instead of samples (deterministic tracking)."""
        old, self._means = self._means, True
        try:
            yield
        finally:
            self._means = old

    # -- priors ------------------------------------------------------------------------------

    def _prior_side(self) -> tuple[float, float]:
        """The prior's mean window width and height as shares of the canvas width and height."""
        c = self.config
        sx = min(max(c.scale_prior, 1e-3), 0.999)
        sy = min(max(c.scale_prior * c.aspect_prior * c.width / c.height, 1e-3), 0.999)
        return sx, sy

    def _where_prior_loc(self) -> torch.Tensor:
        sx, sy = self._prior_side()
        return torch.tensor([math.log(sx / (1 - sx)), math.log(sy / (1 - sy)), 0.0, 0.0])

    def prior_window_px(self, stds: float = 0.0) -> tuple[int, int]:
        """The prior's window size ``(w, h)`` in canvas pixels: its mean, or ``stds`` prior
        standard deviations above it (on the logit side, where the prior is normal)."""
        sx, sy = self._prior_side()
        if stds:
            up = stds * self.config.scale_prior_std
            sx, sy = (1.0 / (1.0 + math.exp(-(math.log(s / (1 - s)) + up))) for s in (sx, sy))
        return round(sx * self.config.width), round(sy * self.config.height)

    def discovery_where_prior(self, state: ObjectState | None = None) -> Normal:
        """The prior of a new object's ``z_where``.

        Args:
            state: the objects propagated into the frame (``where_prior="conditioned"`` shifts
                the prior by a summary of them); None, or with a ``fixed`` prior: the fixed Normal.

        Returns:
            a Normal with ``(4,)`` loc and scale (fixed), or ``(n, 4)`` (conditioned on ``state``).
        """
        c = self.config
        scale = torch.tensor([c.scale_prior_std] * 2 + [c.shift_prior_std] * 2)
        loc = self._where_prior_loc().to(scale)
        if state is not None:
            loc, scale = loc.to(state.pres), scale.to(state.pres)
        if state is None or c.where_prior == "fixed":
            return Normal(loc, scale)
        latents = torch.cat([state.what, state.where], -1)
        summary = (self.disc_where_prior_enc(latents) * state.pres[..., None]).sum(1)
        shift = self.disc_where_prior_head(summary)
        return Normal(loc + shift[:, :4], scale * torch.exp(shift[:, 4:].clamp(max=5.0)))

    def discovery_count_log_prior(self, free: torch.Tensor, first_frame: bool) -> torch.Tensor:
        """Prior log-probability of each number of new objects in a frame.

        Args:
            free: ``(n,)`` free object slots of each row (after propagation).
            first_frame: the frame is a sequence's first (the ``categorical`` prior adds its
                bonus on "no new object" only after it).

        Returns:
            ``(n, max_objects + 1)`` ``log p(k)`` for ``k = 0..max_objects`` new objects, ``-inf``
            where ``k`` exceeds the free slots. ``bernoulli``: discovery's chain of fixed
            Bernoulli(``disc_pres_prior``) decisions, ``k`` successes then one failure unless
            every free slot is taken; ``categorical``: the learned categorical truncated to
            ``0..free`` and renormalised.
        """
        c = self.config
        k = torch.arange(c.max_objects + 1, device=free.device, dtype=free.dtype)
        allowed = k[None, :] <= free[:, None]
        if c.disc_prior == "bernoulli":
            rho = float(c.disc_pres_prior)
            lp = k[None, :] * math.log(rho) + (k[None, :] < free[:, None]).to(free.dtype) * math.log1p(-rho)
            return lp.masked_fill(~allowed, -math.inf)
        logits = self.disc_count_logits if first_frame else self.disc_count_logits + self.disc_count_later
        logits = F.elu(logits).to(free.dtype).expand(len(free), -1).masked_fill(~allowed, -math.inf)
        return logits - torch.logsumexp(logits, -1, keepdim=True)

    def _sample_new_slots(self, pres: torch.Tensor, first_frame: bool) -> torch.Tensor:
        """Draw the number of new objects from the discovery prior and place them, as discovery
        does, in the first free slots: ``(n, N)`` 0/1 presences -> ``(n, N)`` 0/1 new objects."""
        free = 1 - pres
        k = torch.distributions.Categorical(logits=self.discovery_count_log_prior(free.sum(1), first_frame)).sample()
        return free * (torch.cumsum(free, 1) <= k[:, None].to(free.dtype)).to(free.dtype)

    def _remember(self, what: torch.Tensor, where: torch.Tensor, e: torch.Tensor,
                  h: torch.Tensor | None = None) -> torch.Tensor:
        """An object's next temporal GRU state from its ``what`` ``(k, what_dim)``, ``where``
        ``(k, 4)`` and glimpse encoding ``e`` ``(k, hidden)``, from ``h`` ``(k, hidden)`` (None: a
        new object, from zero). Inference and :meth:`generate` both update the memory here."""
        if h is None:
            h = e.new_zeros(len(e), self.config.hidden)
        return self.temporal(torch.cat([what, where, e], -1), h)

    def _discovery_encoding(self, residual: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """Discovery's glimpse encoding ``(n, hidden)`` of ``residual`` ``(n, H, W)`` (the frame minus
        the objects before this one) in the window ``where`` ``(n, 4)``."""
        return self.disc_glimpse_enc(self.read(residual, where[:, None])[:, 0])

    def _prior_input(self, what0: torch.Tensor, where0: torch.Tensor, h: torch.Tensor,
                     prior_h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the propagation prior's heads read for objects with previous latents ``what0``
        ``(k, what_dim)`` and ``where0`` ``(k, 4)``: ``(state, new prior_h)``.

        ``prop_prior="state"``: the objects' temporal GRU states ``h`` ``(k, hidden)``, which have
        read the frames (no prior state). ``"rnn"`` (the original's): the prior GRU's new state
        after reading ``(what0, where0)`` from ``prior_h`` ``(k, hidden)``, so that the prior is a
        function of the object's past latents only, as a generative model's transition is.
        """
        if self.config.prop_prior == "state":
            return h, None
        g = self.prior_rnn(torch.cat([what0, where0], -1), prior_h)
        return g, g

    def _keep_prior(self, h: torch.Tensor) -> torch.Tensor | float:
        """Prior probability that propagation keeps each object: ``(k,)`` learned from the
        prior's state ``h`` ``(k, hidden)`` (:meth:`_prior_input`), or the fixed ``prop_pres_prior``."""
        fixed = float(self.config.prop_pres_prior)
        return fixed if fixed > 0 else torch.sigmoid(self.prior_pres(h))[:, 0]

    # -- rendering ---------------------------------------------------------------------------

    def compose(self, total: torch.Tensor) -> torch.Tensor:
        """The rendered frame from the sum of the objects (clipped to 1 with ``clip_canvas``)."""
        return total.clamp(max=1.0) if self.config.clip_canvas else total

    def render(self, what: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """Decode and write objects.

        Args:
            what: ``(n, what_dim)``.
            where: ``(n, 4)`` ``z_where``.

        Returns:
            ``(n, H, W)`` each object alone on the canvas.
        """
        c = self.config
        glimpse = self.decoder(what)
        return stn_write(glimpse, where_from_latent(where), (c.height, c.width))[:, 0]

    def read(self, image: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """``(n, H, W)`` images and ``(n, m, 4)`` ``z_where`` -> ``(n, m, g*g)`` flat glimpses."""
        g = self.config.glimpse
        return stn_read(image[:, None], where_from_latent(where), g).flatten(2)

    def read_propagated(self, image: torch.Tensor, where: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Propagation's glimpses: ``(n, H, W)`` images, ``(n, m, 4)`` ``z_where`` and the objects'
        ``(n, m, hidden)`` temporal states -> ``(n * m, g*g)`` flat glimpses, each multiplied by its
        object's mask with ``glimpse_mask`` (see :class:`SQAIRConfig`)."""
        glimpse = self.read(image, where).flatten(0, 1)
        if self.config.glimpse_mask:
            glimpse = glimpse * torch.sigmoid(self.prop_glimpse_mask(h.flatten(0, 1)))
        return glimpse

    def initial_state(self, n: int, device=None) -> ObjectState:
        """Empty object slots for ``n`` rows."""
        c = self.config
        z = lambda *s: torch.zeros(n, c.max_objects, *s, device=device)  # noqa: E731
        return ObjectState(z(c.what_dim), z(4), z(), z(c.hidden), z(c.hidden) if c.prop_prior == "rnn" else None)

    # -- inference steps ---------------------------------------------------------------------

    def propagate(self, x: torch.Tensor, state: ObjectState) -> tuple[ObjectState, StepScores]:
        """Update (or forget) the previous frame's objects.

        Args:
            x: ``(n, H, W)`` the current frame, intensities 0-1.
            state: the previous frame's objects.

        Returns:
            the propagated objects and the log densities of their new latents (only objects
            present before count; ``where``/``what`` only for objects still present).
        """
        if self.config.sequential_propagation:
            return self._propagate_sequential(x, state)
        n, m = state.pres.shape
        flat = lambda t: t.reshape(n * m, *t.shape[2:])  # noqa: E731
        what0, where0, h = flat(state.what), flat(state.where), flat(state.h)
        e0 = self.prop_glimpse_enc(self.read_propagated(x, state.where, state.h))
        loc, scale = self.prop_where(torch.cat([e0, h, what0, where0], -1))
        if self.config.anchor:  # start from the nearest peak of the frame
            jump = nearest_peak(window_mass(x, self.prior_window_px()), state.where) - state.where[..., 2:]
            loc = loc + F.pad(jump.reshape(n * m, 2), (2, 0))
        d_where, lq_where = _normal_sample(loc, scale, self._means)
        where = where0 + d_where
        e = self.prop_glimpse_enc(self.read_propagated(x, where.view(n, m, 4), state.h))
        loc, scale = self.prop_what(torch.cat([e, h, what0], -1))
        d_what, lq_what = _normal_sample(loc, scale, self._means)
        what = what0 + d_what
        prior_h = None if state.prior_h is None else flat(state.prior_h)
        o = self._keep_and_score(what0, where0, h, flat(state.pres), d_what, d_where, e, lq_where + lq_what, prior_h)
        h_new = self._remember(what, where, e, h)
        new = ObjectState(what.view(n, m, -1), where.view(n, m, 4), o.pres.view(n, m), h_new.view(n, m, -1),
                          None if o.prior_h is None else o.prior_h.view(n, m, -1))
        log_q_pres = o.log_q_pres.view(n, m).sum(1)
        log_q = log_q_pres + o.log_q_latents.view(n, m).sum(1)
        return new, StepScores(o.log_p.view(n, m).sum(1), log_q, log_q_pres)

    def _keep_and_score(self, what0, where0, h, before, d_what, d_where, e, lq_latents, prior_h=None) -> _Propagated:
        """The part of a propagation step shared by the parallel and the sequential forms:
        sample whether each object is kept and score the new latents under the learned
        propagation prior.

        Args:
            what0: ``(k, what_dim)`` the objects' previous ``what``.
            where0: ``(k, 4)`` their previous ``where``.
            h: ``(k, hidden)`` their previous GRU state.
            before: ``(k,)`` their previous presence.
            d_what: ``(k, what_dim)`` their sampled ``what`` steps (new latent minus previous).
            d_where: ``(k, 4)`` their sampled ``where`` steps.
            e: ``(k, hidden)`` the encoding of their new glimpses.
            lq_latents: ``(k,)`` posterior log density of the sampled ``what`` and ``where``.
            prior_h: ``(k, hidden)`` the prior GRU's states (``prop_prior="rnn"``), else None.
        """
        p_state, prior_h = self._prior_input(what0, where0, h, prior_h)
        p_loc, p_scale = self.prior_where(torch.cat([p_state, where0], -1))
        lp_where = Normal(p_loc, p_scale).log_prob(d_where).sum(-1)
        p_loc, p_scale = self.prior_what(torch.cat([p_state, what0], -1))
        lp_what = Normal(p_loc, p_scale).log_prob(d_what).sum(-1)
        keep, lq_keep = _bernoulli(torch.sigmoid(self.prop_pres(torch.cat([e, h], -1)))[:, 0], self._means)
        lp_keep = _bernoulli_log_prob(keep, self._keep_prior(p_state))
        pres = before * keep
        log_q_pres = before * lq_keep
        return _Propagated(pres, log_p=before * lp_keep + pres * (lp_where + lp_what),
                           log_q_pres=log_q_pres, log_q_latents=pres * lq_latents, prior_h=prior_h)

    def _propagate_sequential(self, x: torch.Tensor, state: ObjectState) -> tuple[ObjectState, StepScores]:
        """:meth:`propagate` with objects taken in slot order, each explaining away its part
        of the frame before the next one reads it (see ``SQAIRConfig.sequential_propagation``)."""
        c = self.config
        n, m = state.pres.shape
        canvas = torch.zeros_like(x)
        no_state = x.new_zeros(n, c.hidden)
        log_p, log_q, log_q_pres = x.new_zeros(n), x.new_zeros(n), x.new_zeros(n)
        whats, wheres, press, hs, prior_hs = [], [], [], [], []
        relation = x.new_zeros(n, c.hidden)
        for i in range(m):
            what0, where0, h, before = state.what[:, i], state.where[:, i], state.h[:, i], state.pres[:, i]
            residual = x - self.compose(canvas)
            e0 = self.prop_glimpse_enc(self.read_propagated(residual, where0[:, None], h[:, None]))
            loc, scale = self.prop_where(torch.cat([e0, h, what0, where0], -1))
            shift = self.prop_relation_head(torch.cat([relation, h], -1)) if c.relational else None
            if shift is not None:  # where the objects before this one went
                loc = loc + shift[:, :4]
            if c.anchor:  # start from the centroid of the residual inside the last window
                loc = loc + F.pad(window_centroid(residual, where0[:, None])[:, 0] - where0[:, 2:], (2, 0))
            d_where, lq_where = _normal_sample(loc, scale, self._means)
            where = where0 + d_where
            glimpse = self.read_propagated(residual, where[:, None], h[:, None])
            e = self.prop_glimpse_enc(glimpse)
            base, _ = self.disc_what(torch.cat([self.disc_glimpse_enc(glimpse), no_state], -1))
            loc, scale = self.prop_what(torch.cat([e, h, what0], -1))
            if shift is not None:
                loc = loc + shift[:, 4:]
            what, lq_what = _normal_sample(base + loc, scale, self._means)
            o = self._keep_and_score(what0, where0, h, before, what - what0, d_where, e, lq_where + lq_what,
                                     None if state.prior_h is None else state.prior_h[:, i])
            if c.relational:
                relation = self.prop_relation(torch.cat([what * o.pres[:, None], where * o.pres[:, None],
                                                         o.pres[:, None]], -1), relation)
            canvas = canvas + self.render(what, where) * o.pres[:, None, None]
            log_p = log_p + o.log_p
            log_q = log_q + o.log_q_pres + o.log_q_latents
            log_q_pres = log_q_pres + o.log_q_pres
            whats.append(what)
            wheres.append(where)
            press.append(o.pres)
            hs.append(self._remember(what, where, e, h))
            prior_hs.append(o.prior_h)
        new = ObjectState(torch.stack(whats, 1), torch.stack(wheres, 1), torch.stack(press, 1), torch.stack(hs, 1),
                          None if state.prior_h is None else torch.stack(prior_hs, 1))
        return new, StepScores(log_p, log_q, log_q_pres)

    def discover(self, x: torch.Tensor, state: ObjectState, enabled: bool = True,
                 first_frame: bool = False) -> tuple[ObjectState, StepScores, torch.Tensor, torch.Tensor]:
        """Add new objects to the free slots, AIR-style, explaining away what the present
        objects already explain.

        Args:
            x: ``(n, H, W)`` the current frame.
            state: the propagated objects.
            enabled: False: add nothing (every slot counts as taken; no latent is scored).
            first_frame: ``x`` is a sequence's first frame (for the ``categorical`` prior on the
                number of new objects, :meth:`discovery_count_log_prior`).

        Returns:
            ``(state, scores, objects, discovered)``: the objects after discovery, the log
            densities of the new latents, ``(n, N, H, W)`` every object rendered alone, and
            ``(n, N)`` 0/1 marks of the new objects.
        """
        c = self.config
        n, m = state.pres.shape
        objects = self.render(state.what.flatten(0, 1), state.where.flatten(0, 1)).view(n, m, c.height, c.width)
        objects = objects * state.pres[..., None, None]
        canvas = objects.sum(1)
        hd = x.new_zeros(n, c.hidden)
        prev = x.new_zeros(n, c.what_dim + 4)
        going = x.new_ones(n)
        prior_where = self.discovery_where_prior(state)
        if c.anchor:
            anchor_window = self.prior_window_px()
        what, where, pres, h = (list(state.what.unbind(1)), list(state.where.unbind(1)), list(state.pres.unbind(1)),
                                list(state.h.unbind(1)))
        obj_list = list(objects.unbind(1))
        found = []
        log_p = x.new_zeros(n)
        log_q = x.new_zeros(n)
        log_q_pres = x.new_zeros(n)
        x_small = F.avg_pool2d(x[:, None], 2).flatten(1)
        for i in range(m):
            free = (1 - pres[i]) * float(enabled)
            residual = x - self.compose(canvas)
            r_small = F.avg_pool2d(residual[:, None], 2).flatten(1)
            f = self.disc_image_enc(torch.cat([x_small, r_small], -1))
            hd = self.disc_rnn(torch.cat([f, prev], -1), hd)
            loc, scale = self.disc_where(hd)
            if c.anchor:
                loc = loc + F.pad(residual_peak(residual, anchor_window), (2, 0))
            z_where, lq_where = _normal_sample(loc, scale, self._means)
            e = self._discovery_encoding(residual, z_where)
            loc, scale = self.disc_what(torch.cat([e, hd], -1))
            z_what, lq_what = _normal_sample(loc, scale, self._means)
            b, lq_b = _bernoulli(torch.sigmoid(self.disc_pres(torch.cat([e, hd], -1)))[:, 0], self._means)
            eligible = free * going
            new = eligible * b
            going = going * (1 - free + free * b)
            lp_where = prior_where.log_prob(z_where).sum(-1)
            lp_what = Normal(0.0, 1.0).log_prob(z_what).sum(-1)
            lq_p = eligible * lq_b
            log_q_pres = log_q_pres + lq_p
            log_q = log_q + lq_p + new * (lq_where + lq_what)
            if c.disc_prior == "bernoulli":  # per decision; the categorical scores the count below
                log_p = log_p + eligible * _bernoulli_log_prob(b, c.disc_pres_prior)
            log_p = log_p + new * (lp_where + lp_what)
            obj = self.render(z_what, z_where) * new[:, None, None]
            canvas = canvas + obj
            prev = torch.cat([z_what, z_where], -1) * new[:, None]
            h_init = self._remember(z_what, z_where, e)
            sel = new[:, None]
            what[i] = sel * z_what + (1 - sel) * what[i]
            where[i] = sel * z_where + (1 - sel) * where[i]
            h[i] = sel * h_init + (1 - sel) * h[i]
            pres[i] = pres[i] + new
            obj_list[i] = obj_list[i] + obj
            found.append(new)
        found_t = torch.stack(found, 1)
        if c.disc_prior != "bernoulli" and enabled:
            count_prior = self.discovery_count_log_prior(m - state.pres.sum(1), first_frame)
            log_p = log_p + count_prior.gather(1, found_t.sum(1).long()[:, None])[:, 0]
        prior_h = None if state.prior_h is None else state.prior_h * (1 - found_t)[..., None]  # new objects: from zero
        out = ObjectState(torch.stack(what, 1), torch.stack(where, 1), torch.stack(pres, 1), torch.stack(h, 1), prior_h)
        return out, StepScores(log_p, log_q, log_q_pres), torch.stack(obj_list, 1), found_t

    def step(self, x: torch.Tensor, state: ObjectState, discover: bool = True, first_frame: bool = False) -> FrameResult:
        """Propagation then (unless ``discover`` is False) discovery on one frame ``x`` ``(n, H, W)``
        (``first_frame``: a sequence's first, see :meth:`discover`)."""
        prop, s1 = self.propagate(x, state)
        new, s2, objects, found = self.discover(x, prop, discover, first_frame)
        canvas = self.compose(objects.sum(1))
        log_lik = Normal(canvas, self.config.sigma).log_prob(x).flatten(1).sum(1)
        scores = StepScores(s1.log_p + s2.log_p, s1.log_q + s2.log_q, s1.log_q_pres + s2.log_q_pres)
        return FrameResult(new, canvas, objects, scores, log_lik, found)

    def forward(self, frames: torch.Tensor, particles: int = 1, keep_objects: bool = False,
                first_frame_discovery_only: bool = False) -> SQAIROutput:
        """Infer the objects of every frame with ``particles`` samples per sequence.

        Args:
            frames: ``(B, T, H, W)`` intensities in ``[0, 1]``.
            particles: ``K``, posterior samples per sequence.
            keep_objects: also return the rendered objects and canvases.
            first_frame_discovery_only: discover new objects in the first frame only (a
                training warm-up: see :class:`attentrack.tracker.sqair.train.TrainOptions.discovery_warmup`).
        """
        c = self.config
        if frames.dim() != 4 or frames.shape[2:] != (c.height, c.width):
            raise InputError(
                f"SQAIR expects (B, T, {c.height}, {c.width}) frames, got {tuple(frames.shape)}"
            )
        b, t_n = frames.shape[:2]
        x = frames.repeat_interleave(particles, 0)
        n = b * particles
        state = self.initial_state(n, frames.device)
        log_w = frames.new_zeros(n)
        log_q_pres = frames.new_zeros(n)
        lls, pres, where, found, objs, canvases = [], [], [], [], [], []
        for t in range(t_n):
            r = self.step(x[:, t], state, discover=t == 0 or not first_frame_discovery_only, first_frame=t == 0)
            state = r.state
            log_w = log_w + r.log_lik + r.scores.log_p - r.scores.log_q
            log_q_pres = log_q_pres + r.scores.log_q_pres
            lls.append(r.log_lik)
            pres.append(state.pres)
            where.append(where_from_latent(state.where))
            found.append(r.discovered)
            if keep_objects:
                objs.append(r.objects)
                canvases.append(r.canvas)
        shape = lambda a: a.view(b, particles, *a.shape[1:])  # noqa: E731
        stack = lambda seq: shape(torch.stack(seq, 1))  # noqa: E731
        return SQAIROutput(
            log_weights=shape(log_w), log_q_pres=shape(log_q_pres), log_lik=stack(lls), pres=stack(pres),
            where=stack(where), discovered=stack(found),
            objects=stack(objs) if keep_objects else None, canvas=stack(canvases) if keep_objects else None,
        )

    # -- generation --------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, n: int, n_frames: int, return_states: bool = False):
        """Sample ``n`` videos from the generative model.

        Each frame, propagation moves the objects with the learned prior and keeps each with
        the keep prior; the number of new objects is drawn from the discovery prior
        (:meth:`discovery_count_log_prior`) and they take the first free slots with ``what`` and
        ``where`` from the fixed priors. Once the frame is rendered, every object's temporal GRU
        state reads it exactly as inference would read the same frame: a propagated object
        through the propagation glimpse encoder at its window (of the frame, or with
        ``sequential_propagation`` of the frame minus the kept objects in the slots before it),
        a new object through the discovery glimpse encoder at its window of the residual
        discovery sees (the frame minus the propagated objects and the new ones in the slots
        before it).

        Args:
            n: videos.
            n_frames: frames per video.
            return_states: also return the objects after each frame and the new-object marks.

        Returns:
            ``(n, n_frames, H, W)`` rendered means (no pixel noise); with ``return_states``
            ``(frames, states, discovered)``: a list of one :class:`ObjectState` per frame and
            ``(n, n_frames, N)`` 0/1 marks of the objects new in each frame.
        """
        c = self.config
        m = c.max_objects
        state = self.initial_state(n)
        prior_where = self.discovery_where_prior()
        frames, states, found = [], [], []
        for t in range(n_frames):
            what0, where0, pres0, h0 = state.what, state.where, state.pres, state.h
            prior_h0 = None if state.prior_h is None else state.prior_h.flatten(0, 1)
            p_state, prior_h = self._prior_input(what0.flatten(0, 1), where0.flatten(0, 1), h0.flatten(0, 1), prior_h0)
            keep_prob = self._keep_prior(p_state)
            keep = torch.bernoulli(torch.as_tensor(keep_prob).expand(len(p_state))).view(n, m)
            lw, sw = self.prior_where(torch.cat([p_state, where0.flatten(0, 1)], -1))
            lo, so = self.prior_what(torch.cat([p_state, what0.flatten(0, 1)], -1))
            where = where0 + Normal(lw, sw).sample().view_as(where0)
            what = what0 + Normal(lo, so).sample().view_as(what0)
            pres = pres0 * keep
            new = self._sample_new_slots(pres, t == 0)
            sel = new[..., None]
            if self.config.where_prior == "fixed":
                new_where = prior_where.sample((n, m))
            else:  # conditioned on the objects propagated into this frame
                new_where = self.discovery_where_prior(ObjectState(what, where, pres, h0)).sample((m,)).transpose(0, 1)
            where = sel * new_where + (1 - sel) * where
            what = sel * torch.randn(n, m, c.what_dim) + (1 - sel) * what
            objects = self.render(what.flatten(0, 1), where.flatten(0, 1)).view(n, m, c.height, c.width)
            kept, added = objects * pres[..., None, None], objects * new[..., None, None]
            frame = self.compose((kept + added).sum(1))
            frames.append(frame)
            h = self._propagated_memory(frame, what, where, h0, kept)
            for i in range(m):  # new objects: discovery's encoder on discovery's residual
                residual = frame - self.compose(kept.sum(1) + added[:, :i].sum(1))
                h_new = self._remember(what[:, i], where[:, i], self._discovery_encoding(residual, where[:, i]))
                h[:, i] = sel[:, i] * h_new + (1 - sel[:, i]) * h[:, i]
            if prior_h is not None:  # new objects' prior state starts from zero
                prior_h = prior_h.view(n, m, -1) * (1 - new)[..., None]
            state = ObjectState(what, where, pres + new, h, prior_h)
            states.append(state)
            found.append(new)
        frames_t = torch.stack(frames, 1)
        return (frames_t, states, torch.stack(found, 1)) if return_states else frames_t

    def _propagated_memory(self, frame: torch.Tensor, what: torch.Tensor, where: torch.Tensor, h: torch.Tensor,
                           kept: torch.Tensor) -> torch.Tensor:
        """The temporal GRU states of propagated objects after ``frame``, read as propagation
        reads them (for :meth:`generate`).

        Args:
            frame: ``(n, H, W)`` the frame.
            what: ``(n, N, what_dim)`` the objects' new ``what``.
            where: ``(n, N, 4)`` their new ``z_where``.
            h: ``(n, N, hidden)`` their previous GRU states.
            kept: ``(n, N, H, W)`` the kept objects rendered alone (zero where dropped).

        Returns:
            ``(n, N, hidden)`` new GRU states.
        """
        n, m = what.shape[:2]
        if self.config.sequential_propagation:  # each reads the frame minus the kept objects before it
            before = torch.cumsum(kept, 1) - kept
            images = (frame[:, None] - self.compose(before)).flatten(0, 1)
            glimpses = self.read_propagated(images, where.flatten(0, 1)[:, None], h.flatten(0, 1)[:, None])
        else:
            glimpses = self.read_propagated(frame, where, h)
        e = self.prop_glimpse_enc(glimpses)
        return self._remember(what.flatten(0, 1), where.flatten(0, 1), e, h.flatten(0, 1)).view(n, m, -1)


def save_weights(model: SQAIR, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write the model in the one weights format (:mod:`attentrack.tracker.weights_file`), atomically.

    Args:
        model: the model to save.
        path: the weights file to write.
        metadata: e.g. ``{"training": {...}}`` and a fitted camera's background
            (:func:`attentrack.tracker.sqair.cctv.background_extra`).
    """
    write_weights(path, "sqair", model.config.to_dict(), model.state_dict(), metadata)


def read_checkpoint(path: str | os.PathLike) -> WeightsFile:
    """The contents of a file saved by :func:`save_weights` (``config``, ``state_dict`` and
    ``metadata``, e.g. a camera background), read once.

    Raises:
        InputError: a missing, unreadable or broken file, or one of another model.
    """
    return read_weights(path, expect="sqair")


def model_from_checkpoint(ck: WeightsFile, path: str | os.PathLike, height: int | None = None,
                          width: int | None = None) -> SQAIR:
    """The model (in eval mode) of a file read by :func:`read_checkpoint` from ``path``
    (named in errors).

    Args:
        ck: the file's contents.
        path: where it was read from.
        height: the canvas height the caller needs in pixels (checked when given).
        width: the canvas width the caller needs in pixels (checked when given).

    Raises:
        InputError: a config this version cannot build, tensors that do not fit it, or a
            checkpoint for another canvas size.
    """
    config = ck.parse_config(SQAIRConfig.from_dict)
    if (height is not None and height != config.height) or (width is not None and width != config.width):
        raise InputError(
            f"{path} was trained for a {config.width}x{config.height} canvas, "
            f"not {width or config.width}x{height or config.height}"
        )
    model = SQAIR(config)
    ck.load_into(model)
    return model.eval()


def load_weights(path: str | os.PathLike, height: int | None = None, width: int | None = None) -> SQAIR:
    """Load a model saved by :func:`save_weights`.

    Args:
        path: the weights file.
        height: the canvas height the caller needs in pixels (checked when given).
        width: the canvas width the caller needs in pixels (checked when given).

    Raises:
        InputError: a missing or foreign file, or a checkpoint for another canvas size.
    """
    return model_from_checkpoint(read_checkpoint(path), path, height, width)
