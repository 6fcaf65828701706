"""Data-parallel training: two CPU processes (gloo) started by torchrun, tiny model, 2 steps."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]


def _fake_mot_sequence(root: Path) -> Path:
    """A 12-frame MOTChallenge sequence with two moving squares (no real data needed)."""
    seq = root / "FAKE-01"
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    rows = []
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 120, (96, 128, 3), dtype=np.uint8)
    for f in range(1, 13):
        im = bg.copy()
        for tid, (x, y, c) in enumerate([(10 + 3 * f, 20, (0, 0, 255)), (90 - 2 * f, 50, (0, 255, 0))], 1):
            cv2.rectangle(im, (x, y), (x + 15, y + 25), c, -1)
            rows.append(f"{f},{tid},{x},{y},16,26,1,-1,-1,-1")
        cv2.imwrite(str(seq / "img1" / f"{f:06d}.jpg"), im)
    (seq / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    return seq


def test_two_process_gloo_training(tmp_path):
    seq = _fake_mot_sequence(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "attentrack.tools.train_cmd", "hart", "--data", str(seq), "--out", str(out), "--assets", "none",
           "--steps", "2", "--tokens", "8", "--min-length", "4", "--max-length", "4", "--workers", "0",
           "--threads", "1", "--val-every", "0", "--no-progress", "--glimpse-size", "16",
           "--set", "backbone_width=4", "--set", "rnn_units=16"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2
    payload = torch.load(out / "hart.pt", weights_only=True)
    assert payload["config"]["rnn_units"] == 16
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 2
