"""Fixtures of the fault tests: the command line run in this process, and a small clip."""

from __future__ import annotations

import pytest

from attentrack.tools.faults import write_clip


@pytest.fixture
def cli(run_cli):
    """``cli(args) -> (exit status, stdout, stderr)``: ``attentrack ARGS`` run in this process."""
    return run_cli


@pytest.fixture
def clip(tmp_path):
    """A 30-frame 160x120 MJPG clip of a square at 20,30,24,24 (``attentrack.tools.faults.write_clip``)."""
    path = tmp_path / "clip.avi"
    write_clip(path)
    return path
