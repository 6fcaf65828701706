"""Box conventions and geometry.

Unless a name says otherwise, a box is ``(x, y, w, h)`` in pixels: ``x, y`` is the
top-left corner, ``w, h`` the width and height. Arrays of boxes have shape ``(N, 4)``.
``xyxy`` names ``(x_min, y_min, x_max, y_max)`` in pixels; ``cxcywh`` names the centre
and size.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from attentrack.tracker.errors import InputError


def as_boxes(boxes) -> np.ndarray:
    """Return ``boxes`` as a float64 array of shape ``(N, 4)`` (``x, y, w, h``)."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1) if arr.size else arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"boxes must have shape (N, 4) as x,y,w,h; got shape {arr.shape}")
    return arr


def xywh_to_xyxy(boxes) -> np.ndarray:
    """``(N, 4)`` ``x, y, w, h`` -> ``(N, 4)`` ``x_min, y_min, x_max, y_max``."""
    b = as_boxes(boxes)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def xyxy_to_xywh(boxes) -> np.ndarray:
    """``(N, 4)`` ``x_min, y_min, x_max, y_max`` -> ``(N, 4)`` ``x, y, w, h``."""
    b = as_boxes(boxes)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)


def xywh_to_cxcywh(boxes) -> np.ndarray:
    """``(N, 4)`` ``x, y, w, h`` -> ``(N, 4)`` centre ``cx, cy`` and size ``w, h``."""
    b = as_boxes(boxes)
    return np.concatenate([b[:, :2] + b[:, 2:] / 2.0, b[:, 2:]], axis=1)


def cxcywh_to_xywh(boxes) -> np.ndarray:
    """``(N, 4)`` centre and size -> ``(N, 4)`` ``x, y, w, h``."""
    b = as_boxes(boxes)
    return np.concatenate([b[:, :2] - b[:, 2:] / 2.0, b[:, 2:]], axis=1)


def _intersections(boxes_a, boxes_b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, M)`` intersection areas of every pair of ``x, y, w, h`` boxes, and the ``(N,)`` and
    ``(M,)`` areas of the boxes, in square pixels."""
    a = xywh_to_xyxy(boxes_a)
    b = xywh_to_xyxy(boxes_b)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0.0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0.0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0.0, None).prod(axis=1)
    return inter, area_a, area_b


def inside_matrix(boxes_a, boxes_b) -> np.ndarray:
    """The share of each box of ``boxes_a`` (``(N, 4)`` ``x, y, w, h`` pixels) that lies inside each
    of ``boxes_b`` (``(M, 4)``): ``(N, M)`` in ``[0, 1]``; an empty box of ``boxes_a`` gets 0."""
    inter, area_a, _ = _intersections(boxes_a, boxes_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(area_a[:, None] > 0, inter / area_a[:, None], 0.0)


def iou_matrix(boxes_a, boxes_b) -> np.ndarray:
    """Intersection over union of every pair.

    Args:
        boxes_a: ``(N, 4)`` boxes ``x, y, w, h`` in pixels.
        boxes_b: ``(M, 4)`` boxes ``x, y, w, h`` in pixels.

    Returns:
        ``(N, M)`` IoU in ``[0, 1]``; pairs whose union is empty get 0.
    """
    inter, area_a, area_b = _intersections(boxes_a, boxes_b)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    return out


def iou(boxes_a, boxes_b) -> np.ndarray:
    """Element-wise IoU of two ``(N, 4)`` arrays of ``x, y, w, h`` boxes -> ``(N,)``."""
    a = xywh_to_xyxy(boxes_a)
    b = xywh_to_xyxy(boxes_b)
    if a.shape != b.shape:
        raise InputError(f"iou needs equal numbers of boxes, got {len(a)} and {len(b)}")
    lt = np.maximum(a[:, :2], b[:, :2])
    rb = np.minimum(a[:, 2:], b[:, 2:])
    inter = np.clip(rb - lt, 0.0, None).prod(axis=1)
    union = (
        np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
        + np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
        - inter
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def centre_distance(boxes_a, boxes_b) -> np.ndarray:
    """Euclidean distance in pixels between the centres of two ``(N, 4)`` box arrays."""
    a = xywh_to_cxcywh(boxes_a)[:, :2]
    b = xywh_to_cxcywh(boxes_b)[:, :2]
    return np.linalg.norm(a - b, axis=1)


def mask_box(mask: np.ndarray, x0: float = 0, y0: float = 0, threshold: float = 0.5) -> np.ndarray:
    """``(4,)`` float32 ``x, y, w, h`` (pixels) of the tight box of the pixels of the 2-D
    ``mask`` above ``threshold``, offset by ``(x0, y0)`` (where the mask sits in a larger
    image); zeros when no pixel is above it."""
    ys, xs = np.nonzero(mask > threshold)
    if len(xs) == 0:
        return np.zeros(4, np.float32)
    return np.array([x0 + xs.min(), y0 + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], np.float32)


def clip_to_frame(boxes, width: int, height: int) -> np.ndarray:
    """Clip ``(N, 4)`` ``x, y, w, h`` boxes to a ``width x height`` frame (may give w or h 0)."""
    xyxy = xywh_to_xyxy(boxes)
    xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
    xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
    return xyxy_to_xywh(xyxy)


def parse_box(text: str) -> np.ndarray:
    """Parse ``"x,y,w,h"`` (pixels) into a float array of shape ``(4,)``.

    Raises:
        InputError: when there are not exactly four numbers or w, h are not positive.
    """
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    if len(parts) != 4:
        raise InputError(f"box {text!r} must be 4 numbers x,y,w,h; got {len(parts)} values")
    try:
        box = np.array([float(p) for p in parts])
    except ValueError:
        raise InputError(f"box {text!r} must be 4 numbers x,y,w,h") from None
    if not np.all(np.isfinite(box)):
        raise InputError(f"box {text!r} has a non-finite value")
    if box[2] <= 0 or box[3] <= 0:
        raise InputError(f"box {text!r} must have positive width and height")
    return box


def check_boxes_in_frame(boxes, width: int, height: int, min_overlap: float = 0.5) -> None:
    """Raise :class:`InputError` for a box of zero size or mostly outside the frame.

    Args:
        boxes: ``(N, 4)`` ``x, y, w, h`` in pixels.
        width: frame width in pixels.
        height: frame height in pixels.
        min_overlap: least fraction of each box's area that must lie inside the frame.
    """
    b = as_boxes(boxes)
    for box in b:
        if not np.all(np.isfinite(box)):
            raise InputError(f"box {format_box(box)} has a non-finite value")
        if box[2] <= 0 or box[3] <= 0:
            raise InputError(f"box {format_box(box)} has zero or negative size")
        inside = clip_to_frame(box[None], width, height)[0]
        frac = inside[2] * inside[3] / (box[2] * box[3])
        if frac < min_overlap:
            shown = f"{frac:.0%}" if frac == 0 or frac >= 0.01 else "under 1%"
            if box[0] <= 0 and box[1] <= 0 and box[0] + box[2] >= width and box[1] + box[3] >= height:
                raise InputError(f"box {format_box(box)} holds the whole {width}x{height} frame and more "
                                 f"(only {shown} of it is inside): give the object's box")
            raise InputError(f"box {format_box(box)} lies outside the {width}x{height} frame ({shown} inside)")


def format_box(box: Sequence[float]) -> str:
    """``x,y,w,h`` with at most two decimals, for messages and files."""
    return ",".join(f"{float(v):.2f}".rstrip("0").rstrip(".") for v in box)
