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

from attentrack.tracker.boxes import iou_matrix
from attentrack.tracker.errors import InputError
from attentrack.tracker.foreground import (
    camera_noise,
    foreground_fragments,
    group_fragments,
    median_background,
    split_side_by_side,
)
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
#: (SQAIR's CCTV canvases use it; the proposer's default needs no such fractions)
CLOSE_WIDTH, CLOSE_HEIGHT = 0.016, 0.15
#: least typical object height (pixels) for which :class:`MOG2Proposer` opens its foreground
#: with a 3x3 kernel; how it cleans the foreground of shorter objects (the first is the default)
OPEN_HEIGHT = 100.0
SMALL_CLEANING = ("median", "none")
#: how :class:`ObjectSizes` sums up the objects' width / height (the first is the default)
SHAPE_RULES = ("commonest", "median")


def median_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The Theil-Sen slope of ``y`` against ``x`` (``(N,)`` each): the median of the slopes
    between all pairs of points with different ``x`` (0 when there are none). Robust: about
    29 % of the points can lie anywhere without moving it much."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    apart = dx != 0
    if not apart.any():
        return 0.0
    return float(np.median((y[j] - y[i])[apart] / dx[apart]))


#: width of the kernel that finds the commonest ratio, in natural log units (about 10 %)
RATIO_KERNEL = 0.1


def commonest_ratio(ratios: np.ndarray, kernel: float = RATIO_KERNEL) -> float:
    """The most common of positive ``ratios`` ``(N,)``: the one at which a Gaussian kernel
    density of their logarithms (``kernel`` wide) peaks; ties go to the smallest ratio."""
    logs = np.log(np.maximum(np.asarray(ratios, dtype=np.float64), 1e-9))
    density = np.exp(-0.5 * ((logs[:, None] - logs[None, :]) / kernel) ** 2).sum(axis=1)
    peak = density.max()
    return float(np.exp(logs[density >= peak * (1 - 1e-9)].min()))


class ObjectSizes:
    """The typical size of the objects a camera sees, learnt from the objects it proposes.

    Keeps the ``(width, height)`` in pixels and the bottom row (where the object stands) of the
    last ``memory`` objects; the typical size is their median. The objects must come from a rule
    that does not depend on this estimate (:func:`attentrack.tracker.foreground.group_fragments`
    does not), or a camera whose objects merge would learn ever larger sizes from its own
    merges. :meth:`add_persistent` learns only from objects that were there in the frame before
    too: specks and parts of people flicker from frame to frame, whole objects persist.

    Perspective (:meth:`height_at`): a camera that looks down at the ground sees an object the
    larger the lower in the image it stands (for objects of one height on flat ground, the image
    height is a linear function of the bottom row), so near the camera a part of a person can be
    as tall as a whole person far away.

    Args:
        memory: how many objects are remembered.
        min_objects: least objects with a known bottom row before the height is modelled by row.
        max_ratio: the typical height by row stays below this many times the median height.
        shape: how the typical width / height is found: ``commonest`` (:func:`commonest_ratio`)
            or ``median`` (before 2026-12-07).
    """

    def __init__(self, memory: int = 300, min_objects: int = 30, max_ratio: float = 4.0,
                 shape: str = SHAPE_RULES[0]) -> None:
        if shape not in SHAPE_RULES:
            raise InputError(f"proposal option typical_shape must be one of {', '.join(SHAPE_RULES)}, got {shape!r}")
        self.memory, self.shape = memory, shape
        self.min_objects, self.max_ratio = int(min_objects), float(max_ratio)
        self._sizes: list[tuple[float, float, float]] = []
        self._added = 0  # objects ever added
        self._line: tuple[float, float] | None = None  # (intercept, slope): height against bottom row
        self._fitted_at = -1  # ``_added`` when the line was last fitted

    def __len__(self) -> int:
        """How many objects are remembered."""
        return len(self._sizes)

    def add(self, width: float, height: float, bottom: float = float("nan")) -> None:
        """Remember one object of ``width`` x ``height`` pixels standing on row ``bottom``
        (pixels; NaN: unknown, left out of the height by row)."""
        self._sizes.append((float(width), float(height), float(bottom)))
        self._added += 1
        if len(self._sizes) > self.memory:
            del self._sizes[: len(self._sizes) - self.memory]

    def add_persistent(self, boxes: np.ndarray, previous: np.ndarray, min_iou: float = 0.5) -> None:
        """Remember those of ``boxes`` (``(N, 4)`` ``x, y, w, h`` pixels) that overlap one of the
        previous frame's ``previous`` boxes by at least ``min_iou``."""
        if len(boxes) == 0 or len(previous) == 0:
            return
        for x, y, w, h in boxes[iou_matrix(boxes, previous).max(axis=1) >= min_iou]:
            self.add(w, h, y + h)

    def _height_line(self) -> tuple[float, float] | None:
        """``(intercept, slope)`` of the objects' height (pixels) against their bottom row, a
        robust (Theil-Sen) line refitted every 10 objects; None while fewer than ``min_objects``
        have a known row or they stand within half the median height of one another (one depth:
        nothing to learn by row)."""
        if self._fitted_at >= 0 and self._added - self._fitted_at < 10:
            return self._line
        self._fitted_at, self._line = self._added, None
        sizes = np.asarray(self._sizes).reshape(-1, 3)
        sizes = sizes[np.isfinite(sizes[:, 2])]
        if len(sizes) < self.min_objects:
            return None
        heights, bottoms = sizes[:, 1], sizes[:, 2]
        if np.subtract(*np.percentile(bottoms, [90, 10])) < 0.5 * np.median(heights):
            return None
        slope = max(median_slope(bottoms, heights), 0.0)  # lower in the image is nearer, not smaller
        self._line = (float(np.median(heights - slope * bottoms)), slope)
        return self._line

    def height_at(self, bottoms: np.ndarray) -> np.ndarray | None:
        """``(N,)`` the typical height (pixels) of objects standing on rows ``bottoms`` ``(N,)``
        (pixels), or None before any object was seen: the median height, and more where the
        objects' robust line of height against row says so, at most ``max_ratio`` times the
        median. Only upwards: far from the camera the median stays, because letting it fall there
        (the line alone) let reflections and noise far away through as objects (MOTA -0.06 on TUD
        at recorded size, -0.1 on MOT15 ADL-Rundle-6; docs/benchmarks.md)."""
        typical = self.typical()
        if typical is None:
            return None
        bottoms = np.asarray(bottoms, dtype=np.float64)
        line = self._height_line()
        if line is None:
            return np.full(bottoms.shape, typical[1])
        return np.clip(line[0] + line[1] * bottoms, typical[1], self.max_ratio * typical[1])

    def typical(self) -> tuple[float, float] | None:
        """``(width, height)`` in pixels, or None before any object was seen."""
        if not self._sizes:
            return None
        sizes = np.asarray(self._sizes)
        return float(np.median(sizes[:, 0])), float(np.median(sizes[:, 1]))

    def typical_aspect(self) -> float | None:
        """The commonest width / height of the objects remembered (:func:`commonest_ratio`), or
        None before any. Not the median: parts of a person (a head, the legs, a torso) and groups
        side by side are both wider for their height than one whole object, so they pull the
        median wide (on TUD up to 0.51 where the people's is 0.29-0.39), and a typical object too
        wide leaves groups unsplit; the commonest shape is the single object's."""
        if not self._sizes:
            return None
        sizes = np.asarray(self._sizes)
        ratios = sizes[:, 0] / np.maximum(sizes[:, 1], 1e-9)
        return commonest_ratio(ratios) if self.shape == "commonest" else float(np.median(ratios))


class MOG2Proposer(Proposer):
    """Foreground objects from OpenCV's MOG2 background model, for static cameras.

    Each frame: MOG2's foreground (shadows left out), cleaned by a 3x3 opening while the typical
    object is at least ``open_height`` tall (below, a 3x3 median: ``small_clean``) and a 3x3
    closing;
    its connected fragments, those stacked one above the other joined into one object
    (:func:`attentrack.tracker.foreground.group_fragments`: a person whose clothes match the
    background in places, or whom a pole cuts in two, comes out whole); objects several times
    as wide for their height as the typical object split into that many side by side (people
    walking together); objects shorter than
    ``min_object`` of the typical object's height where they stand left out (parts and specks),
    the typical height learnt from the objects seen, and higher near the camera once its
    perspective shows (:meth:`ObjectSizes.height_at`). No size is a fraction of the
    frame, so the same settings serve people of 20 and of 200 pixels.

    :meth:`prime` shows the model the scene's median background before the first frame (the
    runner does so for every source, :func:`attentrack.tracker.runner.prime_detector`): objects present from the start are then
    foreground at once instead of being learnt into the background.

    Giving ``min_area`` or the ``close_*`` fractions fixes the proposer to the frame instead
    (no grouping; a closing kernel of those fractions of the frame; blobs of at least
    ``min_area`` of the frame), as SQAIR's CCTV canvases use it.

    Args:
        scale: the frame is shrunk by this factor before modelling (speed; small objects
            need 1).
        history: frames the background model remembers.
        var_threshold: squared Mahalanobis distance that marks a pixel as foreground.
        min_area: least blob area as a fraction of the frame; None: no such rule.
        max_area: largest blob area as a fraction of the frame (larger: a change of light).
        warmup: frames to learn the background before proposing anything (none after
            :meth:`prime`).
        min_aspect: least height/width ratio (0 accepts any shape).
        close_width: width of a closing kernel fixed to the frame, as a fraction of its width
            (with ``close_height``); None: fragments are grouped instead.
        close_height: its height, as a fraction of the frame height.
        min_object: least height of a proposal, as a fraction of the typical object's height
            where it stands (:meth:`ObjectSizes.height_at` at its bottom row).
        min_share: least foreground pixels of an object, as a fraction of the frame's pixels
            (a noise floor: 2e-4 is 61 pixels of a 640x480 frame); fragments of a quarter of
            that still join objects.
        max_gap: fragments farther apart vertically than this share of the taller one's height
            stay apart.
        min_pixels: a noise floor in pixels at the working scale instead of ``min_share``.
        split: an object whose width / height is at least this many times the typical
            object's is split into ``round(its ratio / the typical ratio)`` objects side by
            side, where its foreground is thinnest (:func:`attentrack.tracker.foreground.split_side_by_side`: people walking
            together whose foreground touches); 0: never. The typical aspect is learnt from the
            same objects as the typical size (before splitting), as their commonest shape
            (:meth:`ObjectSizes.typical_aspect`, ``typical_shape``).
        open_height: the 3x3 opening, which removes specks of noise, is used only while the
            typical object (at the working scale) is at least this many pixels tall, or before
            any is known; 0: always. An opening erases whatever is thinner than its 3 pixels:
            the arms and legs of a 50-pixel person are 3 to 5 pixels wide, so on people under
            about 100 pixels it cuts off limbs and splits bodies (docs/benchmarks.md).
        small_clean: what cleans the foreground instead while the typical object is shorter:
            ``median``, a 3x3 median filter (removes lone pixels and lines 1 pixel wide, such as
            compression noise, and keeps limbs 2 pixels wide), or ``none`` (keeps every pixel:
            on TUD's views MOTA 0.03-0.05 higher, and IDF1 higher on TUD-Stadtmitte, but noise
            joins the people of the flickering TUD-Campus; docs/benchmarks.md).
        typical_shape: how the typical object's width / height, which ``split`` compares with,
            is learnt: ``commonest`` (the most common shape of the objects seen) or ``median``
            (their median shape, pulled wide by parts of people and by groups; the default
            before 2026-12-07; docs/benchmarks.md).
        noise_floor: when primed (:meth:`prime`), keep every pixel's variance at least the
            camera's noise (:func:`camera_noise` of the priming frames, squared): the median
            shown alone leaves MOG2 too sure of every pixel, and it takes noise for foreground
            until it has seen enough real frames, which at a low frame rate takes long
            (default since 2026-12-08; False: OpenCV's own floor of 4, the rule before;
            docs/benchmarks.md).
    """

    proposer_id = "mog2"

    def __init__(
        self,
        scale: float = 1.0,
        history: int = 500,
        var_threshold: float = 16.0,
        min_area: float | None = None,
        max_area: float = 0.4,
        warmup: int = 5,
        min_aspect: float = 0.0,
        close_width: float | None = None,
        close_height: float | None = None,
        min_object: float = 0.5,
        min_share: float = 2e-4,
        max_gap: float = 0.5,
        min_pixels: int | None = None,
        split: float = 1.7,
        open_height: float = OPEN_HEIGHT,
        small_clean: str = SMALL_CLEANING[0],
        typical_shape: str = SHAPE_RULES[0],
        noise_floor: bool = True,
    ) -> None:
        if not 0 < scale <= 1:
            raise InputError(f"proposal scale must be in (0, 1], got {scale}")
        if (close_width is None) != (close_height is None):
            raise InputError("give both close_width and close_height (fractions of the frame), or neither")
        for name, value in (("history", history), ("var_threshold", var_threshold), ("max_area", max_area),
                            ("min_share", min_share)):
            if not value > 0:
                raise InputError(f"proposal option {name} must be > 0, got {value}")
        for name, value in (("warmup", warmup), ("min_aspect", min_aspect), ("min_object", min_object),
                            ("max_gap", max_gap), ("open_height", open_height)):
            if not value >= 0:
                raise InputError(f"proposal option {name} must be >= 0, got {value}")
        if small_clean not in SMALL_CLEANING:
            raise InputError(f"proposal option small_clean must be one of {', '.join(SMALL_CLEANING)}, "
                             f"got {small_clean!r}")
        if split and split <= 1:
            raise InputError(f"proposal option split must be 0 (never) or > 1, got {split}")
        self.scale = scale
        self.history = int(history)
        self.min_area, self.max_area = min_area, max_area
        self.warmup = warmup
        self.min_aspect = min_aspect
        self._model = cv2.createBackgroundSubtractorMOG2(history=self.history, varThreshold=var_threshold,
                                                         detectShadows=True)
        self._seen = 0
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.close_width, self.close_height = close_width, close_height
        self.min_object, self.min_share, self.max_gap = min_object, min_share, max_gap
        self.min_pixels = min_pixels
        self.split = split
        self.open_height, self.small_clean = float(open_height), small_clean
        self.sizes = ObjectSizes(shape=typical_shape)
        self.noise_floor = bool(noise_floor)
        self._previous = np.zeros((0, 4))  # the last frame's grouped objects, before any size rule
        self._close: np.ndarray | None = None
        self.last_mask: np.ndarray | None = None

    @property
    def fixed_to_frame(self) -> bool:
        """Whether sizes are fractions of the frame (``min_area`` or ``close_*`` given)."""
        return self.close_width is not None or self.min_area is not None

    def prime(self, frames: list[np.ndarray], repeats: int = 30) -> None:
        """Start the background model from the median of ``frames`` (``(H, W, 3)`` uint8,
        spread over the recording) instead of from the first frame, and propose from the
        first frame on."""
        small = [self._small(f) for f in frames]
        background = median_background(small)
        if self.noise_floor:  # no pixel's variance below the camera's noise (MOG2's floor is 4)
            self._model.setVarMin(max(self._model.getVarMin(), camera_noise(small, background) ** 2))
        for _ in range(repeats):
            self._model.apply(background)
        self._seen = max(self._seen, self.warmup)

    def _small(self, frame: np.ndarray) -> np.ndarray:
        if self.scale == 1:
            return frame
        return cv2.resize(frame, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)

    def foreground(self, frame: np.ndarray) -> np.ndarray:
        """Update the background model; return the ``(h, w)`` uint8 foreground mask (0/255)
        at the reduced scale."""
        raw = self._model.apply(self._small(frame))
        mask = (raw > 200).astype(np.uint8) * 255  # 127 marks shadows
        typical = self.sizes.typical()
        if typical is None or typical[1] >= self.open_height:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        elif self.small_clean == "median":
            mask = cv2.medianBlur(mask, 3)
        if self.close_width is not None:  # a closing kernel fixed to the frame
            if self._close is None:
                h, w = mask.shape
                size = (max(1, round(self.close_width * w)) | 1, max(1, round(self.close_height * h)) | 1)
                self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, size)
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)
        else:
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._kernel)
        self.last_mask = mask
        return mask

    def typical_size(self) -> tuple[float, float] | None:
        """The typical object's ``(width, height)`` in frame pixels, once learnt (else None)."""
        size = self.sizes.typical()
        return None if size is None else (size[0] / self.scale, size[1] / self.scale)

    def propose(self, frame):
        """Foreground regions of ``frame`` as ``x, y, w, h`` pixel boxes scored by their fill ratio
        (none during the warm-up)."""
        mask = self.foreground(frame)
        self._seen += 1
        if self._seen <= self.warmup:
            return np.zeros((0, 4)), np.zeros(0)
        area_frame = mask.shape[0] * mask.shape[1]
        floor = float(self.min_pixels) if self.min_pixels is not None else max(1.0, self.min_share * area_frame)
        if self.fixed_to_frame:
            fragments = foreground_fragments(mask, floor)
            boxes, pixels = fragments[:, :4].astype(np.float64), fragments[:, 4].astype(np.float64)
        else:
            boxes, pixels = group_fragments(foreground_fragments(mask, floor / 4), self.max_gap)
            keep = pixels >= floor
            boxes, pixels = boxes[keep], pixels[keep]
            self.sizes.add_persistent(boxes, self._previous)
            self._previous = boxes
            aspect = self.sizes.typical_aspect()
            if self.split and aspect is not None:
                boxes, pixels = split_side_by_side(boxes, pixels, mask, aspect, self.split)
        keep = boxes[:, 2] * boxes[:, 3] <= self.max_area * area_frame
        if self.min_area is not None:
            keep &= boxes[:, 2] * boxes[:, 3] >= self.min_area * area_frame
        least = None if self.fixed_to_frame else self.sizes.height_at(boxes[:, 1] + boxes[:, 3])
        if least is not None:  # parts and specks: short for where they stand
            keep &= boxes[:, 3] >= self.min_object * least
        if self.min_aspect:
            keep &= boxes[:, 3] >= self.min_aspect * boxes[:, 2]
        boxes, pixels = boxes[keep], pixels[keep]
        scores = np.clip(pixels / np.maximum(boxes[:, 2] * boxes[:, 3], 1.0), 0.0, 1.0)  # fill ratio
        return boxes / self.scale, scores


def create_proposer(name: str, options: dict | None = None, **kwargs) -> Proposer:
    """Build a registered proposer by name (``mog2``, ``saliency`` ...).

    Args:
        name: a registered ``proposer_id``.
        options: options from a user (text values converted, unknown names an error).
        **kwargs: further constructor arguments, passed as they are.
    """
    return PROPOSERS.create(name, options, **kwargs)
