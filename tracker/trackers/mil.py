"""OpenCV's MIL tracker (Babenko et al. 2009), one instance per object."""

from __future__ import annotations

import cv2
import numpy as np

from attentrack.tracker.base import SingleObjectTracker
from attentrack.tracker.trackers.template_score import grey_patch, template_score


def _create_mil():
    if hasattr(cv2, "TrackerMIL_create"):
        return cv2.TrackerMIL_create()
    return cv2.TrackerMIL.create()


class MILTracker(SingleObjectTracker):
    """Multiple-instance-learning tracker from the opencv-python wheel.

    OpenCV's MIL exposes no confidence. The score is the tracker's evidence that the box
    still holds the object: the normalised cross-correlation of the box's grey patch with
    the first box's (:mod:`attentrack.tracker.trackers.template_score`), and 0 (with the
    last box) when OpenCV says the object is lost. OpenCV's MIL samples from a random generator that
    ``cv2.setRNGSeed`` does not reach: its boxes depend on what MIL tracked earlier in the
    same process and on thread timing (on OTB Crossing its mean IoU ranged from 0.15 to
    0.49 in our runs; a given command on an idle machine repeats its result).
    """

    tracker_id = "mil"
    summary = "OpenCV MIL (multiple instance learning), classical baseline"

    def __init__(self) -> None:
        super().__init__()

    def init_one(self, frame, box):
        tracker = _create_mil()
        h, w = frame.shape[:2]
        x, y, bw, bh = (int(round(v)) for v in box)
        x, y = max(0, min(x, w - 2)), max(0, min(y, h - 2))
        bw, bh = max(2, min(bw, w - x)), max(2, min(bh, h - y))
        tracker.init(frame, (x, y, bw, bh))
        return {"cv": tracker, "box": np.asarray(box, dtype=np.float64), "template": grey_patch(frame, box)}

    def update_one(self, state, frame):
        ok, rect = state["cv"].update(frame)
        if not ok:
            return state["box"], 0.0
        state["box"] = np.asarray(rect, dtype=np.float64)
        return state["box"], template_score(state["template"], frame, state["box"])
