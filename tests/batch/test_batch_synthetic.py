"""The on-the-fly synthetic source: deterministic, boxes where the squares are, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from attentrack.tracker.errors import InputError
from attentrack.tracker.pipeline import run_tracking
from attentrack.tracker.sinks import MotTxtSink
from attentrack.tracker.sources import open_source
from attentrack.tracker.synthetic import SyntheticSource, SyntheticSpec
from attentrack.tracker.trackers.static import StaticTracker


def test_spec_parsing_and_canonical_text():
    s = SyntheticSpec.parse("synthetic:size=160x120,frames=50,seed=3")
    assert (s.frames, s.width, s.height, s.objects, s.seed) == (50, 160, 120, 2, 3)
    assert SyntheticSpec.parse(s.text) == s
    for bad in ("synthetic:frames=x", "synthetic:colour=3", "synthetic:size=10x10", "synthetic:frames=0"):
        with pytest.raises(InputError):
            SyntheticSpec.parse(bad)


def test_frames_are_a_function_of_the_index():
    a, b = SyntheticSource("synthetic:frames=30,size=96x64,objects=3"), open_source("synthetic:frames=30,size=96x64,objects=3")
    frames_a = [f for _, f in a]
    assert len(frames_a) == a.frame_count == 30 and frames_a[0].shape == (64, 96, 3) and frames_a[0].dtype == np.uint8
    assert np.array_equal(frames_a[17], b.frame(17))
    assert not np.array_equal(frames_a[0], frames_a[5])  # things move


def test_boxes_mark_the_squares_and_stay_inside():
    src = SyntheticSource("synthetic:frames=400,size=96x64,objects=2,seed=1")
    for i in (0, 57, 399):
        boxes = src.boxes(i)
        assert boxes.shape == (2, 4)
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 96).all() and (boxes[:, 1] + boxes[:, 3] <= 64).all()
        frame = src.frame(i)
        x, y, w, h = boxes[1].astype(int)  # the last square drawn is on top
        assert np.array_equal(frame[y:y + h, x:x + w], src._patches[1])


def _peak_traced_bytes(frames: int, tmp_path) -> int:
    src = SyntheticSource(f"synthetic:frames={frames},size=160x120,objects=2")
    tracemalloc.start()
    try:
        # one frame decoded ahead: with the default 8 the peak depends on how full the reader
        # thread's queue happens to get (up to 8 x 57 kB), which thread timing decides, not length
        run_tracking(src, StaticTracker(), [MotTxtSink(tmp_path / f"{frames}.txt")], init_boxes=src.boxes(0),
                     progress=False, prefetch_size=1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow_with_length(tmp_path):
    """Peak Python/numpy heap while tracking 2,000 frames is about that of 250 frames."""
    short, long = _peak_traced_bytes(250, tmp_path), _peak_traced_bytes(2000, tmp_path)
    assert long < 1.25 * short + 256 * 1024, (short, long)
