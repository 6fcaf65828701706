"""Frame sources and box layouts used by the benchmarks."""

from __future__ import annotations

import numpy as np


class RepeatedSource:
    """A frame source played ``repeats`` times in a row (indices keep counting)."""

    def __init__(self, source, repeats: int) -> None:
        self.source, self.repeats = source, repeats
        self.name, self.fps, self.size, self.live = source.name, source.fps, source.size, False
        self.frame_count = None if source.frame_count is None else source.frame_count * repeats

    def __iter__(self):
        offset = 0
        for _ in range(self.repeats):
            n = 0
            for i, frame in self.source:
                yield offset + i, frame
                n = i + 1
            offset += n


def grid_boxes(n: int, width: int, height: int) -> np.ndarray:
    """``n`` non-overlapping ``x, y, w, h`` boxes (pixels) on a grid covering a ``width x height`` frame."""
    cols = int(np.ceil(np.sqrt(n * width / height)))
    rows = int(np.ceil(n / cols))
    cw, ch = width / cols, height / rows
    boxes = [[c * cw + cw * 0.2, r * ch + ch * 0.15, cw * 0.6, ch * 0.7] for r in range(rows) for c in range(cols)]
    return np.asarray(boxes[:n], dtype=float)
