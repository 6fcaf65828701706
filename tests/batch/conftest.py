"""Helpers for the batch tests: small clips on disk and a comparison of output bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.foundation.conftest import moving_square_frames, write_video


def output_bytes(out_dir: Path) -> dict[str, bytes]:
    """``{file name: bytes}`` of the per-video outputs in ``out_dir`` (not the summary, whose
    timings differ run to run)."""
    return {p.name: p.read_bytes() for p in sorted(Path(out_dir).iterdir())
            if p.is_file() and p.suffix in (".txt", ".jsonl") and not p.name.startswith(".")}


@pytest.fixture
def clips(tmp_path):
    """Two short AVI clips of a moving square and a corrupt one, in ``tmp_path/in``."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_video(folder / "a.avi", moving_square_frames(n=12))
    write_video(folder / "b.avi", moving_square_frames(n=15, box=(60, 40, 20, 20), step=(-2, 1)))
    return folder
