"""The constant-position baseline: every object stays where it was started."""

from __future__ import annotations

import numpy as np

from attentrack.tracker.base import SingleObjectTracker


class StaticTracker(SingleObjectTracker):
    """Reports each object's first box in every frame (the trivial baseline)."""

    tracker_id = "static"
    summary = "constant-position baseline: the first box, forever"

    def __init__(self) -> None:
        super().__init__()

    def init_one(self, frame, box):
        return np.asarray(box, dtype=np.float64)

    def update_one(self, state, frame):
        return state, 1.0
