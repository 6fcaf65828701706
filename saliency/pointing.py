"""The pointing game (Zhang et al., ECCV 2016): does the map's maximum fall on the object?

For each image and each class present in it, the saliency map of that class is resized
to the image and its maximum taken; it is a *hit* when it lies within ``tolerance``
pixels (15 in the protocol) of a ground-truth box of that class. Accuracy is
``hits / (hits + misses)`` per class, then averaged over classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from attentrack.saliency.data import LabelledImage
from attentrack.saliency.engine import saliency
from attentrack.saliency.models import SmallCNN

TOLERANCE = 15.0
PUBLISHED_VOC07_VGG16 = {"centre": 69.6, "grad": 76.3, "eb": 77.1, "ceb": 79.9, "gradcam": 86.6}
"""TorchRay's pointing-game accuracy (%) on VOC07 test, VGG16, "all" subset: the bar for the ordering."""


def point_of(heat: np.ndarray) -> tuple[float, float]:
    """``(x, y)`` pixel of the maximum of ``heat`` (``(H, W)``); ties: the mean of the tied pixels."""
    m = heat.max()
    ys, xs = np.nonzero(heat >= m)
    return float(xs.mean()), float(ys.mean())


def is_hit(point: tuple[float, float], boxes: np.ndarray, tolerance: float = TOLERANCE) -> bool:
    """Whether ``point`` (x, y px) is within ``tolerance`` px of any ``(N, 4)`` x, y, w, h box."""
    if not len(boxes):
        return False
    x, y = point
    dx = np.maximum(np.maximum(boxes[:, 0] - x, x - (boxes[:, 0] + boxes[:, 2])), 0)
    dy = np.maximum(np.maximum(boxes[:, 1] - y, y - (boxes[:, 1] + boxes[:, 3])), 0)
    return bool((np.hypot(dx, dy) <= tolerance).any())


@dataclass
class PointingResult:
    """Hits and trials per class of one method on one dataset.

    Attributes:
        dataset: name of the evaluation set.
        method: saliency method id.
        classes: class names.
        hits: ``hits[k]`` for class ``k``.
        trials: ``trials[k]`` images of class ``k`` scored.
    """

    dataset: str
    method: str
    classes: list[str]
    hits: list[int] = field(default_factory=list)
    trials: list[int] = field(default_factory=list)

    @property
    def per_class(self) -> list[float]:
        """Accuracy per class (NaN where a class never occurs)."""
        return [h / t if t else float("nan") for h, t in zip(self.hits, self.trials)]

    @property
    def accuracy(self) -> float:
        """Mean over the classes that occur of the per-class accuracy."""
        acc = [a for a, t in zip(self.per_class, self.trials) if t]
        return float(np.mean(acc)) if acc else float("nan")

    def to_dict(self) -> dict:
        """The result as a JSON-ready dict, with the accuracy."""
        return {**asdict(self), "accuracy": self.accuracy}

    @classmethod
    def from_dict(cls, d: dict) -> "PointingResult":
        """A result from :meth:`to_dict`'s output."""
        return cls(d["dataset"], d["method"], list(d["classes"]), list(d["hits"]), list(d["trials"]))


def pointing_game(model: SmallCNN, items: list[LabelledImage], methods: list[str], dataset: str,
                  tolerance: float = TOLERANCE, layer: str | None = None) -> dict[str, PointingResult]:
    """Play the pointing game with each method on ``items``.

    Args:
        model: a classifier with ``prepare`` (a :class:`~attentrack.saliency.models.SmallCNN`).
        items: images with boxes and labels (class indices of ``model``).
        methods: saliency method ids.
        dataset: a name for the results.
        tolerance: hit distance in pixels of the original image.
        layer: map layer for EB, c-EB and Grad-CAM (default: the engine's).

    Returns:
        ``{method: PointingResult}``.
    """
    classes = list(model.config.classes)
    results = {m: PointingResult(dataset, m, classes, [0] * len(classes), [0] * len(classes)) for m in methods}
    for item in items:
        present = sorted(set(int(c) for c in item.labels))
        x = model.prepare(item.image)
        batch = x.expand(len(present), *x.shape[1:])
        H, W = item.image.shape[:2]
        for m in methods:
            res = saliency(model, batch, present, method=m, layer=None if m in ("grad", "centre") else layer)
            heats = res.resized((H, W))
            for heat, c in zip(heats, present):
                hit = is_hit(point_of(heat), item.boxes[item.labels == c], tolerance)
                results[m].hits[c] += int(hit)
                results[m].trials[c] += 1
    return results


def format_table(rows: dict[str, dict[str, PointingResult]], methods: list[str], reference: bool = True) -> str:
    """The pointing-game table: one row per dataset, one column per method (accuracy in %)."""
    head = f"{'dataset':<22} {'pairs':>6} " + " ".join(f"{m:>8}" for m in methods) + "   ordering (low -> high)"
    lines = [head, "-" * len(head)]
    for name, res in rows.items():
        first = res[methods[0]]
        acc = {m: 100 * res[m].accuracy for m in methods}
        order = " < ".join(sorted(methods, key=lambda m: acc[m]))
        lines.append(f"{name:<22} {sum(first.trials):>6} " + " ".join(f"{acc[m]:>8.1f}" for m in methods) + f"   {order}")
    if reference:
        ref = {m: PUBLISHED_VOC07_VGG16.get(m, float("nan")) for m in methods}
        order = " < ".join(sorted([m for m in methods if m in PUBLISHED_VOC07_VGG16], key=lambda m: ref[m]))
        lines.append(f"{'VOC07 VGG16 (TorchRay)':<22} {'':>6} " + " ".join(f"{ref[m]:>8.1f}" for m in methods)
                     + f"   {order}")
    lines.append(f"hit: the map's maximum within {TOLERANCE:.0f} px of a box of the class; accuracy per class, "
                 "averaged over classes")
    return "\n".join(lines)


def torch_threads(n: int):
    """Set torch's thread count; returns the previous one."""
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    return prev
