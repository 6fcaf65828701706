"""Cheap real invocations of the SQAIR commands, for the CLI smoke test in tests/tools."""

from __future__ import annotations

import shutil

TINY = ["--set", "hidden=16", "--set", "what_dim=4", "--set", "glimpse=8", "--set", "max_objects=2"]


def tiny_weights(tmp_path, canvas: int = 50):
    """A small untrained SQAIR weights file for a square canvas."""
    from attentrack.tracker.sqair.config import SQAIRConfig
    from attentrack.tracker.sqair.model import SQAIR, save_weights

    path = tmp_path / f"tiny{canvas}.pt"
    if not path.is_file():
        save_weights(SQAIR(SQAIRConfig(height=canvas, width=canvas, max_objects=2, glimpse=8, what_dim=4,
                                       hidden=16)), path)
    return path


def sqair_smoke_args(tmp_path, clip, data_dir_or_none):
    """``{command: args}`` (``None``: needs the data folder)."""
    seq = tmp_path / "cctv" / "SQUARE"
    (seq / "gt").mkdir(parents=True, exist_ok=True)
    if clip.exists() and not (seq / "square.avi").exists():
        shutil.copy(clip, seq / "square.avi")
    (seq / "gt" / "gt.txt").write_text(
        "".join(f"{i},1,{20 + 3 * (i - 1)},{30 + (i - 1)},24,24,1,-1,-1,-1\n" for i in range(1, 13)))
    data = None if data_dir_or_none is None else str(data_dir_or_none)
    return {
        "train sqair": None if data is None else [
            "train", "sqair", "--out", tmp_path / "sq", "--data", data, "--steps", "1", "--batch", "1",
            "--particles", "2", "--min-length", "2", "--max-length", "2", "--no-progress", *TINY],
        "eval sqair": None if data is None else [
            "eval", "sqair", "--weights", tiny_weights(tmp_path), "--data", data, "--sequences", "2",
            "--frames", "2", "--particles", "1", "--digits", "validation", "--json"],
        "eval sqair-cctv": ["eval", "sqair-cctv", seq, "--out", tmp_path / "cc", "--fit-steps", "1",
                            "-p", "canvas_width=32", "-p", "canvas_height=24", "-p", "max_objects=2",
                            "-p", "pretrain_steps=3", "--no-progress", "--json"],
        "bench sqair": ["bench", "sqair", clip, "--min-frames", "12", "--particles", "1", "--particles", "2", "--json"],
    }
