"""Child process of ``attentrack bench``: measure one configuration in a fresh interpreter.

Reads a job as JSON on stdin and prints ``{"frames", "seconds", "peak_mb"}`` or
``{"error"}`` as JSON on stdout. Run as ``python -m tools.bench_worker``; a fresh process
per row keeps each row's peak resident memory its own.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def measure_job(job: dict) -> dict:
    """Run one job (keys: clip, repeats, model or None, objects, params, device, threads)."""
    import torch

    from tools.bench_sources import RepeatedSource, grid_boxes
    from tracker.sources import open_source

    torch.set_num_threads(int(job["threads"]))
    source = RepeatedSource(open_source(job["clip"]), int(job["repeats"]))
    if job["model"] is None:  # decode only
        t0 = time.perf_counter()
        frames = sum(1 for _ in source)
        seconds = time.perf_counter() - t0
    else:
        from tools.options import model_options
        from tracker.base import create_tracker
        from tracker.pipeline import run_tracking
        from tracker.sinks import MotTxtSink

        tracker = create_tracker(job["model"], model_options(job["model"], job["params"], device=job["device"]))
        boxes = grid_boxes(int(job["objects"]), *source.size)
        with tempfile.TemporaryDirectory() as tmp:
            summary = run_tracking(source, tracker, [MotTxtSink(Path(tmp) / "out.txt")], init_boxes=boxes,
                                   progress=False)
        frames, seconds = summary.frames, summary.seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"frames": frames, "seconds": seconds, "peak_mb": peak_mb}


def main() -> int:
    job = json.loads(sys.stdin.read())
    try:
        result = measure_job(job)
    except Exception as exc:  # reported by the parent as one line
        result = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
