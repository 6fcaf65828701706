"""HART: Hierarchical Attentive Recurrent Tracking (Kosiorek, Bewley, Posner, NIPS 2017).

The model follows ``N`` objects at once, one frame per :meth:`HART.step`::

    state, out = model.init(pyramid0, boxes0)        # the first frame and its boxes
    for pyramid in frames:
        state, out = model.step(pyramid, state)      # out.box: (N, 4)

Per step and object (paper notation; boxes are ``cx, cy, w, h`` normalised by the frame):

1. **Spatial attention** ``a_t`` (4 numbers) selects a window; a glimpse ``g_t`` of
   ``G x G`` pixels is read from it with a registered glimpse reader (the Gaussian
   filterbank by default, :mod:`attentrack.tracker.attention`).
2. **Ventral stream**: the contrast-normalised glimpse goes through the backbone, then a
   1x1 convolution to 5 maps, dropout, batch norm and ELU: ``v_t``.
3. **Dorsal stream** (appearance attention): dynamic 1x1 and 3x3 filters generated from
   the previous LSTM output ``h_{t-1}`` turn the backbone features into a mask logit
   ``m_t``; ``v_t * sigmoid(m_t)``, flattened and concatenated with ``a_t``, goes through
   FC-100 and ELU.
4. **Core**: an LSTM with 100 units and zoneout: ``h_t``.
5. **Box** ``b_t``: the attention window corrected by ``tanh(MLP(h_t))`` (centre offsets
   in half-windows, log-size offsets around a learned window-to-box ratio).
6. **Next attention**: ``a_{t+1} = a_t + sigmoid(s) * tanh(MLP(h_t))`` with ``s`` learned
   (initialised at -2.5), centre moves in units of the window size and size changes in log
   units.

The first attention is the given box enlarged by ``context`` (2) with a small learned bias;
the first frame is read once to initialise the LSTM. A small head estimates the IoU of each
box from detached features (the tracker's score).

``arch="corr"`` (the shipped default) adds a **template branch**: the backbone features
of the first glimpse under the given box are the template; each step they are correlated
depth-wise with the current features (:class:`~attentrack.tracker.hart.modules.TemplateCorrelation`).
The response maps feed the dorsal mask, the FC layer and the box head, and the next
attention is centred on the predicted box (plus the learned update) instead of on the
previous attention. The box and attention heads also see the window's log size relative
to the first one (against scale drift) and the last displacement (for motion). ``arch="paper"`` is the configuration of the paper.

Differences from the paper, all deliberate: boxes and attention updates are relative to
the attention window (scale-invariant) instead of to the frame; the box head predicts a
log-size ratio; the backbone is a small net trained from scratch (torchvision's AlexNet is
available). Differences from the original code (akosiorek/hart) that are config values, today's
default first: ``dropout_mode`` (``maps``; the original drops ``elements``), ``dfn_hidden``
(0; the original's filter generators have a hidden ELU layer of 100 units), ``mask_code``
(0; the original appends a 10-d code of the appearance mask to the inputs of the box and
attention heads), and for training ``area_loss`` (``hinge``; the original's ``image``) and
the curriculum (``curriculum_step`` 5, ``curriculum_min_steps`` 0; the original's +1 after a
minimum time). Measured side by side in ``tracker/weights/HART_MODEL_CARD.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from attentrack.tracker.attention import ImagePyramid, create_glimpse_reader
from attentrack.tracker.backbones import create_backbone
from attentrack.tracker.errors import InputError
from attentrack.tracker.hart.modules import (
    DROPOUT_MODES,
    DorsalStream,
    TemplateCorrelation,
    VentralStream,
    ZoneoutLSTMCell,
    contrast_normalise,
    imagenet_normalise,
)
from attentrack.tracker.layers import MLP

ARCHS = ("corr", "paper")
#: how a glimpse is normalised before the backbone (see :attr:`HARTConfig.glimpse_norm`)
GLIMPSE_NORMS = ("contrast", "imagenet")
#: attention-window area terms of the loss (see :attr:`HARTConfig.area_loss`)
AREA_LOSSES = ("hinge", "image")


@dataclass
class HARTConfig:
    """Hyper-parameters of :class:`HART` (saved with the weights).

    Attributes:
        arch: ``"corr"`` (with the template correlation branch) or ``"paper"``.
        glimpse: registered glimpse reader (``gaussian`` or ``stn``).
        glimpse_size: glimpse side in pixels (56 in the paper's KITTI set-up).
        backbone: registered backbone (``small``, ``alexnet``, ``resnet18``).
        backbone_width: first-layer channels of the ``small`` backbone.
        feature_maps: maps of the ventral 1x1 convolution (5).
        dfn_channels: maps of the dynamic filters (5).
        rnn_units: LSTM units (100).
        zoneout: LSTM zoneout probability (0.05).
        dropout: ventral dropout probability.
        att_gain: initial value of the learned attention-update gain ``s`` (-2.5).
        context: initial ratio of attention window to box size.
        corr_channels: response maps of the template branch (``corr`` only).
        att_input: feed the attention parameters to the FC layer (as in the paper).
        dropout_mode: ``"maps"`` (``Dropout2d`` on the ventral maps) or ``"elements"``
            (single cells dropped, as the original code).
        dfn_hidden: units of a hidden ELU layer in each dynamic-filter generator (0: none;
            the original code has ``rnn_units``, 100).
        mask_code: size of the appearance code: an ELU layer of the flattened appearance
            mask (``sigmoid(m_t)``, ``F * F`` values) whose output is appended to the inputs
            of the box and attention heads (0: none; 10 in the original code).
        glimpse_norm: ``"contrast"`` (each glimpse z-scored over its BGR pixels) or
            ``"imagenet"`` (BGR -> RGB, ``(x / 255 - mean) / std`` with ImageNet's statistics,
            what torchvision's pretrained backbones expect).

    Training only (the model ignores them; :mod:`attentrack.tracker.hart.losses` and
    :mod:`attentrack.tracker.hart.train` read them):

    Attributes:
        area_loss: ``"hinge"``: windows larger than ``max_area_ratio`` times the object's area
            are penalised, smaller ones are free; ``"image"`` (the original code):
            ``-log(1 - |a| / |image|)`` for every window, weighted by ``clip(|a| / |image|, 1, 10)``.
        curriculum_step: frames added to the training sequences each time the running
            training IoU passes the threshold (the original code: 1).
        curriculum_min_steps: optimiser steps spent at a sequence length before it may grow
            again (0: none; the original code waits 13 epochs).
    """

    arch: str = "corr"
    glimpse: str = "gaussian"
    glimpse_size: int = 48
    backbone: str = "small"
    backbone_width: int = 16
    feature_maps: int = 5
    dfn_channels: int = 5
    rnn_units: int = 100
    zoneout: float = 0.05
    dropout: float = 0.25
    att_gain: float = -2.5
    context: float = 2.0
    corr_channels: int = 4
    att_input: bool = True
    dropout_mode: str = "maps"
    dfn_hidden: int = 0
    mask_code: int = 0
    glimpse_norm: str = "contrast"
    area_loss: str = "hinge"
    curriculum_step: int = 5
    curriculum_min_steps: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (loadable with ``torch.load(weights_only=True)``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "HARTConfig":
        """Build from :meth:`to_dict` output; unknown keys are an :class:`InputError`."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise InputError(f"unknown HART config keys: {', '.join(sorted(unknown))}")
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise :class:`InputError` on impossible values."""
        if self.arch not in ARCHS:
            raise InputError(f"unknown HART arch {self.arch!r}; use one of {', '.join(ARCHS)}")
        if self.glimpse_size < 8:
            raise InputError(f"glimpse_size must be at least 8, got {self.glimpse_size}")
        if self.context < 1.0:
            raise InputError(f"context must be >= 1, got {self.context}")
        for name, value, allowed in (("dropout_mode", self.dropout_mode, DROPOUT_MODES),
                                     ("glimpse_norm", self.glimpse_norm, GLIMPSE_NORMS),
                                     ("area_loss", self.area_loss, AREA_LOSSES)):
            if value not in allowed:
                raise InputError(f"unknown HART {name} {value!r}; use one of {', '.join(allowed)}")
        for name in ("dfn_hidden", "mask_code", "curriculum_min_steps"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.curriculum_step < 1:
            raise InputError(f"curriculum_step must be >= 1, got {self.curriculum_step}")


class HARTState(NamedTuple):
    """The recurrent state of ``N`` objects.

    Attributes:
        att: ``(N, 4)`` attention window ``cx, cy, w, h`` normalised by the frame size.
        h: ``(N, U)`` LSTM output.
        c: ``(N, U)`` LSTM cell.
        template: ``(N, C, k, k)`` template features (``(N, 0)`` for ``arch="paper"``).
        size0: ``(N, 2)`` the first box's ``w, h`` normalised by the frame size.
        motion: ``(N, 2)`` the last step's box-centre displacement in units of the
            attention window size.
    """

    att: torch.Tensor
    h: torch.Tensor
    c: torch.Tensor
    template: torch.Tensor
    size0: torch.Tensor
    motion: torch.Tensor


class HARTOutput(NamedTuple):
    """What one step produces for ``N`` objects.

    Attributes:
        box: ``(N, 4)`` predicted box ``cx, cy, w, h`` normalised by the frame size.
        att: ``(N, 4)`` the attention window read at this step (same convention).
        mask_logit: ``(N, 1, F, F)`` appearance-attention logit over the glimpse.
        dfn_decay: ``(N,)`` squared norm of the generated dynamic filters.
        glimpse: ``(N, 3, G, G)`` the glimpse read (0..255, BGR).
        score: ``(N,)`` in ``[0, 1]``: the model's estimate of the IoU of ``box`` with the
            object (a head trained on detached features, so it does not change tracking).
    """

    box: torch.Tensor
    att: torch.Tensor
    mask_logit: torch.Tensor
    dfn_decay: torch.Tensor
    glimpse: torch.Tensor
    score: torch.Tensor


def boxes_in_window(boxes: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Express boxes in a window's normalised coordinates.

    Args:
        boxes: ``(N, 4)`` ``cx, cy, w, h``.
        window: ``(N, 4)`` ``cx, cy, w, h`` in the same units.

    Returns:
        ``(N, 4)``: the window spans ``[-1, 1]`` on both axes; sizes in the same units.
    """
    centre = 2.0 * (boxes[:, :2] - window[:, :2]) / window[:, 2:]
    size = 2.0 * boxes[:, 2:] / window[:, 2:]
    return torch.cat([centre, size], dim=1)


#: attention windows are kept between these sizes (fractions of the frame side)
MIN_ATT, MAX_ATT = 1e-3, 4.0


class HART(nn.Module):
    """The HART model; see the module docstring.

    Args:
        config: hyper-parameters (default :class:`HARTConfig`).
    """

    def __init__(self, config: HARTConfig | None = None) -> None:
        super().__init__()
        cfg = config or HARTConfig()
        cfg.validate()
        self.config = cfg
        self.reader = create_glimpse_reader(cfg.glimpse, cfg.glimpse_size)
        kwargs = {"width": cfg.backbone_width} if cfg.backbone == "small" else {}
        self.backbone = create_backbone(cfg.backbone, **kwargs)
        c = self.backbone.out_channels
        self.feature_size = self.backbone.feature_size(cfg.glimpse_size)
        fs = self.feature_size
        u = cfg.rnn_units
        self.use_corr = cfg.arch == "corr"
        self.ventral = VentralStream(c, cfg.feature_maps, cfg.dropout, cfg.dropout_mode)
        extra = cfg.corr_channels if self.use_corr else 0
        self.dorsal = DorsalStream(u, c, cfg.dfn_channels, extra, cfg.dfn_hidden)
        if self.use_corr:
            k = max(3, int(round(fs / cfg.context)))
            self.corr = TemplateCorrelation(c, k, cfg.corr_channels)
            self.corr_summary = MLP(cfg.corr_channels * fs * fs, 64)
        fc_in = cfg.feature_maps * fs * fs + (4 if cfg.att_input else 0)
        fc_in += cfg.corr_channels * fs * fs if self.use_corr else 0
        self.fc = nn.Linear(fc_in, u)
        self.lstm = ZoneoutLSTMCell(u, u, cfg.zoneout)
        # corr: the heads also see the correlation summary and the log size of the window
        # relative to the first one (a prior against scale drift)
        # the appearance code (when mask_code > 0) is appended last to the heads' inputs
        box_in = u + (64 + 4 if self.use_corr else 0)
        self.mask_code = nn.Linear(fs * fs, cfg.mask_code) if cfg.mask_code > 0 else None
        self.box_head = MLP(box_in + cfg.mask_code, u, 4, final_init=1e-3)
        self.att_head = MLP(box_in + cfg.mask_code, u, 4, final_init=1e-3)
        self.score_head = MLP(box_in + 4 + cfg.mask_code, 32, 1)
        self.att_gain = nn.Parameter(torch.full((4,), float(cfg.att_gain)))
        # first attention: box enlarged by `context`, plus a small learned bias
        self.att_bias = nn.Parameter(torch.zeros(4))
        self.box_ratio = nn.Parameter(torch.full((2,), -math.log(cfg.context)))

    def fold_batchnorm_(self) -> "HART":
        """Fold every batch norm into the layer beside it, in place, for fast inference.

        The model must be in evaluation mode; it then computes the same outputs (to float
        rounding) with fewer operations. Training a folded model is not supported.
        """
        if self.training:
            raise RuntimeError("fold_batchnorm_ needs a model in evaluation mode")
        self.backbone.fold_batchnorm_()
        self.ventral.fold_batchnorm_()
        if self.use_corr:
            self.corr.fold_batchnorm_()
        return self

    # -- helpers ---------------------------------------------------------------------------
    def first_attention(self, boxes: torch.Tensor) -> torch.Tensor:
        """``(N, 4)`` boxes -> the first attention windows (normalised ``cx, cy, w, h``)."""
        bias = 0.25 * torch.tanh(self.att_bias)
        centre = boxes[:, :2] + bias[:2] * boxes[:, 2:]
        size = boxes[:, 2:] * self.config.context * torch.exp(bias[2:])
        return torch.cat([centre, size], dim=1)

    @staticmethod
    def _clamp(att: torch.Tensor) -> torch.Tensor:
        return torch.cat([att[:, :2], att[:, 2:].clamp(MIN_ATT, MAX_ATT)], dim=1)

    def read(self, pyramid: ImagePyramid, att: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """Glimpses ``(N, 3, G, G)`` of normalised windows ``att`` ``(N, 4)``."""
        w, h = pyramid.frame_size
        scale = att.new_tensor([w, h, w, h])
        return self.reader(pyramid, att * scale, index)

    def _features(self, glimpse: torch.Tensor) -> torch.Tensor:
        """``(N, 3, G, G)`` BGR 0..255 glimpses -> backbone features ``(N, C, F, F)``."""
        if self.config.glimpse_norm == "imagenet":
            return self.backbone(imagenet_normalise(glimpse))
        return self.backbone(contrast_normalise(glimpse))

    # -- the two per-step functions ---------------------------------------------------------
    def init(self, pyramid: ImagePyramid, boxes: torch.Tensor,
             index: torch.Tensor | None = None) -> tuple[HARTState, HARTOutput]:
        """Start ``N`` objects on the first frame.

        Args:
            pyramid: the first frame(s).
            boxes: ``(N, 4)`` ``cx, cy, w, h`` normalised by the frame size.
            index: ``(N,)`` image of each object in ``pyramid`` (see
                :meth:`attentrack.tracker.attention.GlimpseReader.forward`).

        Returns:
            the state for :meth:`step` on the next frame, and this frame's output (its box
            is the given box).
        """
        n = boxes.shape[0]
        u = self.config.rnn_units
        att = self._clamp(self.first_attention(boxes))
        glimpse = self.read(pyramid, att, index)
        feats = self._features(glimpse)
        zeros = boxes.new_zeros((n, u))
        if self.use_corr:
            template = self.corr.template(feats, boxes_in_window(boxes, att))
        else:
            template = boxes.new_zeros((n, 0))
        state = HARTState(att, zeros, zeros, template, boxes[:, 2:], boxes.new_zeros((n, 2)))
        state, out = self._advance(feats, glimpse, state, given_box=boxes)
        return state, out

    def step(self, pyramid: ImagePyramid, state: HARTState,
             index: torch.Tensor | None = None) -> tuple[HARTState, HARTOutput]:
        """Advance ``N`` objects by one frame.

        Args:
            pyramid: the new frame(s).
            state: the state from :meth:`init` or the previous :meth:`step`.
            index: ``(N,)`` image of each object in ``pyramid``.

        Returns:
            the new state and this frame's :class:`HARTOutput`.
        """
        glimpse = self.read(pyramid, state.att, index)
        feats = self._features(glimpse)
        return self._advance(feats, glimpse, state)

    def _advance(self, feats, glimpse, state: HARTState, given_box=None):
        cfg = self.config
        att = state.att
        n = att.shape[0]
        corr = None
        if self.use_corr:
            corr = self.corr(feats, state.template)
        mask_logit, decay = self.dorsal(feats, state.h, corr)
        mask = torch.sigmoid(mask_logit)
        v = self.ventral(feats) * mask
        parts = [v.reshape(n, -1)]
        if cfg.att_input:
            parts.append(att)
        if corr is not None:
            parts.append(corr.reshape(n, -1))
        x = F.elu(self.fc(torch.cat(parts, dim=1)))
        h, c = self.lstm(x, state.h, state.c)
        head_in = h
        if corr is not None:
            rel = torch.log(att[:, 2:] / (state.size0 * cfg.context))
            head_in = torch.cat([h, self.corr_summary(corr.reshape(n, -1)), rel, state.motion], dim=1)
        base_in = head_in
        code = head_in.new_zeros((n, 0))
        if self.mask_code is not None:  # the appearance code, appended last
            code = F.elu(self.mask_code(mask.reshape(n, -1)))
            head_in = torch.cat([base_in, code], dim=1)
        d = torch.tanh(self.box_head(head_in))
        if given_box is None:
            centre = att[:, :2] + 0.5 * att[:, 2:] * d[:, :2]
            size = att[:, 2:] * torch.exp(self.box_ratio + d[:, 2:])
            box = torch.cat([centre, size], dim=1)
        else:
            box = given_box
        # next attention
        gain = torch.sigmoid(self.att_gain)
        da = gain * torch.tanh(self.att_head(head_in))
        base = self.first_attention(box) if self.use_corr else att
        nxt = torch.cat([base[:, :2] + da[:, :2] * base[:, 2:], base[:, 2:] * torch.exp(da[:, 2:])], dim=1)
        motion = 0.5 * d[:, :2] if given_box is None else state.motion
        new_state = HARTState(self._clamp(nxt), h, c, state.template, state.size0, motion)
        score = torch.sigmoid(self.score_head(torch.cat([base_in, d, code], dim=1).detach())).squeeze(1)
        return new_state, HARTOutput(box, att, mask_logit, decay, glimpse, score)

    # -- training unroll ---------------------------------------------------------------------
    def forward(self, levels: list[torch.Tensor], boxes0: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unroll over sequences (training and validation).

        Args:
            levels: image pyramid of the sequences: ``levels[l]`` is ``(B, T, H_l, W_l, 3)``.
            boxes0: ``(B, 4)`` first-frame boxes ``cx, cy, w, h`` normalised by the frame.

        Returns:
            ``box`` ``(B, T, 4)`` (frame 0: the given box), ``att`` ``(B, T, 4)``,
            ``mask_logit`` ``(B, T, 1, F, F)``, ``dfn_decay`` ``(B, T)``, ``score`` ``(B, T)``.
        """
        t_len = levels[0].shape[1]
        pyr = ImagePyramid.from_levels([lv[:, 0] for lv in levels])
        state, out = self.init(pyr, boxes0)
        outs = [out]
        for t in range(1, t_len):
            pyr = ImagePyramid.from_levels([lv[:, t] for lv in levels])
            state, out = self.step(pyr, state)
            outs.append(out)
        return {
            "box": torch.stack([o.box for o in outs], 1),
            "att": torch.stack([o.att for o in outs], 1),
            "mask_logit": torch.stack([o.mask_logit for o in outs], 1),
            "dfn_decay": torch.stack([o.dfn_decay for o in outs], 1),
            "score": torch.stack([o.score for o in outs], 1),
        }


#: shift of the identity hidden layer :func:`grow_from` gives a dynamic-filter generator:
#: the LSTM outputs it reads lie in ``(-1, 1)``, so ``ELU(h + 2) = h + 2`` exactly
GROWN_HIDDEN_SHIFT = 2.0


def grow_from(model: HART, state: dict[str, torch.Tensor]) -> list[str]:
    """Start ``model`` from another HART's weights (fine-tuning), where ``model``'s config may
    add the original code's layers; in evaluation mode the grown model computes what the
    loaded one did.

    - Tensors of equal shape are copied.
    - A weight matrix with more inputs (the box, attention and score heads when
      ``mask_code > 0``: the appearance code is appended last) keeps the loaded columns; the
      new ones start at zero, so the new code changes nothing until it is trained.
    - A dynamic-filter generator that gains a hidden ELU layer of as many units as its input
      (``dfn_hidden = rnn_units``) gets the identity shifted by :data:`GROWN_HIDDEN_SHIFT`
      (where ELU is the identity) and the generator's bias compensates the shift.

    Args:
        model: the model to start (its own initialisation is kept for new layers).
        state: the loaded ``state_dict``.

    Returns:
        the names of ``model``'s tensors that kept their own initialisation.

    Raises:
        InputError: a loaded tensor fits none of these rules (another architecture).
    """
    own = model.state_dict()
    new: dict[str, torch.Tensor] = {}
    for name, tensor in own.items():
        old = state.get(name)
        if old is None:
            continue
        if old.shape == tensor.shape:
            new[name] = old
        elif old.ndim == 2 and tensor.ndim == 2 and old.shape[0] == tensor.shape[0] and old.shape[1] < tensor.shape[1]:
            grown = torch.zeros_like(tensor)
            grown[:, :old.shape[1]] = old
            new[name] = grown
        else:
            raise InputError(f"cannot start HART from weights whose {name} has shape {tuple(old.shape)}"
                             f" (this config needs {tuple(tensor.shape)})")
    for prefix in ("dorsal.dfn1", "dorsal.dfn2"):
        hidden_w = own.get(f"{prefix}.hidden.0.weight")
        if hidden_w is None or f"{prefix}.hidden.0.weight" in state or hidden_w.shape[0] != hidden_w.shape[1]:
            continue
        new[f"{prefix}.hidden.0.weight"] = torch.eye(hidden_w.shape[0], dtype=hidden_w.dtype)
        new[f"{prefix}.hidden.0.bias"] = torch.full((hidden_w.shape[0],), GROWN_HIDDEN_SHIFT, dtype=hidden_w.dtype)
        new[f"{prefix}.generator.bias"] = (state[f"{prefix}.generator.bias"]
                                           - GROWN_HIDDEN_SHIFT * state[f"{prefix}.generator.weight"].sum(1))
    model.load_state_dict(new, strict=False)
    return sorted(set(own) - set(new))


def save_weights(model: HART, path, metadata: dict[str, Any] | None = None) -> None:
    """Write the model in the one weights format (:mod:`attentrack.tracker.weights_file`), atomically."""
    from attentrack.tracker.weights_file import save_weights as write_weights

    write_weights(path, "hart", model.config.to_dict(), model.state_dict(), metadata)


def load_weights(path, device: torch.device | str = "cpu") -> HART:
    """Build a :class:`HART` (in evaluation mode) from a weights file written by :func:`save_weights`.

    Raises:
        InputError: the file is missing or unreadable, holds another model's weights, a
            config this version cannot build, tensors that do not fit it, or NaN or
            infinite values (one line each).
    """
    from attentrack.tracker.weights_file import load_weights as read_weights

    model = read_weights(path, expect="hart").build(lambda config: HART(HARTConfig.from_dict(config)))
    return model.to(device).eval()
