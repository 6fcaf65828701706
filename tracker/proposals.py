"""Object proposals that start tracks when no ``--init`` box is given.

A proposer looks at one frame at a time and returns candidate boxes. Adding one is one
class: subclass :class:`Proposer` and set ``proposer_id`` (from another package: declare it
in the ``attentrack.proposers`` entry-point group, as attentrack does for ``saliency``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import cv2
import numpy as np

from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import PROPOSERS


class Proposer(ABC):
    """Base class of proposal sources; subclasses with a ``proposer_id`` register themselves."""

    proposer_id: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        PROPOSERS.register_subclass(cls)

    @abstractmethod
    def propose(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate objects in ``frame`` (``(H, W, 3)`` BGR uint8).

        Returns:
            ``(N, 4)`` boxes ``x, y, w, h`` in pixels and ``(N,)`` scores in ``[0, 1]``.
        """


#: default closing kernel of :class:`MOG2Proposer`, as fractions of the frame's width and height
CLOSE_WIDTH, CLOSE_HEIGHT = 0.016, 0.15


class MOG2Proposer(Proposer):
    """Foreground blobs from OpenCV's MOG2 background model, for static cameras.

    Args:
        scale: the frame is shrunk by this factor before modelling (speed).
        history: frames the background model remembers.
        var_threshold: squared Mahalanobis distance that marks a pixel as foreground.
        min_area: least blob area as a fraction of the frame.
        max_area: largest blob area as a fraction of the frame.
        warmup: frames to learn the background before proposing anything.
        min_aspect: least height/width ratio (0 accepts any shape).
        close_width: width of the closing kernel that merges the fragments of one object
            (parts of a pedestrian's body, say), as a fraction of the frame width.
        close_height: its height, as a fraction of the frame height (taller than wide:
            upright people fall apart vertically).
    """

    proposer_id = "mog2"

    def __init__(
        self,
        scale: float = 0.5,
        history: int = 300,
        var_threshold: float = 12.0,
        min_area: float = 0.01,
        max_area: float = 0.4,
        warmup: int = 5,
        min_aspect: float = 0.0,
        close_width: float = CLOSE_WIDTH,
        close_height: float = CLOSE_HEIGHT,
    ) -> None:
        if not 0 < scale <= 1:
            raise InputError(f"proposal scale must be in (0, 1], got {scale}")
        self.scale = scale
        self.min_area, self.max_area = min_area, max_area
        self.warmup = warmup
        self.min_aspect = min_aspect
        self._model = cv2.createBackgroundSubtractorMOG2(history=history, varThreshold=var_threshold, detectShadows=True)
        self._seen = 0
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.close_width, self.close_height = close_width, close_height
        self._close: np.ndarray | None = None
        self.last_mask: np.ndarray | None = None

    def foreground(self, frame: np.ndarray) -> np.ndarray:
        """Update the background model; return the ``(h, w)`` uint8 foreground mask (0/255)
        at the reduced scale."""
        small = frame if self.scale == 1 else cv2.resize(frame, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        raw = self._model.apply(small)
        mask = (raw > 200).astype(np.uint8) * 255  # 127 marks shadows
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        if self._close is None:
            h, w = mask.shape
            size = (max(1, round(self.close_width * w)) | 1, max(1, round(self.close_height * h)) | 1)
            self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, size)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)
        self.last_mask = mask
        return mask

    def propose(self, frame):
        mask = self.foreground(frame)
        self._seen += 1
        if self._seen <= self.warmup:
            return np.zeros((0, 4)), np.zeros(0)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        area_frame = mask.shape[0] * mask.shape[1]
        boxes, scores = [], []
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            frac = w * h / area_frame
            if frac < self.min_area or frac > self.max_area:
                continue
            if self.min_aspect and h / max(w, 1) < self.min_aspect:
                continue
            boxes.append([x / self.scale, y / self.scale, w / self.scale, h / self.scale])
            scores.append(area / max(w * h, 1))  # fill ratio
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0)
        return np.asarray(boxes, dtype=np.float64), np.asarray(scores, dtype=np.float64)


def create_proposer(name: str, options: dict | None = None, **kwargs) -> Proposer:
    """Build a registered proposer by name (``mog2``, ``saliency`` ...).

    Args:
        name: a registered ``proposer_id``.
        options: options from a user (text values converted, unknown names an error).
        **kwargs: further constructor arguments, passed as they are.
    """
    return PROPOSERS.create(name, options, **kwargs)
