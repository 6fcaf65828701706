"""Child process of ``attentrack bench``: measure one configuration in a fresh interpreter.

Reads a job as JSON on stdin and prints ``{"frames", "seconds", "peak_mb"}`` or
``{"error"}`` as JSON on stdout. Run as ``python -m attentrack.tools.bench_worker``; a fresh process
per row keeps each row's peak resident memory its own.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path


class _ClockSink:
    """A sink that notes when the tracker has finished frame ``mark`` (0-based), and then
    restarts the tracker's stage timings (``Tracker.stage_seconds``) so they cover the timed
    frames only."""

    def __init__(self, mark: int) -> None:
        self.mark, self.at = mark, None
        self.tracker = None  # set once the tracker is built (the decode-only row has none)

    def write(self, frame_index, frame, tracks):
        if frame_index == self.mark:
            self.at = time.perf_counter()
            getattr(self.tracker, "stage_seconds", {}).clear()

    def close(self):
        return []

    def abort(self):
        pass


def measure_job(job: dict) -> dict:
    """Run one job (keys: clip, repeats, model or None, objects, params, device, threads,
    warmup). Frames/s are timed after the first ``warmup`` frames (start-up: the first frame,
    compiling graphs); ``warmup_seconds`` is how long those frames took; ``stage_seconds``
    the timed frames' seconds in each stage the tracker times (empty if none)."""
    import torch

    from attentrack.tools.bench_sources import RepeatedSource, grid_boxes
    from attentrack.tracker.sources import open_source

    torch.set_num_threads(int(job["threads"]))
    warmup = int(job.get("warmup", 0))
    source = RepeatedSource(open_source(job["clip"]), int(job["repeats"]))
    clock = _ClockSink(warmup - 1)  # mark -1 (no warm-up): never reached
    stages: dict = {}
    if job["model"] is None:  # decode only
        t0 = time.perf_counter()
        frames = 0
        for index, frame in source:
            clock.write(index, frame, [])
            frames += 1
        end = time.perf_counter()
    else:
        from attentrack.tools.options import model_options
        from attentrack.tracker.base import create_tracker
        from attentrack.tracker.pipeline import run_tracking
        from attentrack.tracker.sinks import MotTxtSink

        tracker = create_tracker(job["model"], model_options(job["model"], job["params"], device=job["device"]))
        boxes = grid_boxes(int(job["objects"]), *source.size)
        clock.tracker = tracker
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            summary = run_tracking(source, tracker, [MotTxtSink(Path(tmp) / "out.txt"), clock], init_boxes=boxes,
                                   progress=False)
        frames, end = summary.frames, t0 + summary.seconds
        stages = dict(getattr(tracker, "stage_seconds", {}))  # a tracker may not call Tracker.__init__
    warmed = clock.at is not None  # False also when the run was shorter than the warm-up
    start = clock.at if warmed else t0
    timed = frames - warmup if warmed else frames
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"frames": timed, "seconds": end - start, "peak_mb": peak_mb, "warmup_seconds": start - t0,
            "stage_seconds": stages}


def main() -> int:
    """Measure the job read as JSON from stdin and write the result (or a one-line error) as JSON to stdout."""
    job = json.loads(sys.stdin.read())
    try:
        result = measure_job(job)
    except Exception as exc:  # reported by the parent as one line
        result = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
