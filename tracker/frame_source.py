"""``FrameSource``: the interface every frame source implements (files, folders, cameras and
streams in :mod:`attentrack.tracker.sources`, generated clips in
:mod:`attentrack.tracker.synthetic`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator

import numpy as np


class FrameSource(ABC):
    """An ordered stream of frames.

    Attributes:
        name: a short name (file stem, folder name, ``camera0`` ...).
        fps: frames per second (the container's, or 25 when unknown).
        size: ``(width, height)`` in pixels of the first frame.
        frame_count: number of frames, or ``None`` for live streams.
        live: ``True`` for cameras and network streams.
    """

    name: str = "source"
    fps: float = 25.0
    size: tuple[int, int] = (0, 0)
    frame_count: int | None = None
    live: bool = False

    @abstractmethod
    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_index, frame)`` from the start."""
