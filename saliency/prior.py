"""Saliency as a top-down prior for the tracker: maps become object proposals.

:class:`SaliencyPrior` computes, per frame, the saliency map of a target class (the
pedestrian classifier and contrastive EB by default) at the frame's size.
:func:`map_to_proposals` turns a map into peaks and boxes: pixels above ``threshold``
times the map's maximum form regions; a region with several peaks is split between them
(each pixel goes to its nearest peak). :class:`SaliencyProposer` is the proposal source
``saliency`` of the tracker (``track --init saliency``), the same shape as MOG2's.
:class:`SaliencyVideoSink` draws the prior under the tracks in the annotated video.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from attentrack.saliency.engine import METHODS, saliency
from attentrack.saliency.models import load_classifier
from attentrack.tracker.device import resolve_device
from attentrack.tracker.draw import overlay_heatmap
from attentrack.tracker.errors import InputError
from attentrack.tracker.proposals import Proposer
from attentrack.tracker.sinks import VideoSink


@dataclass
class Proposals:
    """Objects found in a saliency map.

    Attributes:
        boxes: ``(N, 4)`` ``x, y, w, h`` pixels.
        scores: ``(N,)`` peak value over the map's maximum, in ``(0, 1]``.
        peaks: ``(N, 2)`` ``x, y`` pixels of each box's peak.
    """

    boxes: np.ndarray
    scores: np.ndarray
    peaks: np.ndarray

    @classmethod
    def empty(cls) -> "Proposals":
        """No proposals."""
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 2)))


def map_to_proposals(heat: np.ndarray, threshold: float = 0.3, peak_distance: int = 15,
                     min_area: float = 0.002, max_area: float = 0.4, min_peak: float = 0.0,
                     aspect: float = 0.0, grow: float = 1.0) -> Proposals:
    """Peaks and boxes of a saliency map.

    Args:
        heat: ``(H, W)`` non-negative map at the image's size.
        threshold: a pixel belongs to an object when above this fraction of the map's maximum.
        peak_distance: peaks closer than this (px) are one peak (local-maximum window radius).
        min_area: least box area as a fraction of the image.
        max_area: largest box area as a fraction of the image.
        min_peak: ignore maps whose maximum is below this (an empty scene).
        aspect: when > 0, each box is reshaped to this height/width ratio with the region's
            area, centred on the region's centroid (upright pedestrians: about 2.5).
        grow: scale factor applied to each box's sides about its centre (the map peaks on
            the torso, the box spans the whole body).

    Returns:
        :class:`Proposals`, highest score first.
    """
    heat = np.asarray(heat, dtype=np.float32)
    top = float(heat.max()) if heat.size else 0.0
    if top <= max(min_peak, 0.0):
        return Proposals.empty()
    norm = heat / top
    mask = (norm > threshold).astype(np.uint8)
    k = 2 * int(peak_distance) + 1
    local_max = norm >= cv2.dilate(norm, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    ys, xs = np.nonzero(local_max & (mask > 0))
    if not len(xs):
        return Proposals.empty()
    # one peak per plateau: keep the first of peaks closer than peak_distance
    order = np.argsort(-norm[ys, xs], kind="stable")
    peaks: list[tuple[int, int]] = []
    for i in order:
        if all((xs[i] - px) ** 2 + (ys[i] - py) ** 2 > peak_distance ** 2 for px, py in peaks):
            peaks.append((int(xs[i]), int(ys[i])))
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    H, W = heat.shape
    area_frame = float(H * W)
    boxes, scores, kept = [], [], []
    pk = np.asarray(peaks, dtype=np.float64)
    for comp in range(1, n):
        cy, cx = np.nonzero(labels == comp)
        inside = [j for j, (px, py) in enumerate(peaks) if labels[py, px] == comp]
        if not inside:
            continue
        d = (cx[:, None] - pk[inside, 0][None]) ** 2 + (cy[:, None] - pk[inside, 1][None]) ** 2
        owner = np.argmin(d, axis=1)
        for t, j in enumerate(inside):
            sel = owner == t
            if not sel.any():
                continue
            x0, x1, y0, y1 = cx[sel].min(), cx[sel].max() + 1, cy[sel].min(), cy[sel].max() + 1
            if aspect > 0 or grow != 1.0:
                mx, my = cx[sel].mean() + 0.5, cy[sel].mean() + 0.5
                bw, bh = float(x1 - x0), float(y1 - y0)
                if aspect > 0:
                    side = np.sqrt(bw * bh)
                    bw, bh = side / np.sqrt(aspect), side * np.sqrt(aspect)
                bw, bh = bw * grow, bh * grow
                x0, x1 = max(0.0, mx - bw / 2), min(float(W), mx + bw / 2)
                y0, y1 = max(0.0, my - bh / 2), min(float(H), my + bh / 2)
            frac = (x1 - x0) * (y1 - y0) / area_frame
            if frac < min_area or frac > max_area:
                continue
            boxes.append([x0, y0, x1 - x0, y1 - y0])
            scores.append(norm[peaks[j][1], peaks[j][0]])
            kept.append(peaks[j])
    if not boxes:
        return Proposals.empty()
    o = np.argsort(-np.asarray(scores), kind="stable")
    return Proposals(np.asarray(boxes, dtype=np.float64)[o], np.asarray(scores, dtype=np.float64)[o],
                     np.asarray(kept, dtype=np.float64)[o])


class SaliencyPrior:
    """The saliency map of one class on each frame, from a small classifier.

    Args:
        classifier: shipped name (``pedestrian``, ``digits``) or a ``.pt`` from ``train``.
        method: ``eb``, ``ceb``, ``grad`` or ``gradcam``.
        target: class name or index (default: the classifier's last class, ``pedestrian``).
        layer: map layer (default: the engine's, ``features``).
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    def __init__(self, classifier: str = "pedestrian", method: str = "ceb", target: str | int | None = None,
                 layer: str | None = None, device: str = "auto") -> None:
        if method not in METHODS or method == "centre":
            raise InputError(f"saliency method must be one of eb, ceb, grad, gradcam; got {method!r}")
        self.model = load_classifier(classifier, resolve_device(device))
        self.method, self.layer = method, layer
        self.target = class_index(self.model.config.classes, target)
        self._frame: np.ndarray | None = None
        self._heat: np.ndarray | None = None
        self.score = float("nan")

    def heat(self, frame: np.ndarray) -> np.ndarray:
        """``(H, W)`` float32 map of the target class at the frame's size (cached for the last frame)."""
        if self._frame is frame and self._heat is not None:
            return self._heat
        x = self.model.prepare(frame)
        res = saliency(self.model, x, self.target, method=self.method, layer=self.layer)
        self.score = float(torch.softmax(res.logits, 1)[0, self.target]) if not self.model.config.multilabel \
            else float(torch.sigmoid(res.logits[0, self.target]))
        self._frame, self._heat = frame, res.resized(frame.shape[:2])[0]
        return self._heat


def class_index(classes: list[str], target: str | int | None) -> int:
    """Index of ``target`` (a name or an index as text) in ``classes``; default: the last class."""
    if target is None:
        return len(classes) - 1
    if str(target) in classes:
        return classes.index(str(target))
    try:
        k = int(target)
    except (TypeError, ValueError):
        raise InputError(f"unknown class {target!r}; the classifier knows {', '.join(classes)}") from None
    if not 0 <= k < len(classes):
        raise InputError(f"class index {k} out of range 0..{len(classes) - 1}")
    return k


class SaliencyProposer(Proposer):
    """Objects from a classifier's saliency map (top-down; works with a moving camera).

    Args:
        classifier: shipped name or ``.pt`` of a saliency classifier.
        method: ``eb``, ``ceb``, ``grad`` or ``gradcam``.
        target: class name or index to look for (default: the classifier's last class).
        threshold: a pixel is part of an object above this fraction of the map's maximum.
        peak_distance: least distance between two objects' peaks, px.
        min_area: least box area as a fraction of the frame.
        max_area: largest box area as a fraction of the frame.
        min_score: propose nothing when the classifier's probability of the target is below this.
        aspect: box height/width (0: the region's own box); see :func:`map_to_proposals`.
        grow: box scale about its centre; see :func:`map_to_proposals`.
        device: ``auto``, ``cpu`` or ``cuda``.
        prior: a :class:`SaliencyPrior` built already, used instead of one made from
            ``classifier``, ``method``, ``target`` and ``device``.
    """

    proposer_id = "saliency"

    def __init__(self, classifier: str = "pedestrian", method: str = "ceb", target: str | None = None,
                 threshold: float = 0.5, peak_distance: int = 40, min_area: float = 0.01, max_area: float = 0.3,
                 min_score: float = 0.0, aspect: float = 2.5, grow: float = 1.3, device: str = "auto",
                 prior: SaliencyPrior | None = None) -> None:
        self.prior = prior or SaliencyPrior(classifier, method, target, device=device)
        self.threshold, self.peak_distance = threshold, peak_distance
        self.min_area, self.max_area, self.min_score = min_area, max_area, min_score
        self.aspect, self.grow = aspect, grow
        self.last: Proposals = Proposals.empty()

    def propose(self, frame):
        """Boxes and scores of the saliency map's peaks in ``frame`` (none when the classifier's
        probability of the target is below ``min_score``)."""
        heat = self.prior.heat(frame)
        if self.prior.score < self.min_score:
            self.last = Proposals.empty()
        else:
            self.last = map_to_proposals(heat, self.threshold, self.peak_distance, self.min_area, self.max_area,
                                         aspect=self.aspect, grow=self.grow)
        return self.last.boxes, self.last.scores


class SaliencyVideoSink(VideoSink):
    """The annotated video with the saliency prior blended under the tracks (``--show-saliency``)."""

    def __init__(self, path, fps: float, size: tuple[int, int], prior: SaliencyPrior, alpha: float = 0.4) -> None:
        super().__init__(path, fps, size)
        self.prior, self.alpha = prior, alpha

    def write(self, frame_index, frame, tracks):
        """Write ``frame`` with the saliency map blended in, and its tracks."""
        super().write(frame_index, overlay_heatmap(frame, self.prior.heat(frame), self.alpha), tracks)
