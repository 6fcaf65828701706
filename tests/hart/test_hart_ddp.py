"""Data-parallel training: two CPU processes (gloo) started by torchrun, tiny model, 2 steps."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # two torchrun processes


def test_two_process_gloo_training(tmp_path, fake_mot_sequence):
    seq = fake_mot_sequence
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
