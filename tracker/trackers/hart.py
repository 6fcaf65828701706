"""HART as a tracker: all objects of a frame in one batched forward pass.

Weights ship with the package (``tracker/weights/hart.pt``, see
``tracker/weights/HART_MODEL_CARD.md``); ``weights=PATH`` loads others written by
``attentrack train hart``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from attentrack.tracker.base import Track, Tracker
from attentrack.tracker.boxes import as_boxes
from attentrack.tracker.errors import InputError

#: the weights shipped in the package
SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "hart.pt"

#: the stages of :meth:`HARTTracker.update` timed in ``stage_seconds``: the image pyramid
#: of the frame, the glimpse read, the network (everything after the read) and the
#: conversion of its output to tracks
STAGES = ("pyramid", "glimpse read", "network", "tracks")

#: shipped weights selectable by name (``weights=fast``); see ``HART_MODEL_CARD.md``
SHIPPED_VARIANTS = {
    "default": SHIPPED_WEIGHTS,
    "fast": SHIPPED_WEIGHTS.with_name("hart_fast.pt"),  # 32x32 glimpse, 8/16/16-channel backbone
}


class HARTTracker(Tracker):
    """Hierarchical Attentive Recurrent Tracking (Kosiorek et al. 2017), batched over objects.

    Each track reports its attention window (``Track.glimpse``) and appearance-attention
    mask (``Track.mask``); its score is the model's own estimate of the IoU of its box
    (a head trained to predict it), so it falls when the object is lost.
    """

    tracker_id = "hart"
    summary = ("HART (Kosiorek et al. 2017): Gaussian glimpse, dorsal/ventral appearance attention, LSTM, box "
               "regression; every object of a frame in one batch")
    model_card = "tracker/weights/HART_MODEL_CARD.md"

    def __init__(self, weights: str = "", device: str = "auto", glimpse: str = "",
                 threads: int = 0, engine: str = "auto") -> None:
        """Load the model.

        Args:
            weights: a HART weights file from ``attentrack train hart``, or the name of
                weights shipped with attentrack: ``default`` (also when empty) or ``fast``
                (a smaller glimpse and backbone: about twice the speed with many objects,
                less accurate; see the model card).
            device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``.
            glimpse: glimpse reader to use instead of the trained one (``gaussian`` or
                ``stn``; empty: as trained). Changing it usually costs accuracy.
            threads: torch CPU threads (0: all cores but one, at most 4, leaving a core
                to the frame-decoding thread). On CPU, OpenCV's thread pool is also set to
                one thread: its spinning workers slow the model down by about a third.
                Both settings are process-wide.
            engine: how each step's network (everything after the glimpse read) runs:
                ``auto`` (default) compiles one graph per object count once the count has
                lasted 10 frames (0.1-0.6 s) with TorchScript and, when the optional
                ``attentrack[fast]`` packages are installed, with ONNX Runtime, and keeps the
                faster; ``onnx`` or ``jit`` for one of them; ``eager`` for none (see
                :mod:`attentrack.tracker.hart.traced`).
        """
        super().__init__()
        from attentrack.tracker.device import resolve_device
        from attentrack.tracker.hart.model import load_weights

        self.device = resolve_device(device)
        if self.device.type == "cpu":
            n = int(threads) if threads and int(threads) > 0 else max(1, min(4, (os.cpu_count() or 2) - 1))
            torch.set_num_threads(n)
            cv2.setNumThreads(1)  # OpenCV's spinning pool workers contend with the model
        path = SHIPPED_VARIANTS.get(weights or "default", Path(weights))
        self.model = load_weights(str(path), self.device).fold_batchnorm_()
        if glimpse and glimpse != self.model.config.glimpse:
            from attentrack.tracker.attention import create_glimpse_reader

            self.model.reader = create_glimpse_reader(glimpse, self.model.config.glimpse_size)
        self.weights_path = str(path)
        from attentrack.tracker.hart.traced import TracedSteps

        self._steps = TracedSteps(self.model, engine=engine)
        self._ids: list[int] = []
        self._state = None

    # -- helpers ---------------------------------------------------------------------------
    def _pyramid(self, frame: np.ndarray, att: torch.Tensor):
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.dtype != np.uint8:
            raise InputError("frames must be (H, W, 3) uint8 BGR images")
        h, w = frame.shape[:2]
        window = att * att.new_tensor([w, h, w, h])
        return self.model.reader.pyramid_for(frame, window, device=self.device)

    def _tracks(self, frame_size, out) -> list[Track]:
        w, h = frame_size
        scale = np.array([w, h, w, h], np.float64)
        box = out.box.cpu().numpy() * scale  # NumPy: a few small arrays, cheaper than tensor calls
        att = out.att.cpu().numpy() * scale
        xywh = np.concatenate([box[:, :2] - box[:, 2:] / 2, box[:, 2:]], axis=1)
        gw = np.concatenate([att[:, :2] - att[:, 2:] / 2, att[:, 2:]], axis=1)
        masks = 1.0 / (1.0 + np.exp(-out.mask_logit[:, 0].cpu().numpy()))  # (N, F, F) appearance attention
        scores = np.clip(out.score.cpu().numpy(), 0.0, 1.0)
        return [Track(tid, xywh[i], float(scores[i]), gw[i], masks[i]) for i, tid in enumerate(self._ids)]

    # -- the Tracker protocol -----------------------------------------------------------------
    def start(self, frame: np.ndarray, boxes) -> list[int]:
        """Start following ``boxes`` (``(N, 4)`` ``x, y, w, h`` px) from ``frame``."""
        from attentrack.tracker.hart.model import HARTState

        b = as_boxes(boxes)
        if len(b) == 0:
            return []
        if not np.all(np.isfinite(b)):
            raise InputError("boxes must be finite numbers")
        if np.any(b[:, 2:] <= 0):
            i = int(np.flatnonzero((b[:, 2:] <= 0).any(1))[0])
            raise InputError(f"box {i} has zero or negative size: {b[i].tolist()} (x,y,w,h)")
        if not isinstance(frame, np.ndarray) or frame.ndim != 3:
            raise InputError("frames must be (H, W, 3) uint8 BGR images")
        h, w = frame.shape[:2]
        cxcywh = np.concatenate([b[:, :2] + b[:, 2:] / 2, b[:, 2:]], axis=1) / np.array([w, h, w, h])
        boxes_t = torch.as_tensor(cxcywh, dtype=torch.float32, device=self.device)
        with torch.no_grad():
            att0 = self.model._clamp(self.model.first_attention(boxes_t))
            pyr = self._pyramid(frame, att0)
            state, _ = self.model.init(pyr, boxes_t)
        ids = self.new_ids(len(b))
        if self._state is None:
            self._state = state
        else:
            self._state = HARTState(*(torch.cat([a, n], 0) for a, n in zip(self._state, state)))
        self._ids += ids
        return ids

    def reanchor(self, frame: np.ndarray, track_ids, boxes) -> bool:
        """Restart the given live tracks at ``boxes`` (``(N, 4)`` ``x, y, w, h`` px), keeping their ids."""
        from attentrack.tracker.hart.model import HARTState

        pairs = [(self._ids.index(int(t)), b) for t, b in zip(track_ids, as_boxes(boxes)) if int(t) in self._ids]
        if not pairs:
            return True
        rows = [r for r, _ in pairs]
        saved_ids, saved_next = list(self._ids), self._next_id
        fresh, self._state, self._ids = self._state, None, []
        self.start(frame, np.stack([b for _, b in pairs]))
        new_state = self._state
        self._state, self._ids, self._next_id = fresh, saved_ids, saved_next
        idx = torch.as_tensor(rows, device=self.device)
        self._state = HARTState(*(old.index_copy(0, idx, new) for old, new in zip(self._state, new_state)))
        return True

    def update(self, frame: np.ndarray) -> list[Track]:
        """Advance every live track to ``frame``."""
        if not self._ids:
            return []
        with torch.no_grad():
            t0 = time.perf_counter()
            pyr = self._pyramid(frame, self._state.att)
            t1 = time.perf_counter()
            glimpse = self._steps.read(pyr, self._state.att)
            t2 = time.perf_counter()
            self._state, out = self._steps.advance(glimpse, self._state)
            t3 = time.perf_counter()
            tracks = self._tracks((frame.shape[1], frame.shape[0]), out)
        t4 = time.perf_counter()
        for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds
        return tracks

    def remove(self, track_ids) -> None:
        """Forget the given track ids (unknown ids are ignored)."""
        from attentrack.tracker.hart.model import HARTState

        drop = {int(t) for t in track_ids}
        keep = [i for i, tid in enumerate(self._ids) if tid not in drop]
        if len(keep) == len(self._ids):
            return
        self._ids = [self._ids[i] for i in keep]
        if not keep:
            self._state = None
            return
        idx = torch.as_tensor(keep, device=self.device)
        self._state = HARTState(*(t.index_select(0, idx) for t in self._state))

    @property
    def track_ids(self) -> list[int]:
        """Ids of the live tracks."""
        return list(self._ids)
