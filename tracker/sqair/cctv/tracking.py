"""Tracking online with SQAIR on CCTV canvases (:class:`CanvasTracker`): objects and their
identities frame by frame, in canvas pixels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.model import SQAIR, ObjectState
from attentrack.tracker.sqair.readout import object_boxes_from_images


@dataclass
class CanvasTrack:
    """One object of the current frame, in canvas terms."""

    track_id: int
    box: np.ndarray  # (4,) x, y, w, h in canvas pixels
    score: float


@dataclass
class CanvasTracker:
    """Runs SQAIR online on canvases: with posterior means (``particles=1``, deterministic) or
    with ``particles`` samples followed side by side, reporting at each frame the one whose
    importance weight, summed over the frames so far, is highest (online best-of-K).

    Attributes:
        model: the model.
        particles: ``K``, posterior samples followed (1: posterior means, no sampling).
        min_pixels: an object must render at least this many canvas pixels above 0.3 to be
            reported (discards faint, empty objects).
        min_mass: and its rendered intensity must add up to at least this share of the area
            of the prior's window (an object's expected size): discards objects that explain
            specks of foreground noise or a sliver of a person. The object is still tracked.
        max_size_std: and its box must be no wider than the prior's window this many prior
            standard deviations above its mean width (0: no limit): a wider box holds a group
            of objects explained as one (people walking side by side), not one object. Only
            the width is limited: people near the camera are much taller than the prior's
            mean, and groups stand side by side. The object is still tracked.
        min_support: an object whose window's mean canvas intensity is below this is
            forgotten (its slot freed).
        min_iou: when the reported particle changes, its objects take the identities of the
            objects reported in the previous frame whose boxes overlap them by at least this IoU.
        seed: seed of the tracker's own random stream (``particles > 1``): the same seed and
            canvases give the same reports; torch's global generator is left as it was.
    """

    model: SQAIR
    particles: int = 1
    min_pixels: int = 2
    min_mass: float = 0.0
    max_size_std: float = 0.0
    min_support: float = 0.02
    min_iou: float = 0.3
    seed: int = 0
    state: ObjectState | None = None
    ids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))  # (K, N) per particle
    log_weights: torch.Tensor | None = None  # (K,) summed over the frames, minus their maximum
    next_id: int = 1
    _shown: int = field(default=-1, init=False)  # the particle reported last (-1: none yet)
    _last: list = field(default_factory=list, init=False)  # the CanvasTracks reported last
    _rng_state: torch.Tensor | None = field(default=None, init=False)  # the private random stream (None: unseeded)

    def __post_init__(self) -> None:
        if int(self.particles) < 1:
            raise InputError(f"particles must be at least 1, got {self.particles}")

    def reset(self) -> None:
        """Forget every object and particle; identities start again at 1."""
        self.state, self.ids, self.log_weights, self.next_id = None, np.zeros((0, 0), np.int64), None, 1
        self._shown, self._last, self._rng_state = -1, [], None

    @torch.no_grad()
    def step(self, canvas: np.ndarray) -> list[CanvasTrack]:
        """Advance to one ``(H, W)`` canvas; returns the present objects (score: rendered
        intensity as a share of the prior window's area, at most 1)."""
        m, k = self.model, int(self.particles)
        first = self.state is None
        if first:
            self.state = m.initial_state(k)
            self.ids = np.zeros((k, m.config.max_objects), np.int64)
            self.log_weights = torch.zeros(k)
        x = torch.from_numpy(np.ascontiguousarray(canvas, dtype=np.float32))[None].expand(k, -1, -1)
        if k == 1:
            with m.posterior_means():
                r = m.step(x, self.state, first_frame=first)
        else:
            with torch.random.fork_rng(devices=[]):  # sample from the private stream
                if self._rng_state is None:
                    torch.manual_seed(self.seed)
                else:
                    torch.set_rng_state(self._rng_state)
                r = m.step(x, self.state, first_frame=first)
                self._rng_state = torch.get_rng_state()
            self.log_weights = self.log_weights + r.log_lik + r.scores.log_p - r.scores.log_q
            self.log_weights = self.log_weights - self.log_weights.max()
        # an object whose window holds (almost) no foreground explains nothing: forget it, so
        # that its slot is free for discovery (an empty first frame, e.g. before an online
        # background model has formed, would otherwise fill every slot with empty objects)
        support = m.read(x, r.state.where).mean(-1)
        self.state = r.state._replace(pres=r.state.pres * (support >= self.min_support).to(x.dtype))
        pres = self.state.pres.numpy() > 0.5
        found = r.discovered.numpy() > 0.5
        for p in range(k):  # identities per particle
            for i in range(pres.shape[1]):
                if found[p, i] or (pres[p, i] and self.ids[p, i] == 0):
                    self.ids[p, i], self.next_id = self.next_id, self.next_id + 1
                elif not pres[p, i]:
                    self.ids[p, i] = 0
        best = int(self.log_weights.argmax()) if k > 1 else 0
        objects = r.objects[best].numpy()
        boxes = object_boxes_from_images(r.objects[best], r.state.where[best]).numpy()
        if best != self._shown and self._shown >= 0:
            self._inherit_identities(best, pres[best], boxes)
        self._shown = best
        tracks = []
        for i in range(pres.shape[1]):
            score = self.report_score(objects[i], boxes[i]) if pres[best, i] else None
            if score is not None:
                tracks.append(CanvasTrack(int(self.ids[best, i]), boxes[i], score))
        self._last = tracks
        return tracks

    @property
    def live_ids(self) -> list[int]:
        """Identities of the present objects of the particle reported last (reported or not)."""
        if self._shown < 0:
            return []
        return [int(i) for i in self.ids[self._shown] if i > 0]

    def report_score(self, rendered: np.ndarray, box: np.ndarray) -> float | None:
        """Whether a present object is reported, and with what score.

        Args:
            rendered: ``(H, W)`` the object rendered alone on the canvas.
            box: its ``x, y, w, h`` box in canvas pixels.

        Returns:
            its rendered intensity as a share of the prior window's area (at most 1), or None
            when it is too faint (``min_pixels``, ``min_mass``) or wider than a single object
            (``max_size_std``).
        """
        win_w, win_h = self.model.prior_window_px()
        mass = float(rendered.sum()) / max(1, win_w * win_h)
        if (rendered > 0.3).sum() < self.min_pixels or mass < self.min_mass:
            return None
        if self.max_size_std > 0 and box[2] > self.model.prior_window_px(self.max_size_std)[0]:
            return None
        return min(1.0, mass)

    def _inherit_identities(self, best: int, present: np.ndarray, boxes: np.ndarray) -> None:
        """The newly reported particle's objects take the identities of the last reported
        objects they overlap (so a change of particle is not a change of every identity)."""
        from scipy.optimize import linear_sum_assignment

        from attentrack.tracker.boxes import iou_matrix

        slots = np.flatnonzero(present)
        if not len(slots) or not self._last:
            return
        iou = iou_matrix(boxes[slots].astype(np.float64), np.stack([t.box for t in self._last]).astype(np.float64))
        rows, cols = linear_sum_assignment(-iou)
        row = self.ids[best]
        for r_i, c_i in zip(rows, cols):
            if iou[r_i, c_i] >= self.min_iou:
                old_id, target = self._last[c_i].track_id, slots[r_i]
                row[row == old_id] = row[target]  # a slot already holding it swaps: no duplicates
                row[target] = old_id
