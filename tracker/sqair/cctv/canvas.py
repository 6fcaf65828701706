"""Frames -> foreground canvases (:class:`ForegroundCanvas`): the foreground mask against a MOG2
or median background, shrunk to the model's small canvas."""

from __future__ import annotations

import cv2
import numpy as np

from attentrack.tracker.errors import InputError

BACKGROUNDS = ("mog2", "median")


class ForegroundCanvas:
    """Frames -> foreground canvases.

    Args:
        width, height: canvas size in pixels.
        background: ``"mog2"`` (online) or ``"median"`` (needs :meth:`set_background` or
            :meth:`set_background_image`).
        threshold: grey-level difference from the median background that counts as
            foreground (median background only).
        adapt: median background only: each frame, the background pixels not marked as
            foreground move this share of the way to the frame's grey level (a selective
            running average that follows slow light changes; 0: the background stays fixed).
    """

    def __init__(self, width: int, height: int, background: str = "mog2", threshold: float = 25.0,
                 adapt: float = 0.0) -> None:
        if background not in BACKGROUNDS:
            raise InputError(f"unknown background {background!r}; use {' or '.join(BACKGROUNDS)}")
        if not 0.0 <= adapt < 1.0:
            raise InputError(f"background adapt rate must lie in [0, 1), got {adapt}")
        self.width, self.height, self.background, self.threshold = width, height, background, threshold
        self.adapt = float(adapt)
        self._median: np.ndarray | None = None
        self._mog2 = None
        self.last_mask: np.ndarray | None = None  # the mask of the last frame turned into a canvas
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        if background == "mog2":
            from attentrack.tracker.proposals import CLOSE_HEIGHT, CLOSE_WIDTH, MOG2Proposer

            self._mog2 = MOG2Proposer(scale=0.5, warmup=0, min_area=0.01, close_width=CLOSE_WIDTH,
                                       close_height=CLOSE_HEIGHT, history=300, var_threshold=12, min_pixels=30)

    def set_background(self, frames: list[np.ndarray]) -> None:
        """Estimate the median background from ``frames`` (``(H, W, 3)`` BGR or ``(H, W)``
        grey uint8)."""
        if not frames:
            raise InputError("no frames to estimate the background from")
        grey = [f if f.ndim == 2 else cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
        self._median = np.median(np.stack(grey), axis=0).astype(np.float32)

    @property
    def background_image(self) -> np.ndarray | None:
        """The median background, ``(H, W)`` float32 grey levels 0-255 (None before it is set)."""
        return self._median

    def set_background_image(self, grey: np.ndarray) -> None:
        """Use ``grey`` (``(H, W)`` grey levels 0-255, e.g. a camera's saved background) as the
        median background; it is resized to the frames when their size differs."""
        grey = np.asarray(grey)
        if grey.ndim != 2 or min(grey.shape) < 1:
            raise InputError(f"a background image must be (H, W) grey levels, got shape {grey.shape}")
        self._median = grey.astype(np.float32)

    def mask(self, frame: np.ndarray) -> np.ndarray:
        """``(h, w)`` float32 foreground mask (0/1) of ``frame`` at some reduced resolution."""
        if self.background == "mog2":
            return (self._mog2.foreground(frame) > 0).astype(np.float32)
        if self._median is None:
            raise InputError("median background not estimated yet")
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
        if self._median.shape != grey.shape:  # the same camera recorded at another size
            self._median = cv2.resize(self._median, grey.shape[::-1], interpolation=cv2.INTER_AREA)
        m = (np.abs(grey - self._median) > self.threshold).astype(np.uint8)
        if self.adapt > 0:
            still = m == 0
            self._median[still] += self.adapt * (grey[still] - self._median[still])
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, self._kernel)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, self._kernel, iterations=2)
        return m.astype(np.float32)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """``(height, width)`` float32 canvas in ``[0, 1]`` (the mask it came from is kept as
        :attr:`last_mask`)."""
        self.last_mask = self.mask(frame)
        return cv2.resize(self.last_mask, (self.width, self.height), interpolation=cv2.INTER_AREA)
