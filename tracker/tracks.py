"""``Track``: one object's state after a frame, what every tracker returns and every sink
writes (base layer: it imports nothing of attentrack)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Track:
    """One object's state after a frame.

    Attributes:
        track_id: identity, unique within a run, starting at 1.
        box: ``(4,)`` ``x, y, w, h`` in pixels.
        score: confidence in ``[0, 1]`` that the box holds the object.
        glimpse: ``(4,)`` ``x, y, w, h`` in pixels of the attention window, when the tracker
            has spatial attention.
        mask: ``(h, w)`` float array in ``[0, 1]``: appearance attention over the glimpse,
            when the tracker has one.
        inset: ``(h, w)`` or ``(h, w, 3)`` uint8 image the annotated video shows beside the
            frame (e.g. a generative model's canonical reconstruction), when there is one.
    """

    track_id: int
    box: np.ndarray
    score: float = 1.0
    glimpse: np.ndarray | None = None
    mask: np.ndarray | None = None
    inset: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``box`` and ``glimpse`` as lists of 4 floats)."""
        out: dict[str, Any] = {
            "id": int(self.track_id),
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
        }
        if self.glimpse is not None:
            out["glimpse"] = [round(float(v), 2) for v in self.glimpse]
        return out
