"""DRAW: a recurrent variational auto-encoder that draws with Gaussian attention
(Gregor, Danihelka, Graves, Rezende, Wierstra, ICML 2015).

Per step ``t = 1 .. T`` (the inference path, used in training)::

    x^_t   = x - sigmoid(c_{t-1})
    r_t    = read(x, x^_t, h_dec_{t-1})                    (Gaussian attention, N_r x N_r)
    h_enc_t = LSTM_enc(h_enc_{t-1}, [r_t, h_dec_{t-1}])
    z_t    ~ q(z_t | h_enc_t) = N(mu_t, sigma_t)
    h_dec_t = LSTM_dec(h_dec_{t-1}, [z_t, s_t])          (s_t: conditioning, empty for DRAW)
    c_t    = c_{t-1} + write(h_dec_t)                      (Gaussian attention, N_w x N_w)

and the generative path samples ``z_t`` from the prior instead (``N(0, I)`` for DRAW; a
prior computed from ``h_dec_{t-1}`` for alignDRAW, :mod:`attentrack.generative.aligndraw`). The image
likelihood is Bernoulli with logits ``c_T``. :class:`DRAWCore` holds the per-step functions
both models share; the loss (:func:`variational_loss`) is built outside the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from attentrack.generative.attention import AttentionWindow, WindowHead, read, write
from attentrack.generative.registry import ConfigDict, GenerativeModel


class DRAWState(NamedTuple):
    """The recurrent state between steps.

    Attributes:
        canvas: ``(B, H, W)`` canvas ``c`` (logits).
        h_enc, c_enc: ``(B, enc_units)`` encoder LSTM state (zeros on the generative path).
        h_dec, c_dec: ``(B, dec_units)`` decoder LSTM state.
    """

    canvas: torch.Tensor
    h_enc: torch.Tensor
    c_enc: torch.Tensor
    h_dec: torch.Tensor
    c_dec: torch.Tensor


class Posterior(NamedTuple):
    """``q(z_t | ...)`` of one step: ``mu``, ``logsigma`` ``(B, Z)`` and the sample ``z``."""

    mu: torch.Tensor
    logsigma: torch.Tensor
    z: torch.Tensor


class DRAWOutput(NamedTuple):
    """The inference path over all steps.

    Attributes:
        logits: ``(B, H, W)`` final canvas ``c_T`` (Bernoulli logits).
        mu, logsigma: ``(T, B, Z)`` posterior parameters.
        prior_mu, prior_logsigma: ``(T, B, Z)`` prior parameters (zeros for N(0, I)).
    """

    logits: torch.Tensor
    mu: torch.Tensor
    logsigma: torch.Tensor
    prior_mu: torch.Tensor
    prior_logsigma: torch.Tensor


class Drawing(NamedTuple):
    """Samples drawn step by step.

    Attributes:
        canvases: ``(T, B, H, W)`` ``sigmoid(c_t)`` in ``[0, 1]`` after each step.
        write_boxes: ``(T, B, 4)`` write windows as ``x, y, w, h`` pixels.
        read_boxes: ``(T, B, 4)`` read windows (``nan`` on the generative path, which does not read).
        alignments: ``(T, B, L)`` caption-word weights (alignDRAW) or ``None``.
    """

    canvases: torch.Tensor
    write_boxes: torch.Tensor
    read_boxes: torch.Tensor
    alignments: torch.Tensor | None = None


@dataclass
class DRAWConfig(ConfigDict):
    """DRAW hyper-parameters (defaults: the configuration trained here; the paper's MNIST
    model has ``steps=64``, ``read_n=2``, ``write_n=5``, 256 units and ``latent=100``).

    Attributes:
        height, width: image size in pixels.
        steps: glimpses ``T``.
        read_n, write_n: attention patch sides ``N``.
        enc_units, dec_units: LSTM sizes.
        latent: size of ``z_t``.
    """

    height: int = 28
    width: int = 28
    steps: int = 12
    read_n: int = 2
    write_n: int = 5
    enc_units: int = 192
    dec_units: int = 192
    latent: int = 50


class DRAWCore(nn.Module):
    """The encoder, decoder and attention heads of DRAW, as per-step functions.

    Args:
        height, width: image size in pixels.
        read_n, write_n: attention patch sides.
        enc_units, dec_units: LSTM sizes.
        latent: size of ``z_t``.
        cond: size of the per-step conditioning vector fed to the decoder (0: none).
    """

    def __init__(self, height: int, width: int, read_n: int, write_n: int, enc_units: int,
                 dec_units: int, latent: int, cond: int = 0) -> None:
        super().__init__()
        self.height, self.width, self.latent, self.write_n = height, width, latent, write_n
        self.read_head = WindowHead(dec_units, height, width, read_n, init_span=0.5 if read_n <= 3 else 1.0)
        self.encoder = nn.LSTMCell(2 * read_n * read_n + dec_units, enc_units)
        self.posterior = nn.Linear(enc_units, 2 * latent)
        self.decoder = nn.LSTMCell(latent + cond, dec_units)
        self.write_head = WindowHead(dec_units, height, width, write_n)
        self.write_patch = nn.Linear(dec_units, write_n * write_n)
        self.canvas0 = nn.Parameter(torch.zeros(height, width))

    @torch.no_grad()
    def init_canvas(self, mean_image: torch.Tensor) -> None:
        """Start the canvas ``c_0`` (a learned per-pixel bias) at the logits of the data's mean image
        ``(H, W)`` in ``[0, 1]``. A write spreads each patch value over many pixels, so writes
        alone need thousands of steps to push the background logits down; this starts there."""
        self.canvas0.copy_(torch.logit(mean_image.clamp(0.01, 0.99)))

    def initial_state(self, batch: int, device=None) -> DRAWState:
        """The state before the first step: canvas ``c_0``, zero LSTM states."""
        z = lambda n: torch.zeros(batch, n, device=device)  # noqa: E731
        return DRAWState(self.canvas0.to(device).expand(batch, -1, -1),
                         z(self.encoder.hidden_size), z(self.encoder.hidden_size),
                         z(self.decoder.hidden_size), z(self.decoder.hidden_size))

    def encode_step(self, x: torch.Tensor, state: DRAWState, noise: torch.Tensor | None = None
                    ) -> tuple[Posterior, DRAWState, AttentionWindow]:
        """Read ``x`` and infer ``q(z_t)``.

        Args:
            x: ``(B, H, W)`` target image in ``[0, 1]``.
            state: the state after step ``t - 1``.
            noise: ``(B, Z)`` standard normal noise (``None``: drawn here).

        Returns:
            the posterior with its sample, the state with the new encoder LSTM state, and
            the read window.
        """
        x_hat = x - torch.sigmoid(state.canvas)
        window = self.read_head(state.h_dec)
        r = read(x, x_hat, window)
        h_enc, c_enc = self.encoder(torch.cat([r, state.h_dec], dim=1), (state.h_enc, state.c_enc))
        mu, logsigma = self.posterior(h_enc).chunk(2, dim=1)
        if noise is None:
            noise = torch.randn_like(mu)
        z = mu + torch.exp(logsigma) * noise
        return Posterior(mu, logsigma, z), state._replace(h_enc=h_enc, c_enc=c_enc), window

    def decode_step(self, z: torch.Tensor, state: DRAWState, cond: torch.Tensor | None = None
                    ) -> tuple[DRAWState, AttentionWindow]:
        """Decode ``z_t`` and add the write to the canvas.

        Args:
            z: ``(B, Z)``.
            state: the state (with this step's encoder state on the inference path).
            cond: ``(B, cond)`` conditioning vector, or ``None`` when ``cond == 0``.

        Returns:
            the state after step ``t`` and the write window.
        """
        inp = z if cond is None else torch.cat([z, cond], dim=1)
        h_dec, c_dec = self.decoder(inp, (state.h_dec, state.c_dec))
        window = self.write_head(h_dec)
        patch = self.write_patch(h_dec).reshape(-1, self.write_n, self.write_n)
        canvas = state.canvas + write(patch, window)
        return state._replace(canvas=canvas, h_dec=h_dec, c_dec=c_dec), window


class DRAW(GenerativeModel, model_id="draw"):
    """DRAW with Gaussian read and write attention and an ``N(0, I)`` prior (see the module docstring)."""

    config_class = DRAWConfig

    def __init__(self, config: DRAWConfig | None = None) -> None:
        super().__init__()
        self.config = config or DRAWConfig()
        c = self.config
        self.core = DRAWCore(c.height, c.width, c.read_n, c.write_n, c.enc_units, c.dec_units, c.latent)

    def forward(self, x: torch.Tensor) -> DRAWOutput:
        """The inference path.

        Args:
            x: ``(B, H, W)`` images in ``[0, 1]`` (binarised for the Bernoulli bound).

        Returns:
            :class:`DRAWOutput` (prior: zeros, i.e. ``N(0, I)``).
        """
        state = self.core.initial_state(x.shape[0], x.device)
        mus, logsigmas = [], []
        for _ in range(self.config.steps):
            post, state, _ = self.core.encode_step(x, state)
            state, _ = self.core.decode_step(post.z, state)
            mus.append(post.mu)
            logsigmas.append(post.logsigma)
        mu, logsigma = torch.stack(mus), torch.stack(logsigmas)
        zeros = torch.zeros_like(mu)
        return DRAWOutput(state.canvas, mu, logsigma, zeros, zeros)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Drawing:
        """Draw ``n`` images from the prior, recording every step."""
        device = next(self.parameters()).device
        state = self.core.initial_state(n, device)
        canvases, boxes = [], []
        for _ in range(self.config.steps):
            z = torch.randn(n, self.config.latent, generator=generator).to(device)
            state, window = self.core.decode_step(z, state)
            canvases.append(torch.sigmoid(state.canvas))
            boxes.append(window.boxes())
        wb = torch.stack(boxes)
        return Drawing(torch.stack(canvases), wb, torch.full_like(wb, float("nan")))


class LossTerms(NamedTuple):
    """Per-image terms of the negative variational bound, in nats.

    Attributes:
        reconstruction: ``(B,)`` ``-log p(x | z_1..T)`` (Bernoulli).
        kl: ``(B,)`` sum over steps of ``KL(q(z_t) || p(z_t))``.
        total: ``(B,)`` their sum (the negative bound; its mean is the training loss).
    """

    reconstruction: torch.Tensor
    kl: torch.Tensor
    total: torch.Tensor


def gaussian_kl(mu: torch.Tensor, logsigma: torch.Tensor, prior_mu: torch.Tensor,
                prior_logsigma: torch.Tensor) -> torch.Tensor:
    """Elementwise ``KL(N(mu, sigma^2) || N(prior_mu, prior_sigma^2))`` in nats."""
    var_ratio = torch.exp(2 * (logsigma - prior_logsigma))
    return prior_logsigma - logsigma + 0.5 * (var_ratio + ((mu - prior_mu) / torch.exp(prior_logsigma)) ** 2 - 1)


def variational_loss(out: DRAWOutput, x: torch.Tensor) -> LossTerms:
    """The negative variational bound of DRAW/alignDRAW (Gregor et al. eq. 9-12).

    Args:
        out: the model's inference path.
        x: ``(B, H, W)`` targets in ``[0, 1]`` (binary for a Bernoulli likelihood).

    Returns:
        :class:`LossTerms` per image, in nats.
    """
    rec = F.binary_cross_entropy_with_logits(out.logits, x, reduction="none").flatten(1).sum(1)
    kl = gaussian_kl(out.mu, out.logsigma, out.prior_mu, out.prior_logsigma).sum(dim=(0, 2))
    return LossTerms(rec, kl, rec + kl)
