"""HART's training loss, built outside the model from its unrolled outputs.

Terms (frames ``t >= 1``; frame 0 is given):

* **box**: ``-log IoU(b_t, y_t)``.
* **attention**: ``-log(|a_t intersect y_t| / |y_t|)`` (the fraction of the true box inside
  the attention window) plus an area term: ``area_loss="hinge"`` (the default),
  ``relu(log(|a_t| / |y_t|) - log(max_area_ratio))``, which leaves windows up to
  ``max_area_ratio`` times the object's area free; ``area_loss="image"`` (the original code),
  ``-w * log(1 - r)`` with ``r = |a_t| / |image|`` (clipped to ``[0, 1]``) and
  ``w = clip(r, 1, 10)``, which penalises every window, more the larger it is.
* **appearance**: class-balanced pixel-wise binary cross-entropy between the mask logit
  and the true box rasterised on the glimpse's feature grid (positives and negatives
  weighted by the inverse of their frequency in each glimpse).
* **L2**: ``l2 * sum(w^2)`` over weight matrices and the generated dynamic filters.
* **score**: squared error between the score head and the (detached) IoU of the box; the
  head reads detached features, so this term only trains the head.

The three main terms are combined with learned uncertainty weights (Kendall et al. 2018):
``sum_i 0.5 * exp(-s_i) * L_i + 0.5 * s_i``. Each term is averaged over time within a
sequence, then over sequences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from attentrack.tracker.hart.model import AREA_LOSSES, boxes_in_window

EPS = 1e-6


def cxcywh_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of ``(..., 4)`` ``cx, cy, w, h`` boxes -> ``(...)``."""
    a0, a1 = a[..., :2] - a[..., 2:] / 2, a[..., :2] + a[..., 2:] / 2
    b0, b1 = b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2
    inter = (torch.minimum(a1, b1) - torch.maximum(a0, b0)).clamp(min=0).prod(-1)
    union = a[..., 2:].prod(-1) + b[..., 2:].prod(-1) - inter
    return inter / union.clamp(min=EPS)


def intersection_fraction(window: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """Fraction of ``box``'s area inside ``window`` (both ``(..., 4)`` ``cx, cy, w, h``)."""
    a0, a1 = window[..., :2] - window[..., 2:] / 2, window[..., :2] + window[..., 2:] / 2
    b0, b1 = box[..., :2] - box[..., 2:] / 2, box[..., :2] + box[..., 2:] / 2
    inter = (torch.minimum(a1, b1) - torch.maximum(a0, b0)).clamp(min=0).prod(-1)
    return inter / box[..., 2:].prod(-1).clamp(min=EPS)


def box_mask(box_in_window: torch.Tensor, size: int) -> torch.Tensor:
    """Rasterise boxes on a ``size`` x ``size`` grid spanning ``[-1, 1]``.

    Args:
        box_in_window: ``(N, 4)`` ``cx, cy, w, h`` in window coordinates
            (:func:`attentrack.tracker.hart.model.boxes_in_window`).
        size: grid side.

    Returns:
        ``(N, 1, size, size)`` float: 1 where a cell centre is inside the box.
    """
    centres = (torch.arange(size, dtype=box_in_window.dtype, device=box_in_window.device) + 0.5) * 2 / size - 1
    lo = box_in_window[:, :2] - box_in_window[:, 2:] / 2
    hi = box_in_window[:, :2] + box_in_window[:, 2:] / 2
    inx = (centres[None, :] >= lo[:, 0:1]) & (centres[None, :] <= hi[:, 0:1])  # (N, size)
    iny = (centres[None, :] >= lo[:, 1:2]) & (centres[None, :] <= hi[:, 1:2])
    return (iny[:, :, None] & inx[:, None, :]).to(box_in_window.dtype).unsqueeze(1)


def balanced_bce(logit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Class-balanced binary cross-entropy per glimpse.

    Args:
        logit: ``(N, 1, F, F)`` predicted logits.
        target: ``(N, 1, F, F)`` 0/1 targets.

    Returns:
        ``(N,)``: positives and negatives each weighted by the inverse of their share.
    """
    n = logit.shape[0]
    xe = F.binary_cross_entropy_with_logits(logit, target, reduction="none").reshape(n, -1)
    t = target.reshape(n, -1)
    pos = t.mean(1, keepdim=True)
    neg = 1 - pos
    w = torch.where(t > 0.5, 0.5 / pos.clamp(min=EPS), 0.5 / neg.clamp(min=EPS))
    w = torch.where((pos > 0) & (neg > 0), w, torch.ones_like(w))
    return (w * xe).mean(1)


@dataclass
class LossTerms:
    """The loss and what to log (all scalars)."""

    total: torch.Tensor
    box: torch.Tensor
    att: torch.Tensor
    mask: torch.Tensor
    l2: torch.Tensor
    score: torch.Tensor
    iou: torch.Tensor
    att_cover: torch.Tensor

    def items(self) -> dict[str, float]:
        """``{name: float}`` for logging."""
        return {k: float(getattr(self, k).detach()) for k in ("total", "box", "att", "mask", "l2", "score", "iou", "att_cover")}


class HARTLoss(nn.Module):
    """The combined loss with learned uncertainty weights.

    Args:
        l2: weight of the L2 penalty (1e-4).
        max_area_ratio: attention windows larger than this many times the object's area
            are penalised.
        adaptive: learn the weights of the three main terms (else they are summed).
        area_loss: ``"hinge"`` or ``"image"`` (see the module docstring).
    """

    def __init__(self, l2: float = 1e-4, max_area_ratio: float = 9.0, adaptive: bool = True,
                 area_loss: str = "hinge") -> None:
        super().__init__()
        if area_loss not in AREA_LOSSES:
            raise ValueError(f"area_loss must be one of {AREA_LOSSES}, got {area_loss!r}")
        self.l2 = float(l2)
        self.max_area_ratio = float(max_area_ratio)
        self.area_loss = area_loss
        self.adaptive = adaptive
        self.log_vars = nn.Parameter(torch.zeros(3))

    def area_term(self, att: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """The attention-window area term per frame.

        Args:
            att: ``(..., 4)`` attention windows ``cx, cy, w, h`` normalised by the frame size
                (so ``w * h`` is the share of the image the window covers).
            gt: ``(..., 4)`` true boxes, same convention.

        Returns:
            ``(...)``, in nats.
        """
        area = att[..., 2:].prod(-1)
        if self.area_loss == "image":
            weight = area.clamp(1.0, 10.0)  # as the original: windows larger than the image are pushed back
            return -weight * torch.log(1.0 - area.clamp(0.0, 1.0) + 1e-4)
        ratio = area / gt[..., 2:].prod(-1).clamp(min=EPS)
        return F.relu(torch.log(ratio.clamp(min=EPS)) - math.log(self.max_area_ratio))

    def forward(self, outputs: dict[str, torch.Tensor], boxes: torch.Tensor,
                presence: torch.Tensor | None = None, model: nn.Module | None = None) -> LossTerms:
        """Compute the loss.

        Args:
            outputs: :meth:`attentrack.tracker.hart.model.HART.forward` output.
            boxes: ``(B, T, 4)`` true ``cx, cy, w, h`` normalised by the frame.
            presence: ``(B, T)`` bool, frames where the object is labelled (default all).
            model: the model, for the L2 penalty on its weights.
        """
        pred, att, mask_logit = outputs["box"][:, 1:], outputs["att"][:, 1:], outputs["mask_logit"][:, 1:]
        gt = boxes[:, 1:]
        b, t = gt.shape[:2]
        p = torch.ones(b, t, dtype=gt.dtype, device=gt.device) if presence is None else presence[:, 1:].to(gt.dtype)
        denom = p.sum(1).clamp(min=1)

        def seq_mean(x):  # (B, T) -> scalar: mean over present frames, then sequences
            return ((x * p).sum(1) / denom).mean()

        iou = cxcywh_iou(pred, gt)
        box_loss = seq_mean(-torch.log(iou + 1e-4))
        cover = intersection_fraction(att, gt)
        att_loss = seq_mean(-torch.log(cover + 1e-4) + self.area_term(att, gt))
        fs = mask_logit.shape[-1]
        target = box_mask(boxes_in_window(gt.reshape(-1, 4), att.reshape(-1, 4).detach()), fs)
        mask_loss = seq_mean(balanced_bce(mask_logit.reshape(-1, 1, fs, fs), target).reshape(b, t))
        score_loss = seq_mean((outputs["score"][:, 1:] - iou.detach()) ** 2)
        main = torch.stack([box_loss, att_loss, mask_loss])
        if self.adaptive:
            total = (0.5 * torch.exp(-self.log_vars) * main + 0.5 * self.log_vars).sum()
        else:
            total = main.sum()
        total = total + score_loss
        l2 = gt.new_zeros(())
        if self.l2 > 0:
            if model is not None:
                l2 = sum((w * w).sum() for name, w in model.named_parameters() if w.ndim >= 2)
            l2 = l2 + outputs["dfn_decay"][:, 1:].mean()
            l2 = self.l2 * l2
            total = total + l2
        return LossTerms(total, box_loss, att_loss, mask_loss, l2, score_loss, seq_mean(iou.detach()),
                         seq_mean(cover.detach()))
