"""OpenCV's MIL tracker (Babenko et al. 2009), one instance per object."""

from __future__ import annotations

import cv2
import numpy as np

from attentrack.tracker.base import SingleObjectTracker
from attentrack.tracker.boxes import format_box
from attentrack.tracker.errors import InputError
from attentrack.tracker.trackers.template_score import grey_patch, template_score

#: the shapes (rows, columns of equal cells) of the Haar features OpenCV's MIL draws at random
_HAAR_CELLS = ((2, 1), (1, 2), (4, 1), (1, 4), (2, 2))
#: the least area of one Haar feature, in pixels
_HAAR_MIN_AREA = 9
#: pixels OpenCV's MIL needs between the box and the frame's edge to draw its samples
_EDGE_ROOM = (1, 5)


def _create_mil():
    if hasattr(cv2, "TrackerMIL_create"):
        return cv2.TrackerMIL_create()
    return cv2.TrackerMIL.create()


def mil_can_take(width: int, height: int) -> bool:
    """Whether OpenCV's MIL can describe a ``width x height`` pixel box.

    MIL draws 250 random Haar features inside the box and redraws each until it fits: a
    feature of ``r x c`` equal cells must lie strictly inside the box and cover at least 9
    pixels. When no such feature exists (boxes of 4x4 pixels or less), ``TrackerMIL.init``
    loops forever; this is the test it never makes.
    """
    best = 0
    for rows, cols in _HAAR_CELLS:
        best = max(best, rows * ((height - 1) // rows) * cols * ((width - 1) // cols))
    return best >= _HAAR_MIN_AREA


def fit_for_mil(box, frame_width: int, frame_height: int) -> tuple[int, int, int, int]:
    """``box`` (``x, y, w, h`` pixels) rounded, clipped to the frame and shrunk so that OpenCV's
    MIL can sample around it: its right and bottom edges at least 1 pixel inside the frame
    (MIL's positive samples) and 5 pixels of room on some side (its negative samples lie at
    least 5 pixels away); the longer side is the one shrunk."""
    edge, room = _EDGE_ROOM
    x, y, w, h = (int(round(v)) for v in box)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(x + w, frame_width - edge), min(y + h, frame_height - edge)
    if max(x0, frame_width - edge - x1, y0, frame_height - edge - y1) < room:
        if x1 - x0 >= y1 - y0:
            x1 = frame_width - edge - room
        else:
            y1 = frame_height - edge - room
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


class MILTracker(SingleObjectTracker):
    """Multiple-instance-learning tracker from the opencv-python wheel.

    OpenCV's MIL exposes no confidence. The score is the tracker's evidence that the box
    still holds the object: the normalised cross-correlation of the box's grey patch with
    the first box's (:mod:`attentrack.tracker.trackers.template_score`), and 0 (with the
    last box) when OpenCV says the object is lost. OpenCV's MIL samples from a random generator that
    ``cv2.setRNGSeed`` does not reach: its boxes depend on what MIL tracked earlier in the
    same process and on thread timing (on OTB Crossing its mean IoU ranged from 0.15 to
    0.49 in our runs; a given command on an idle machine repeats its result).

    Boxes MIL cannot describe (4x4 pixels or less: :func:`mil_can_take`) are refused with an
    :class:`InputError`; a box touching the frame's edge is shrunk to leave MIL room to sample
    around it (:func:`fit_for_mil`).
    """

    tracker_id = "mil"
    summary = "OpenCV MIL (multiple instance learning), classical baseline"

    def __init__(self) -> None:
        super().__init__()

    def init_one(self, frame, box):
        """OpenCV's MIL started on ``box`` (``(4,)`` ``x, y, w, h`` pixels) in ``frame``.

        Raises:
            InputError: a box too small for MIL, even after clipping it to the frame.
        """
        h, w = frame.shape[:2]
        x, y, bw, bh = (int(round(v)) for v in box)
        x, y = max(0, min(x, w - 2)), max(0, min(y, h - 2))
        bw, bh = max(1, min(bw, w - x)), max(1, min(bh, h - y))
        tracker = _create_mil()
        try:
            self._init_cv(tracker, frame, box, (x, y, bw, bh))
        except cv2.error:  # no room to sample around a box at the frame's edge
            tracker = _create_mil()
            self._init_cv(tracker, frame, box, fit_for_mil(box, w, h))
        return {"cv": tracker, "box": np.asarray(box, dtype=np.float64), "template": grey_patch(frame, box)}

    @staticmethod
    def _init_cv(tracker, frame, box, rect: tuple[int, int, int, int]) -> None:
        if not mil_can_take(rect[2], rect[3]):
            raise InputError(f"box {format_box(box)} is too small for mil: OpenCV's MIL needs at least "
                             f"5x4 or 4x5 pixels inside the {frame.shape[1]}x{frame.shape[0]} frame")
        tracker.init(frame, rect)

    def update_one(self, state, frame):
        """The object's box in ``frame`` and its template score (:mod:`attentrack.tracker.trackers.template_score`),
        or its last box and 0 when MIL lost it."""
        ok, rect = state["cv"].update(frame)
        if not ok:
            return state["box"], 0.0
        state["box"] = np.asarray(rect, dtype=np.float64)
        return state["box"], template_score(state["template"], frame, state["box"])
