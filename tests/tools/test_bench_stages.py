"""``attentrack bench track`` splits a tracker's frame time into the stages it times."""

from __future__ import annotations

import json

import numpy as np
import pytest

from attentrack.tools.bench_cmd import BenchRow, format_stages
from attentrack.tracker.trackers.hart import STAGES, HARTTracker


def test_hart_times_every_stage_of_update():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(4)]
    tracker = HARTTracker(weights="fast", device="cpu", engine="eager")
    tracker.start(frames[0], [[20, 30, 24, 40], [70, 20, 30, 30]])
    assert tracker.stage_seconds == {}  # start is not an update
    for f in frames[1:]:
        tracker.update(f)
    assert list(tracker.stage_seconds) == list(STAGES)
    assert all(v > 0 for v in tracker.stage_seconds.values())
    tracker.stage_seconds.clear()
    tracker.update(frames[0])
    assert set(tracker.stage_seconds) == set(STAGES)


def test_stage_table_gives_the_rest_of_the_frame():
    rows = [BenchRow("decode only", 0, 100, 0.1, 10.0),
            BenchRow("hart", 1, 100, 0.5, 50.0, stage_seconds={"pyramid": 0.1, "network": 0.2})]
    table = format_stages(rows).splitlines()
    assert table[0].startswith("milliseconds per frame")
    cells = table[-1].split()
    assert cells[0] == "hart" and [float(c) for c in cells[2:]] == pytest.approx([1.0, 2.0, 2.0, 5.0])
    assert format_stages(rows[:1]) == ""


@pytest.mark.slow
def test_bench_reports_stages_of_hart(clip, run_cli):
    code, out, err = run_cli(["bench", "track", clip, "-m", "hart", "-p", "weights=fast", "--min-frames", "12",
                              "--warmup", "2", "--objects", "2", "--json"])
    assert code == 0, err
    rows = {r["what"]: r for r in json.loads(out)}
    assert set(rows["hart"]["stage_seconds"]) == set(STAGES)
    assert rows["decode only"]["stage_seconds"] == {}
    assert sum(rows["hart"]["stage_seconds"].values()) < rows["hart"]["seconds"]
