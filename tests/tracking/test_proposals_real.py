"""The MOG2 pipeline on real footage, at recorded size and on a 3x wider view (people three
times smaller): the same default settings must find and keep the people at both scales."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.datasets.mot import read_mot
from attentrack.datasets.wide_view import surround_from_samples, wide_view_frame, wide_view_rows
from attentrack.tracker.metrics.mot import evaluate_mot
from attentrack.tracker.proposals import MOG2Proposer
from attentrack.tracker.protocols.association import rows_from_tracks
from attentrack.tracker.runner import MultiObjectTracker
from attentrack.tracker.sources import open_source

pytestmark = pytest.mark.slow


def _idf1(frames: list[np.ndarray], gt, primed: bool) -> float:
    proposer = MOG2Proposer()
    if primed:
        proposer.prime(frames[::3])
    runner = MultiObjectTracker(None, proposer)
    rows = rows_from_tracks((i, runner.update(f)) for i, f in enumerate(frames))
    return evaluate_mot({"seq": gt}, {"seq": rows}).overall.idf1


def test_mog2_pipeline_keeps_people_at_recorded_size_and_three_times_smaller(data_dir):
    seq = data_dir / "mot15" / "TUD-Campus"
    frames = [f for _, f in open_source(str(seq / "TUD-Campus.mp4"))]
    gt = read_mot(seq / "gt" / "gt.txt", min_confidence=1)
    height, width = frames[0].shape[:2]
    surround = surround_from_samples(frames[::3], 3.0)
    wide = [wide_view_frame(f, surround, 3.0) for f in frames]
    wide_gt = wide_view_rows(gt, (width, height), 3.0)
    recorded, smaller = _idf1(frames, gt, True), _idf1(wide, wide_gt, True)
    assert recorded > 0.4 and smaller > 0.4, (recorded, smaller)
    assert abs(recorded - smaller) < 0.1  # no size in the pipeline is tied to the frame
    # people standing in the first frame are found at once only with the primed background
    assert _idf1(frames, gt, False) < recorded
