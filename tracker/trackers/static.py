"""The constant-position baseline: every object stays where it was started."""

from __future__ import annotations

import numpy as np

from attentrack.tracker.base import SingleObjectTracker
from attentrack.tracker.trackers.template_score import grey_patch, template_score


class StaticTracker(SingleObjectTracker):
    """Reports each object's first box in every frame (the trivial baseline).

    Its score is how much the box still looks as it did in the first frame (normalised
    cross-correlation of grey patches, :mod:`attentrack.tracker.trackers.template_score`):
    high while the object stays, low once it has left the box.
    """

    tracker_id = "static"
    summary = "constant-position baseline: the first box, forever"

    def __init__(self) -> None:
        super().__init__()

    def init_one(self, frame, box):
        """The box and its grey template."""
        return np.asarray(box, dtype=np.float64), grey_patch(frame, box)

    def update_one(self, state, frame):
        """The same box, scored by the template's match at it."""
        box, template = state
        return box, template_score(template, frame, box)
