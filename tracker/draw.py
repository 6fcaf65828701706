"""Drawing tracks and attention on frames for the annotated video."""

from __future__ import annotations

import cv2
import numpy as np

from attentrack.tracker.tracks import Track


def colour_for(track_id: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour per track id."""
    hue = (track_id * 47) % 180
    hsv = np.uint8([[[hue, 220, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def _rect(box) -> tuple[tuple[int, int], tuple[int, int]]:
    x, y, w, h = (float(v) for v in box)
    return (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h)))


def overlay_mask(frame: np.ndarray, mask: np.ndarray, box, colour, alpha: float = 0.45) -> None:
    """Blend ``mask`` (``(h, w)`` in [0, 1], over the window ``box`` x,y,w,h px) into ``frame`` in place."""
    (x0, y0), (x1, y1) = _rect(box)
    H, W = frame.shape[:2]
    if x1 <= x0 or y1 <= y0:
        return
    resized = cv2.resize(mask.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    m = np.clip(resized[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0], 0, 1)[..., None] * alpha
    region = frame[cy0:cy1, cx0:cx1].astype(np.float32)
    tint = np.array(colour, dtype=np.float32)[None, None, :]
    frame[cy0:cy1, cx0:cx1] = (region * (1 - m) + tint * m).astype(np.uint8)


def overlay_heatmap(frame: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Return ``frame`` blended with a JET colour map of ``heat`` (``(h, w)``, any range)."""
    h = heat.astype(np.float32)
    h = h - h.min()
    if h.max() > 0:
        h = h / h.max()
    h = cv2.resize(h, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
    coloured = cv2.applyColorMap((h * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(frame, 1 - alpha, coloured, alpha, 0)


def draw_inset(frame: np.ndarray, inset: np.ndarray, slot: int, colour, side_fraction: float = 0.22) -> None:
    """Draw ``inset`` (``(h, w)`` grey or ``(h, w, 3)`` BGR uint8) in place in the top-right
    corner of ``frame``, below ``slot`` earlier insets, framed in ``colour``."""
    H, W = frame.shape[:2]
    side = max(8, int(min(H, W) * side_fraction))
    img = inset if inset.ndim == 3 else cv2.cvtColor(inset.astype(np.uint8), cv2.COLOR_GRAY2BGR)
    img = cv2.resize(img.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
    x0, y0 = W - side - 4, 4 + slot * (side + 4)
    if y0 + side > H or x0 < 0:
        return
    frame[y0 : y0 + side, x0 : x0 + side] = img
    cv2.rectangle(frame, (x0 - 1, y0 - 1), (x0 + side, y0 + side), colour, 1)


def draw_tracks(frame: np.ndarray, tracks: list[Track], frame_index: int | None = None) -> np.ndarray:
    """Return a copy of ``frame`` with each track's box, id and score, and its attention
    (glimpse window as a thin rectangle, appearance mask as a tint) when it has them."""
    out = frame.copy()
    for t in tracks:
        colour = colour_for(t.track_id)
        if t.glimpse is not None and t.mask is not None:
            overlay_mask(out, np.asarray(t.mask), t.glimpse, colour)
        if t.glimpse is not None:
            p0, p1 = _rect(t.glimpse)
            cv2.rectangle(out, p0, p1, colour, 1, cv2.LINE_AA)
        p0, p1 = _rect(t.box)
        cv2.rectangle(out, p0, p1, colour, 2, cv2.LINE_AA)
        label = f"{t.track_id}" if t.score >= 0.999 else f"{t.track_id} {t.score:.2f}"
        cv2.putText(out, label, (p0[0], max(12, p0[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    insets = [t for t in tracks if t.inset is not None]
    for k, t in enumerate(insets):
        draw_inset(out, np.asarray(t.inset), k, colour_for(t.track_id))
    if frame_index is not None:
        cv2.putText(out, f"#{frame_index + 1}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out
