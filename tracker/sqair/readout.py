"""Read-out of SQAIR's inferred objects: pixel boxes from the rendered objects and their windows."""

from __future__ import annotations

import torch

from attentrack.tracker.sqair.model import SQAIROutput
from attentrack.tracker.sqair.modules import where_from_latent, where_to_box


def object_boxes_from_images(objects: torch.Tensor, z_where: torch.Tensor, threshold: float = 0.3) -> torch.Tensor:
    """Pixel boxes of rendered objects: the tight box of each object's pixels above
    ``threshold`` (its window when nothing is that bright).

    Args:
        objects: ``(..., H, W)`` objects rendered alone (see :class:`FrameResult`).
        z_where: ``(..., 4)`` their latent windows.
        threshold: intensity (0-1) that counts as the object.

    Returns:
        ``(..., 4)`` ``x, y, w, h`` in canvas pixels.
    """
    return _boxes(objects, where_from_latent(z_where), threshold)


def _boxes(obj: torch.Tensor, where: torch.Tensor, threshold: float) -> torch.Tensor:
    h, w = obj.shape[-2:]
    mask = obj > threshold
    cols, rows = mask.any(-2), mask.any(-1)
    xs = torch.arange(w, dtype=obj.dtype)
    ys = torch.arange(h, dtype=obj.dtype)
    big = float(max(h, w) + 1)
    x0 = torch.where(cols, xs, big).amin(-1)
    x1 = torch.where(cols, xs, -1.0).amax(-1)
    y0 = torch.where(rows, ys, big).amin(-1)
    y1 = torch.where(rows, ys, -1.0).amax(-1)
    boxes = torch.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], -1)
    window = where_to_box(where, (w, h))
    empty = ~(cols.any(-1))
    return torch.where(empty[..., None], window, boxes)


def object_boxes(out: SQAIROutput, threshold: float = 0.3) -> torch.Tensor:
    """Pixel boxes of the inferred objects (see :func:`object_boxes_from_images`).

    Args:
        out: inference run with ``keep_objects=True``.
        threshold: intensity (0-1) of the rendered object that counts as the object.

    Returns:
        ``(B, K, T, N, 4)`` ``x, y, w, h`` in canvas pixels (meaningless where absent).
    """
    if out.objects is None:
        raise ValueError("object_boxes needs an inference run with keep_objects=True")
    return _boxes(out.objects, out.where, threshold)
