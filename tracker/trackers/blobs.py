"""The ``blobs`` tracker: the baseline for static cameras, MOG2 foreground blobs associated
frame to frame by IoU (no model)."""

from __future__ import annotations

import numpy as np

from attentrack.tracker.base import Track, Tracker
from attentrack.tracker.proposals import OPEN_HEIGHT, SHAPE_RULES, SMALL_CLEANING, MOG2Proposer


class BlobTracker(Tracker):
    """The CCTV baseline: MOG2 foreground blobs associated frame to frame by IoU.

    Each frame's blobs (:class:`attentrack.tracker.proposals.MOG2Proposer`) are matched to the live
    tracks' last boxes by maximum total IoU (Hungarian); matched tracks take the blob's box,
    unmatched blobs start tracks, and tracks unmatched for ``max_age`` frames end.
    """

    tracker_id = "blobs"
    summary = "baseline for static cameras: MOG2 blobs + IoU association (no model)"
    self_starting = True
    static_camera_user = "the blobs baseline"

    def __init__(self, min_iou: float = 0.3, max_age: int = 3, min_aspect: float = 0.0,
                 min_area: float | None = None, close_width: float | None = None,
                 close_height: float | None = None, open_height: float = OPEN_HEIGHT,
                 small_clean: str = SMALL_CLEANING[0], typical_shape: str = SHAPE_RULES[0],
                 noise_floor: bool = True) -> None:
        """Build the tracker.

        Args:
            min_iou: least IoU between a track's last box and a blob to continue the track.
            max_age: frames a track survives without a matching blob.
            min_aspect: least blob height/width (0 accepts any shape).
            min_area: least blob area as a fraction of the frame (None: blobs are sized by
                the objects the camera shows, :class:`MOG2Proposer`'s default).
            close_width: width of a closing kernel fixed to the frame, as a fraction of the
                frame's width, instead of grouping each object's fragments (None: grouping).
            close_height: height of that kernel as a fraction of the frame's height.
            open_height: the foreground's 3x3 opening is used while the typical object is at
                least this many pixels tall (:class:`MOG2Proposer`; 0: always).
            small_clean: what cleans the foreground of smaller objects instead (``median`` or
                ``none``).
            typical_shape: how the typical object's shape is learnt (``commonest`` or ``median``;
                :class:`MOG2Proposer`).
            noise_floor: keep the background model's variance at least the camera's noise
                measured on the priming frames (:class:`MOG2Proposer`).
        """
        super().__init__()
        self.min_iou, self.max_age = min_iou, max_age
        self._proposer = MOG2Proposer(min_area=min_area, min_aspect=min_aspect, close_width=close_width,
                                      close_height=close_height, open_height=open_height, small_clean=small_clean,
                                      typical_shape=typical_shape, noise_floor=noise_floor)
        self._tracks: dict[int, tuple[np.ndarray, int]] = {}  # id -> (box, frames unmatched)

    def _step(self, frame: np.ndarray) -> list[Track]:
        from scipy.optimize import linear_sum_assignment

        from attentrack.tracker.boxes import iou_matrix

        blobs, scores = self._proposer.propose(frame)
        ids = list(self._tracks)
        matched: dict[int, int] = {}
        if ids and len(blobs):
            overlap = iou_matrix(np.stack([self._tracks[i][0] for i in ids]), blobs)
            rows, cols = linear_sum_assignment(-overlap)
            matched = {ids[r]: c for r, c in zip(rows, cols) if overlap[r, c] >= self.min_iou}
        out = []
        for tid in ids:
            box, missed = self._tracks[tid]
            if tid in matched:
                self._tracks[tid] = (blobs[matched[tid]], 0)
                out.append(Track(tid, blobs[matched[tid]].copy(), float(scores[matched[tid]])))
            elif missed + 1 > self.max_age:
                del self._tracks[tid]
            else:
                self._tracks[tid] = (box, missed + 1)
        used = set(matched.values())
        for j in range(len(blobs)):
            if j not in used:
                tid = self.new_ids(1)[0]
                self._tracks[tid] = (blobs[j], 0)
                out.append(Track(tid, blobs[j].copy(), float(scores[j])))
        return out

    def prime(self, frames: list[np.ndarray]) -> None:
        """Start the background model from the median of ``frames`` (:meth:`MOG2Proposer.prime`)."""
        self._proposer.prime(frames)

    def start(self, frame, boxes):
        """Step on the first frame like :meth:`update`; blobs start their own tracks, so ``boxes`` are ignored."""
        self._step(frame)
        return []

    def update(self, frame):
        """Match the frame's foreground blobs to the tracks and start a track for each blob left; returns the tracks seen."""
        return self._step(frame)

    def remove(self, track_ids):
        """Forget the given tracks (unknown ids are ignored)."""
        for tid in track_ids:
            self._tracks.pop(int(tid), None)

    @property
    def track_ids(self):
        """Ids of the live tracks."""
        return list(self._tracks)
