"""The tracker interface and the tracker registry.

A tracker follows any number of objects. It is started on boxes with :meth:`Tracker.start`
(at the first frame, or later, when new objects appear), advanced one frame at a time with
:meth:`Tracker.update`, and told to forget objects with :meth:`Tracker.remove`.

Frames are ``(H, W, 3)`` ``uint8`` BGR images, as OpenCV decodes them. Boxes are
``x, y, w, h`` in pixels of that frame.

Adding a tracker is one class: subclass :class:`Tracker` (or :class:`SingleObjectTracker`
for a tracker that follows one object) and set ``tracker_id``; it registers itself in
:data:`attentrack.tracker.registry.TRACKERS` and the command line builds its options from the
``__init__`` signature and docstring. A tracker in another package is found through the
``attentrack.trackers`` entry-point group without being imported first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from attentrack.tracker.boxes import as_boxes
from attentrack.tracker.registry import TRACKERS, ParamInfo, class_params, coerce_option  # noqa: F401
from attentrack.tracker.tracks import Track


class Tracker(ABC):
    """Base class of every tracker; subclasses with a ``tracker_id`` register themselves."""

    tracker_id: ClassVar[str] = ""
    #: one line for ``attentrack models`` and ``--help``
    summary: ClassVar[str] = ""
    #: the model card of the weights it ships, relative to the repository root ("" for none)
    model_card: ClassVar[str] = ""
    #: what of this tracker assumes a static camera (e.g. ``"the blobs baseline"``), named by
    #: the camera-motion warning of :func:`attentrack.tracker.pipeline.run_tracking`; empty: nothing
    static_camera_user: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        TRACKERS.register_subclass(cls)

    def __init__(self) -> None:
        self._next_id = 1
        #: seconds spent in each stage of :meth:`update` so far (trackers that time their
        #: stages fill it, e.g. ``{"pyramid": ..., "glimpse read": ...}``; clear it to restart)
        self.stage_seconds: dict[str, float] = {}

    def new_ids(self, n: int) -> list[int]:
        """Reserve ``n`` fresh track ids."""
        ids = list(range(self._next_id, self._next_id + n))
        self._next_id += n
        return ids

    @abstractmethod
    def start(self, frame: np.ndarray, boxes) -> list[int]:
        """Start following objects.

        Args:
            frame: ``(H, W, 3)`` uint8 BGR frame in which the boxes are given.
            boxes: ``(N, 4)`` ``x, y, w, h`` in pixels.

        Returns:
            the ``N`` new track ids, in the order of ``boxes``.
        """

    @abstractmethod
    def update(self, frame: np.ndarray) -> list[Track]:
        """Advance every live track to ``frame`` and return their states."""

    @abstractmethod
    def remove(self, track_ids) -> None:
        """Forget the given track ids (unknown ids are ignored)."""

    @property
    @abstractmethod
    def track_ids(self) -> list[int]:
        """Ids of the live tracks."""

    def reanchor(self, frame: np.ndarray, track_ids, boxes) -> bool:
        """Restart live tracks at new boxes, keeping their ids (used when a detection or
        proposal shows where a drifting track's object really is).

        Args:
            frame: ``(H, W, 3)`` uint8 BGR frame in which the boxes are given.
            track_ids: ``N`` live track ids.
            boxes: ``(N, 4)`` ``x, y, w, h`` in pixels.

        Returns:
            ``True`` when done; ``False`` when this tracker cannot (the default).
        """
        return False

    def reset(self) -> None:
        """Forget every track; ids start again at 1."""
        self.remove(list(self.track_ids))
        self._next_id = 1


class SingleObjectTracker(Tracker):
    """Lifts a tracker of one object to many by keeping one state per object.

    Subclasses implement :meth:`init_one` and :meth:`update_one`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._states: dict[int, Any] = {}

    @abstractmethod
    def init_one(self, frame: np.ndarray, box: np.ndarray) -> Any:
        """Return the state of a new object in ``box`` (``(4,)`` ``x, y, w, h``)."""

    @abstractmethod
    def update_one(self, state: Any, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """Advance one object's state to ``frame``; return its ``(4,)`` box and score."""

    def start(self, frame, boxes):
        """Start one state per box with :meth:`init_one`; returns the new ids in the order of ``boxes``."""
        boxes = as_boxes(boxes)
        ids = self.new_ids(len(boxes))
        for tid, box in zip(ids, boxes):
            self._states[tid] = self.init_one(frame, box.copy())
        return ids

    def update(self, frame):
        """Advance each object's state with :meth:`update_one`; one track per object."""
        tracks = []
        for tid, state in self._states.items():
            box, score = self.update_one(state, frame)
            tracks.append(Track(tid, np.asarray(box, dtype=np.float64), float(score)))
        return tracks

    def remove(self, track_ids):
        """Drop the states of ``track_ids`` (unknown ids are ignored)."""
        for tid in track_ids:
            self._states.pop(int(tid), None)

    def reanchor(self, frame, track_ids, boxes):
        """Start the live tracks among ``track_ids`` again at ``boxes`` with :meth:`init_one`."""
        for tid, box in zip(track_ids, as_boxes(boxes)):
            if int(tid) in self._states:
                self._states[int(tid)] = self.init_one(frame, box.copy())
        return True

    @property
    def track_ids(self):
        """Ids of the objects with a state."""
        return list(self._states)


def tracker_params(cls: type[Tracker]) -> list[ParamInfo]:
    """The keyword parameters of ``cls.__init__`` with their docstring help (Google style)."""
    return class_params(cls)


def create_tracker(name: str, options: dict[str, Any] | None = None) -> Tracker:
    """Build a registered tracker by name.

    Args:
        name: a registered ``tracker_id`` (see :func:`available_trackers`).
        options: constructor keyword arguments; string values are converted with the
            parameter's annotation, unknown names are an :class:`InputError`.
    """
    return TRACKERS.create(name, options)


def available_trackers() -> dict[str, type[Tracker]]:
    """All registered trackers, by id (imports them all; :meth:`TRACKERS.names
    <attentrack.tracker.registry.Registry.names>` lists the names without importing)."""
    return TRACKERS.classes()
