"""Held-out evaluation of HART against the ``static`` and ``mil`` baselines.

Runs :func:`attentrack.tracker.metrics.sot_runs.run_sot` (every ground-truth track started at its first box)
and prints mean IoU and success AUC per sequence::

    python -m attentrack.tracker.hart.evaluate                       # TUD-Campus, Crossing, bag
    python -m attentrack.tracker.hart.evaluate --weights runs/hart/hart.pt --model hart
    python -m attentrack.tracker.hart.evaluate SEQ_DIR ... --json out.json

The default sequences are those no HART training here used: ``mot15/TUD-Campus``,
``sot/Crossing`` and ``sot/bag`` of the attentrack data folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HELD_OUT = ("mot15/TUD-Campus", "sot/Crossing", "sot/bag")


def evaluate(sequences: list[str], models: list[str], weights: str = "", options: dict | None = None) -> list[dict]:
    """Rows ``{model, sequence, mean_iou, auc, tracks, frames, fps}`` (plus an ``all`` row per model)."""
    from attentrack.datasets.sequence import open_sequence
    from attentrack.tracker.metrics.sot import combine_sot
    from attentrack.tracker.metrics.sot_runs import run_sot

    seqs = [open_sequence(p) for p in sequences]
    rows = []
    for m in models:
        opts = dict(options or {})
        if m == "hart" and weights:
            opts["weights"] = weights
        results = []
        for s in seqs:
            r = run_sot(m, s, opts if m == "hart" else None)
            results.append(r)
            rows.append(_row(r))
        if len(results) > 1:
            rows.append(_row(combine_sot(results)))
    return rows


def _row(r) -> dict:
    return {"model": r.model, "sequence": r.sequence, "mean_iou": round(r.mean_iou, 4), "auc": round(r.auc, 4),
            "tracks": r.tracks, "frames": r.scored_frames, "fps": round(r.fps, 1)}


def format_rows(rows: list[dict]) -> str:
    """A plain-text table."""
    head = f"{'model':<8} {'sequence':<14} {'mean IoU':>8} {'AUC':>7} {'tracks':>6} {'frames':>6} {'obj-fps':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<8} {r['sequence']:<14} {r['mean_iou']:>8.3f} {r['auc']:>7.3f} {r['tracks']:>6} "
                     f"{r['frames']:>6} {r['fps']:>8.1f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command-line entry point."""
    import torch

    from attentrack.datasets.paths import data_root

    ap = argparse.ArgumentParser(prog="python -m attentrack.tracker.hart.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("sequences", nargs="*", help="sequence folders (default: the held-out ones)")
    ap.add_argument("--model", action="append", dest="models", help="static, mil, hart (repeatable; default all)")
    ap.add_argument("--weights", default="", help="HART weights (default: shipped)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default="", help="also write the rows here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seqs = args.sequences
    if not seqs:
        root = data_root(required=True)
        seqs = [str(root / s) for s in HELD_OUT]
    models = args.models or ["static", "mil", "hart"]
    t0 = time.time()
    rows = evaluate(seqs, models, args.weights)
    print(format_rows(rows))
    print(f"({time.time() - t0:.0f} s)", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
