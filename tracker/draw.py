"""Drawing tracks and attention on frames for the annotated video."""

from __future__ import annotations

from collections import deque

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


def draw_label(frame: np.ndarray, text: str, x: int, y: int, colour, scale: float = 0.5) -> None:
    """Draw ``text`` in place on a filled box of ``colour``, its bottom-left corner at
    pixel ``(x, y)`` (the top-left of an object's box); the label is moved inside the
    frame where it would leave it (below ``y`` at the top edge, left at the right edge).

    Args:
        frame: ``(H, W, 3)`` uint8 BGR image, drawn on.
        text: the label.
        x: the label's left edge in pixels.
        y: the label's bottom edge in pixels.
        colour: BGR background; the text is black or white, whichever reads better on it.
        scale: OpenCV font scale (0.5: about 12 px tall).
    """
    H, W = frame.shape[:2]
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    bw, bh = tw + 6, th + base + 4
    x0 = int(min(max(0, x), max(0, W - bw)))
    y0 = int(y) - bh
    if y0 < 0:  # no room above the box: inside it, under its top edge
        y0 = int(min(max(0, y), max(0, H - bh)))
    cv2.rectangle(frame, (x0, y0), (x0 + bw - 1, y0 + bh - 1), colour, cv2.FILLED)
    luminance = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(frame, text, (x0 + 3, y0 + 2 + th), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 1, cv2.LINE_AA)


class Trails:
    """The last ``length`` box centres of each track, for drawing trajectories.

    Memory is bounded: a track not seen for ``length`` frames is forgotten.
    """

    def __init__(self, length: int) -> None:
        if length < 2:
            raise ValueError(f"a trail needs at least 2 points, got {length}")
        self.length = int(length)
        self._points: dict[int, deque] = {}
        self._last_seen: dict[int, int] = {}
        self._frame = 0

    def update(self, tracks: list[Track]) -> None:
        """Add this frame's box centres (bottom centre: where a person stands)."""
        self._frame += 1
        for t in tracks:
            x, y, w, h = (float(v) for v in t.box)
            self._points.setdefault(t.track_id, deque(maxlen=self.length)).append((x + w / 2, y + h))
            self._last_seen[t.track_id] = self._frame
        for tid in [tid for tid, f in self._last_seen.items() if self._frame - f >= self.length]:
            del self._points[tid], self._last_seen[tid]

    def draw(self, frame: np.ndarray, track_ids=None) -> None:
        """Draw the trails of ``track_ids`` (default: all) in place, each as a polyline in
        its track's colour, thicker when newer."""
        for tid, points in self._points.items():
            if track_ids is not None and tid not in track_ids:
                continue
            pts = np.round(np.asarray(points)).astype(np.int32)
            colour = colour_for(tid)
            for k in range(1, len(pts)):
                thickness = 1 + (2 * k) // len(pts)
                cv2.line(frame, tuple(map(int, pts[k - 1])), tuple(map(int, pts[k])), colour, thickness, cv2.LINE_AA)


def draw_tracks(frame: np.ndarray, tracks: list[Track], frame_index: int | None = None,
                trails: Trails | None = None) -> np.ndarray:
    """Return a copy of ``frame`` with each track's box, its id and score on a filled label,
    and its attention (glimpse window as a thin rectangle, appearance mask as a tint) when
    it has them; with ``trails`` (already updated with ``tracks``), the recent trajectories."""
    out = frame.copy()
    if trails is not None:
        trails.draw(out, {t.track_id for t in tracks})
    for t in tracks:
        colour = colour_for(t.track_id)
        if t.glimpse is not None and t.mask is not None:
            overlay_mask(out, np.asarray(t.mask), t.glimpse, colour)
        if t.glimpse is not None:
            p0, p1 = _rect(t.glimpse)
            cv2.rectangle(out, p0, p1, colour, 1, cv2.LINE_AA)
        p0, p1 = _rect(t.box)
        cv2.rectangle(out, p0, p1, colour, 2, cv2.LINE_AA)
    for t in tracks:  # labels last, over every box
        p0, _ = _rect(t.box)
        score = float(t.score)
        label = f"{t.track_id}" if not np.isfinite(score) or score >= 0.999 else f"{t.track_id} {score:.2f}"
        draw_label(out, label, p0[0], p0[1], colour_for(t.track_id))
    insets = [t for t in tracks if t.inset is not None]
    for k, t in enumerate(insets):
        draw_inset(out, np.asarray(t.inset), k, colour_for(t.track_id))
    if frame_index is not None:
        draw_label(out, f"#{frame_index + 1}", 0, 0, (40, 40, 40))
    return out
