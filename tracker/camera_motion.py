"""Telling a moving camera from a static one.

Background subtraction (the ``blobs`` baseline, MOG2 proposals, SQAIR's CCTV mode) assumes
a static camera; on footage from a moving one (a car, a hand-held phone, a panning PTZ
camera) every frame is mostly "foreground" and the objects found are the scenery. The check
here tracks corner features between consecutive frames (pyramidal Lucas-Kanade) and counts
the corners that stay still: with a static camera the background's corners do while people walk
by; with a moving one almost none do. Pairs of frames with too few corners to
tell (a dark or blank scene) are skipped rather than guessed.

Measured with ``attentrack camera-motion`` on the videos in ``../shared/data`` (first 20
frame pairs, at a 320-pixel working width; corners that move less than 0.2 px count as
still): static cameras (TUD-Campus, TUD-Stadtmitte, OTB Crossing, OpenCV's tree clip) keep
53-85 % of their corners still; moving ones 0-13 % (an animated face close-up 13 %, KITTI
from a car 7 %, VOT bag hand-held 0 %). The threshold, 30 %, lies between.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# OpenCV is imported by the functions that use it: `attentrack --help` imports this module
# (camera-motion shows these constants as defaults) and must stay fast.

#: longer side, in pixels, of the grey images the features are tracked in
WORK_SIDE = 320
#: a corner that moves less than this between consecutive frames (share of the image's
#: longer side: 0.2 px at :data:`WORK_SIDE`) counts as still
STILL_SHIFT = 0.2 / WORK_SIDE
#: the camera is taken to move when fewer than this share of the corners stay still
MOVING_STILL_SHARE = 0.3
#: frame pairs with fewer tracked corners than this are not used (too little to tell)
MIN_CORNERS = 20
#: consecutive frame pairs a :class:`CameraMotionCheck` looks at before it decides
CHECK_PAIRS = 20


@dataclass
class PairMotion:
    """How the corner features moved between two consecutive frames.

    Attributes:
        shift: median displacement, as a share of the longer image side (0.01: one percent
            of a landscape frame's width).
        still_share: share of the corners that moved less than :data:`STILL_SHIFT`.
        corners: corners tracked.
    """

    shift: float
    still_share: float
    corners: int


def _work_grey(frame: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` BGR or ``(H, W)`` grey uint8 -> grey uint8 with longer side at most
    :data:`WORK_SIDE`."""
    import cv2

    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    scale = WORK_SIDE / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey


def pair_motion(previous: np.ndarray, current: np.ndarray) -> PairMotion | None:
    """Track up to 200 corners of ``previous`` into ``current``.

    Args:
        previous: a frame of a video, ``(H, W, 3)`` BGR or ``(H, W)`` grey uint8.
        current: the next frame, of the same size and kind.

    Returns:
        the corners' motion, or None when no corner was found or followed (a blank frame).
    """
    import cv2

    a, b = _work_grey(previous), _work_grey(current)
    if a.shape != b.shape:
        raise ValueError(f"frames of different sizes: {previous.shape} and {current.shape}")
    corners = cv2.goodFeaturesToTrack(a, maxCorners=200, qualityLevel=0.01, minDistance=8)
    if corners is None:
        return None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(a, b, corners, None)
    found = status[:, 0] == 1
    if not found.any():
        return None
    shifts = np.linalg.norm((moved - corners)[found][:, 0], axis=1) / max(a.shape)
    return PairMotion(float(np.median(shifts)), float((shifts < STILL_SHIFT).mean()), int(found.sum()))


class CameraMotionCheck:
    """Decides, from a stream's first frames, whether its camera moves.

    Feed it frames with :meth:`update` (cheap: it stops looking once it has decided). It
    decides after ``pairs`` consecutive pairs with at least :data:`MIN_CORNERS` tracked
    corners, on the median share of still corners (:func:`pair_motion`), or at
    :meth:`finish` on the pairs seen (a short clip).

    Attributes:
        moving: None until decided, then whether the camera seems to move.
        shift: the median per-frame shift of the corners (share of the longer side).
        still_share: the median share of still corners it decided on.
    """

    def __init__(self, pairs: int = CHECK_PAIRS, threshold: float = MOVING_STILL_SHARE) -> None:
        if pairs < 1:
            raise ValueError(f"pairs must be at least 1, not {pairs}")
        self.pairs, self.threshold = int(pairs), float(threshold)
        self.moving: bool | None = None
        self.shift: float | None = None
        self.still_share: float | None = None
        self._previous: np.ndarray | None = None
        self._seen: list[PairMotion] = []

    @property
    def decided(self) -> bool:
        """Whether the check has decided (``moving`` is set)."""
        return self.moving is not None

    @property
    def pairs_seen(self) -> int:
        """Consecutive frame pairs with enough corners looked at so far."""
        return len(self._seen)

    def update(self, frame: np.ndarray) -> bool | None:
        """Look at the next frame (``(H, W, 3)`` BGR or ``(H, W)`` grey uint8); returns
        :attr:`moving` (None while undecided)."""
        if self.decided:
            return self.moving
        grey = _work_grey(frame)
        if self._previous is not None and self._previous.shape == grey.shape:
            motion = pair_motion(self._previous, grey)
            if motion is not None and motion.corners >= MIN_CORNERS:
                self._seen.append(motion)
        self._previous = grey
        if len(self._seen) >= self.pairs:
            self.finish()
        return self.moving

    def feed(self, frames) -> bool | None:
        """:meth:`update` with the frames of an iterable until decided, then :meth:`finish`
        (the rest of ``frames`` is not read); returns :attr:`moving`."""
        for frame in frames:
            if self.update(frame) is not None:
                break
        return self.finish()

    def finish(self) -> bool | None:
        """Decide on the pairs seen so far (None when there were none)."""
        if not self.decided and self._seen:
            self.shift = float(np.median([m.shift for m in self._seen]))
            self.still_share = float(np.median([m.still_share for m in self._seen]))
            self.moving = self.still_share < self.threshold
            self._previous = None
        return self.moving

    def message(self, what: str) -> str:
        """The one-line warning for a moving camera; ``what`` names the part that assumes a
        static one (e.g. ``"the blobs baseline"``)."""
        return (f"the camera seems to move ({100 * (self.still_share or 0.0):.0f}% of the image's corners stay still, "
                f"the median one shifts {(self.shift or 0.0) * WORK_SIDE:.1f} px a frame at {WORK_SIDE} px wide); "
                f"{what} assumes a static camera")
