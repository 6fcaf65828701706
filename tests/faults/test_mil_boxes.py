"""OpenCV's MIL never hangs on a box: boxes it cannot describe are refused with one line, boxes at
the frame's edge are fitted, and the multi-object runner survives detections MIL cannot take."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from attentrack.tracker.errors import InputError
from attentrack.tracker.runner import MultiObjectTracker, RunnerSettings
from attentrack.tracker.trackers.mil import MILTracker, fit_for_mil, mil_can_take


def _haar_feature_fits(width: int, height: int) -> bool:
    """OpenCV's rule, enumerated: some feature of r x c equal cells, each ``bw x bh`` pixels, lies
    strictly inside the box (``x + c*bw < width``, ``y + r*bh < height``) and covers >= 9 pixels."""
    for rows, cols in ((2, 1), (1, 2), (4, 1), (1, 4), (2, 2)):
        for bh in range(1, height):
            for bw in range(1, width):
                if rows * bh < height and cols * bw < width and rows * bh * cols * bw >= 9:
                    return True
    return False


def test_size_rule_is_opencvs():
    for w in range(1, 14):
        for h in range(1, 14):
            assert mil_can_take(w, h) == _haar_feature_fits(w, h), (w, h)
    assert not mil_can_take(4, 4) and not mil_can_take(3, 3) and mil_can_take(5, 4) and mil_can_take(4, 40)


def test_edge_boxes_are_fitted_inside_the_frame():
    assert fit_for_mil((0, 0, 60, 120), 160, 120) == (0, 0, 60, 119)       # leaves the bottom row
    assert fit_for_mil((0, 0, 160, 120), 160, 120) == (0, 0, 154, 119)     # and 5 px to sample beside it
    assert fit_for_mil((20, 30, 24, 24), 160, 120) == (20, 30, 24, 24)     # inside: unchanged


def _frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (120, 160, 3), dtype=np.uint8)


def test_mil_refuses_tiny_boxes_and_takes_edge_boxes():
    with pytest.raises(InputError, match="too small for mil"):
        MILTracker().start(_frame(), [[10, 10, 4, 4]])
    tracker = MILTracker()
    ids = tracker.start(_frame(), [[0, 0, 60, 120], [0, 0, 160, 120], [100, 100, 5, 4]])
    assert len(tracker.update(_frame(1))) == len(ids) == 3


def test_runner_follows_a_detection_too_small_for_mil_without_the_model():
    runner = MultiObjectTracker(MILTracker(), settings=RunnerSettings(min_hits=1))
    runner.start(_frame(), [[20, 30, 24, 24]])
    for _ in range(3):  # a 3x3 detection appears: its track starts, MIL cannot follow it
        tracks = runner.update(_frame(), np.array([[20, 30, 24, 24], [100, 80, 3, 3]], dtype=float))
    assert sorted(t.box.tolist() for t in tracks) == [[20, 30, 24, 24], [100, 80, 3, 3]]


@pytest.mark.slow
def test_boxes_mil_accepts_never_hang_in_opencv():
    code = textwrap.dedent("""
        import numpy as np
        from attentrack.tracker.trackers.mil import MILTracker, mil_can_take
        frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
        sizes = [(w, h) for w in range(1, 9) for h in range(1, 9) if mil_can_take(w, h)] + [(3, 10), (10, 3)]
        for w, h in sizes:
            MILTracker().start(frame, [[50, 50, w, h]])
        print(len(sizes))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and int(out.stdout) > 30, out.stderr
