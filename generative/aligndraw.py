"""alignDRAW: DRAW conditioned on a caption through soft alignment (Mansimov, Parisotto, Ba,
Salakhutdinov, "Generating Images from Captions with Attention", ICLR 2016).

The caption ``y_1..y_L`` is encoded by a bidirectional LSTM into ``h^lang_k`` (forward and
backward states concatenated). Before step ``t`` the decoder state ``h_dec_{t-1}`` aligns
with the words::

    e_k   = v^T tanh(U h^lang_k + W h_dec_{t-1} + b)
    alpha = softmax_k(e)                      (padding words masked out)
    s_{t-1} = sum_k alpha_k h^lang_k          (the sentence vector of this step)

and gives a learned prior ``p(z_t | z_<t) = N(tanh(W_mu h_dec_{t-1}), exp(tanh(W_sigma h_dec_{t-1})))``.
The decoder reads ``[z_t, s_{t-1}]``; the rest is DRAW (:class:`attentrack.generative.draw.DRAWCore`).
The loss is DRAW's (:func:`attentrack.generative.draw.variational_loss`) with the KL to this prior.
Generating from a caption samples ``z_t`` from the prior.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attentrack.datasets.mnist_captions import VOCAB
from attentrack.generative.draw import DRAWCore, Drawing, DRAWOutput
from attentrack.generative.registry import ConfigDict, GenerativeModel


@dataclass
class AlignDRAWConfig(ConfigDict):
    """alignDRAW hyper-parameters (defaults: the configuration trained here; the paper's
    MNIST-captions model has 32 steps, latent 150, encoder/decoder 300 units, 8 x 8
    attention patches and 128 language units each way).

    Attributes:
        height, width: canvas size in pixels.
        steps: glimpses ``T``.
        read_n, write_n: attention patch sides.
        enc_units, dec_units: LSTM sizes.
        latent: size of ``z_t``.
        embed: word-embedding size; lang_units: caption LSTM units per direction.
        align_units: size of the alignment MLP.
        vocab: the words (index 0 pads).
    """

    height: int = 60
    width: int = 60
    steps: int = 16
    read_n: int = 8
    write_n: int = 8
    enc_units: int = 256
    dec_units: int = 256
    latent: int = 50
    embed: int = 32
    lang_units: int = 64
    align_units: int = 64
    vocab: list[str] = field(default_factory=lambda: list(VOCAB))


class Caption(NamedTuple):
    """An encoded caption batch: ``words`` ``(B, L, 2 lang_units)``, ``keys`` ``(B, L, align)``
    (``U h^lang + b``, computed once) and ``mask`` ``(B, L)`` bool (true on real words)."""

    words: torch.Tensor
    keys: torch.Tensor
    mask: torch.Tensor


class AlignDRAW(GenerativeModel, model_id="aligndraw"):
    """alignDRAW (see the module docstring)."""

    config_class = AlignDRAWConfig

    def __init__(self, config: AlignDRAWConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or AlignDRAWConfig()
        self.embedding = nn.Embedding(len(c.vocab), c.embed, padding_idx=0)
        self.language = nn.LSTM(c.embed, c.lang_units, batch_first=True, bidirectional=True)
        self.align_u = nn.Linear(2 * c.lang_units, c.align_units)  # U h + b
        self.align_w = nn.Linear(c.dec_units, c.align_units, bias=False)
        self.align_v = nn.Linear(c.align_units, 1, bias=False)
        self.prior = nn.Linear(c.dec_units, 2 * c.latent)
        self.core = DRAWCore(c.height, c.width, c.read_n, c.write_n, c.enc_units, c.dec_units, c.latent,
                             cond=2 * c.lang_units)

    def encode_caption(self, tokens: torch.Tensor, lengths: torch.Tensor) -> Caption:
        """Run the bidirectional language LSTM.

        Args:
            tokens: ``(B, L)`` int64 word indices (0 pads at the end).
            lengths: ``(B,)`` int64 caption lengths (>= 1).
        """
        emb = self.embedding(tokens)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        words, _ = pad_packed_sequence(self.language(packed)[0], batch_first=True, total_length=tokens.shape[1])
        mask = torch.arange(tokens.shape[1], device=tokens.device)[None] < lengths.to(tokens.device)[:, None]
        return Caption(words, self.align_u(words), mask)

    def align(self, caption: Caption, h_dec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The sentence vector of a step.

        Args:
            caption: the encoded captions.
            h_dec: ``(B, dec_units)`` previous decoder state.

        Returns:
            ``s`` ``(B, 2 lang_units)`` and the weights ``alpha`` ``(B, L)``.
        """
        e = self.align_v(torch.tanh(caption.keys + self.align_w(h_dec)[:, None])).squeeze(2)
        alpha = torch.softmax(e.masked_fill(~caption.mask, float("-inf")), dim=1)
        return torch.bmm(alpha[:, None], caption.words).squeeze(1), alpha

    def prior_step(self, h_dec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logsigma)`` ``(B, Z)`` of ``p(z_t | z_<t)`` from ``h_dec_{t-1}``."""
        mu, logsigma = torch.tanh(self.prior(h_dec)).chunk(2, dim=1)
        return mu, logsigma

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor) -> DRAWOutput:
        """The inference path.

        Args:
            x: ``(B, H, W)`` images in ``[0, 1]``.
            tokens: ``(B, L)`` int64 word indices of the captions (see :meth:`encode_caption`).
            lengths: ``(B,)`` int64 caption lengths.
        """
        caption = self.encode_caption(tokens, lengths)
        state = self.core.initial_state(x.shape[0], x.device)
        mus, logsigmas, pmus, plogsigmas = [], [], [], []
        for _ in range(self.config.steps):
            s, _ = self.align(caption, state.h_dec)
            pmu, plogsigma = self.prior_step(state.h_dec)
            post, state, _ = self.core.encode_step(x, state)
            state, _ = self.core.decode_step(post.z, state, cond=s)
            mus.append(post.mu)
            logsigmas.append(post.logsigma)
            pmus.append(pmu)
            plogsigmas.append(plogsigma)
        return DRAWOutput(state.canvas, torch.stack(mus), torch.stack(logsigmas), torch.stack(pmus),
                          torch.stack(plogsigmas))

    @torch.no_grad()
    def sample(self, tokens: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None,
               use_mean: bool = False) -> Drawing:
        """Generate one image per caption from the learned prior, recording every step.

        Args:
            tokens: ``(B, L)`` int64 word indices of the captions (0 pads at the end).
            lengths: ``(B,)`` int64 caption lengths.
            generator: for the prior noise.
            use_mean: take ``z_t`` as the prior mean instead of sampling.
        """
        caption = self.encode_caption(tokens, lengths)
        n = tokens.shape[0]
        state = self.core.initial_state(n, tokens.device)
        canvases, boxes, alphas = [], [], []
        for _ in range(self.config.steps):
            s, alpha = self.align(caption, state.h_dec)
            mu, logsigma = self.prior_step(state.h_dec)
            if use_mean:
                z = mu
            else:
                z = mu + torch.exp(logsigma) * torch.randn(mu.shape, generator=generator).to(mu.device)
            state, window = self.core.decode_step(z, state, cond=s)
            canvases.append(torch.sigmoid(state.canvas))
            boxes.append(window.boxes())
            alphas.append(alpha)
        wb = torch.stack(boxes)
        return Drawing(torch.stack(canvases), wb, torch.full_like(wb, float("nan")), torch.stack(alphas))
