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


#: closing kernel of :class:`MOG2Proposer` when fixed to the frame (``close_width`` and
#: ``close_height`` given): fractions of the frame's width and height, as tuned on TUD's people
CLOSE_WIDTH, CLOSE_HEIGHT = 0.016, 0.15


class ObjectSizes:
    """The typical size of the objects a camera sees, learnt from the blobs it proposes.

    Keeps the ``(width, height)`` in pixels of the last ``memory`` accepted blobs; the typical
    size is their area-weighted median (large blobs, the objects, outweigh the specks).

    Args:
        memory: how many blobs are remembered.
    """

    def __init__(self, memory: int = 300) -> None:
        self.memory = memory
        self._sizes: list[tuple[float, float]] = []

    def add(self, width: float, height: float) -> None:
        """Remember one blob of ``width`` x ``height`` pixels."""
        self._sizes.append((float(width), float(height)))
        if len(self._sizes) > self.memory:
            del self._sizes[: len(self._sizes) - self.memory]

    def typical(self) -> tuple[float, float] | None:
        """``(width, height)`` in pixels, or None before any blob was seen."""
        if not self._sizes:
            return None
        sizes = np.asarray(self._sizes)
        weights = sizes[:, 0] * sizes[:, 1]
        return _weighted_median(sizes[:, 0], weights), _weighted_median(sizes[:, 1], weights)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


class MOG2Proposer(Proposer):
    """Foreground blobs from OpenCV's MOG2 background model, for static cameras.

    By default every size is relative to the objects the camera shows, not to the frame: the
    proposer learns the typical blob size (:class:`ObjectSizes`, bootstrapped from the first
    frames' foreground fragments) and closes each blob's gaps with a kernel of
    ``close_object`` of that size, and proposes blobs whose box is at least ``min_object``
    of the typical area. So the same settings serve people of 20 and of 200 pixels. Giving
    ``min_area`` or the ``close_*`` fractions fixes that size to the frame instead.

    Args:
        scale: the frame is shrunk by this factor before modelling (speed; small objects
            need 1).
        history: frames the background model remembers.
        var_threshold: squared Mahalanobis distance that marks a pixel as foreground.
        min_area: least blob area as a fraction of the frame; None: ``min_object`` of the
            typical object's box.
        max_area: largest blob area as a fraction of the frame (larger: a change of light).
        warmup: frames to learn the background before proposing anything.
        min_aspect: least height/width ratio (0 accepts any shape).
        close_width: width of the closing kernel that merges the fragments of one object
            (parts of a pedestrian's body, say), as a fraction of the frame width; None:
            ``close_object[0]`` of the typical object's width.
        close_height: its height, as a fraction of the frame height; None: ``close_object[1]``
            of the typical object's height (taller than wide: upright people fall apart
            vertically).
        min_object: least box area of a proposal, as a fraction of the typical object's box.
        close_object: the closing kernel's ``(width, height)``, as fractions of the typical
            object's width and height.
        min_pixels: least foreground pixels of a blob at the working scale (noise floor).
    """

    proposer_id = "mog2"

    def __init__(
        self,
        scale: float = 1.0,
        history: int = 300,
        var_threshold: float = 12.0,
        min_area: float | None = None,
        max_area: float = 0.4,
        warmup: int = 5,
        min_aspect: float = 0.0,
        close_width: float | None = None,
        close_height: float | None = None,
        min_object: float = 0.35,
        close_object: tuple[float, float] = (0.2, 0.35),
        min_pixels: int = 30,
    ) -> None:
        if not 0 < scale <= 1:
            raise InputError(f"proposal scale must be in (0, 1], got {scale}")
        if (close_width is None) != (close_height is None):
            raise InputError("give both close_width and close_height (fractions of the frame), or neither")
        self.scale = scale
        self.min_area, self.max_area = min_area, max_area
        self.warmup = warmup
        self.min_aspect = min_aspect
        self._model = cv2.createBackgroundSubtractorMOG2(history=history, varThreshold=var_threshold, detectShadows=True)
        self._seen = 0
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.close_width, self.close_height = close_width, close_height
        self.min_object, self.close_object, self.min_pixels = min_object, tuple(close_object), int(min_pixels)
        self.sizes = ObjectSizes()
        self._close: np.ndarray | None = None
        self.last_mask: np.ndarray | None = None

    def foreground(self, frame: np.ndarray) -> np.ndarray:
        """Update the background model; return the ``(h, w)`` uint8 foreground mask (0/255)
        at the reduced scale, each object's fragments closed into one blob."""
        small = frame if self.scale == 1 else cv2.resize(frame, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        raw = self._model.apply(small)
        mask = (raw > 200).astype(np.uint8) * 255  # 127 marks shadows
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        kernel = self._closing_kernel(mask)
        if kernel is not None:
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        self.last_mask = mask
        return mask

    def typical_size(self) -> tuple[float, float] | None:
        """The typical object's ``(width, height)`` in frame pixels, once learnt (else None)."""
        size = self.sizes.typical()
        return None if size is None else (size[0] / self.scale, size[1] / self.scale)

    def _closing_kernel(self, mask: np.ndarray) -> np.ndarray | None:
        if self.close_width is not None:  # fixed to the frame
            if self._close is None:
                h, w = mask.shape
                size = (max(1, round(self.close_width * w)) | 1, max(1, round(self.close_height * h)) | 1)
                self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, size)
            return self._close
        typical = self.sizes.typical() or _fragment_size(mask, self.min_pixels)
        if typical is None:
            return None
        kw, kh = self.close_object
        return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max(1, round(kw * typical[0])) | 1,
                                                             max(1, round(kh * typical[1])) | 1))

    def propose(self, frame):
        mask = self.foreground(frame)
        self._seen += 1
        if self._seen <= self.warmup:
            return np.zeros((0, 4)), np.zeros(0)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        area_frame = mask.shape[0] * mask.shape[1]
        typical = self.sizes.typical() or _fragment_size(mask, self.min_pixels)
        boxes, scores = [], []
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if area < self.min_pixels or w * h > self.max_area * area_frame:
                continue
            if self.min_area is not None:
                small = w * h < self.min_area * area_frame
            else:
                small = typical is None or w * h < self.min_object * typical[0] * typical[1]
                if not small:
                    self.sizes.add(w, h)
            if small or (self.min_aspect and h / max(w, 1) < self.min_aspect):
                continue
            boxes.append([x / self.scale, y / self.scale, w / self.scale, h / self.scale])
            scores.append(area / max(w * h, 1))  # fill ratio
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0)
        return np.asarray(boxes, dtype=np.float64), np.asarray(scores, dtype=np.float64)


def _fragment_size(mask: np.ndarray, min_pixels: int) -> tuple[float, float] | None:
    """The median ``(width, height)`` of the foreground fragments of ``mask`` with at least
    ``min_pixels`` pixels: a first guess of the objects' size before any is learnt."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    sizes = stats[1:][stats[1:, 4] >= min_pixels]
    if not len(sizes):
        return None
    return float(np.median(sizes[:, 2])), float(np.median(sizes[:, 3]))


def create_proposer(name: str, options: dict | None = None, **kwargs) -> Proposer:
    """Build a registered proposer by name (``mog2``, ``saliency`` ...).

    Args:
        name: a registered ``proposer_id``.
        options: options from a user (text values converted, unknown names an error).
        **kwargs: further constructor arguments, passed as they are.
    """
    return PROPOSERS.create(name, options, **kwargs)
