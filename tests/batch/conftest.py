"""Fixtures of the batch tests: small clips on disk and a comparison of output bytes."""

from __future__ import annotations

from pathlib import Path

import pytest


def _output_bytes(out_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(out_dir).iterdir())
            if p.is_file() and p.suffix in (".txt", ".jsonl") and not p.name.startswith(".")}


@pytest.fixture(scope="session")
def output_bytes():
    """``output_bytes(out_dir)``: ``{file name: bytes}`` of the per-video outputs in ``out_dir``
    (not the summary, whose timings differ run to run)."""
    return _output_bytes


@pytest.fixture
def clips(tmp_path, moving_square_frames, write_video):
    """Two short AVI clips of a moving square, in ``tmp_path/in``."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_video(folder / "a.avi", moving_square_frames(n=12))
    write_video(folder / "b.avi", moving_square_frames(n=15, box=(60, 40, 20, 20), step=(-2, 1)))
    return folder
