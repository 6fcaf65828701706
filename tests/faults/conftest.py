"""Fixtures of the fault tests: the command line run in this process, and a small clip."""

from __future__ import annotations

import contextlib
import io

import pytest

from attentrack.tools.faults import write_clip


@pytest.fixture
def cli():
    """``cli(args) -> (exit status, stdout, stderr)``: ``attentrack ARGS`` run in this process."""
    from attentrack.tools.cli import main

    def run(args):
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return code, out.getvalue(), err.getvalue()

    return run


@pytest.fixture
def clip(tmp_path):
    """A 30-frame 160x120 MJPG clip of a square at 20,30,24,24 (``attentrack.tools.faults.write_clip``)."""
    path = tmp_path / "clip.avi"
    write_clip(path)
    return path
