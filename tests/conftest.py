"""Shared fixtures: the real data folder (tests skip with a reason when it is absent), small
synthetic clips, the in-process CLI runner, cheap real invocations of the commands, and one
torch thread.

Test modules never import each other or a conftest: what they share is a fixture here (or in
a package's ``conftest.py``). Helpers that tests call with arguments are fixtures returning the
function, e.g. ``def test_x(run_cli): code, out, err = run_cli(["models"])``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

from attentrack.datasets.paths import data_root  # noqa: E402


@pytest.fixture(scope="session")
def data_dir():
    """``../shared/data`` (or ``$ATTENTRACK_DATA``); skips the test when absent."""
    root = data_root()
    if root is None:
        pytest.skip("real data folder not found: set ATTENTRACK_DATA or place ../shared/data beside the checkout")
    return root


@pytest.fixture
def one_thread():
    """Run the test's tensor work on one torch thread (on a busy machine, a second spinning
    thread makes tiny ops many times slower, and one thread gives the same sums every run);
    restore the setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- synthetic clips --------------------------------------------------------------------------
def _moving_square_frames(n: int = 20, size=(160, 120), box=(20, 30, 24, 24), step=(3, 1)) -> list:
    """``n`` ``(H, W, 3)`` uint8 BGR frames of ``size = (W, H)`` pixels: a square with a sharp
    random checker texture moving by ``step`` pixels per frame over a textured background; the
    square's ``x, y, w, h`` box at frame ``i`` is ``box + i * step`` (clipped to the frame)."""
    import cv2
    import numpy as np

    w, h = size
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.uniform(40, 140, (h, w, 3)), (0, 0), 3).astype(np.uint8)
    cells = rng.integers(0, 2, (box[3] // 5 + 1, box[2] // 5 + 1, 1)) * 200 + 30  # a sharp 5-px checker
    patch = np.kron(cells, np.ones((5, 5, 3)))[:box[3], :box[2]].astype(np.uint8)
    frames = []
    for i in range(n):
        f = background.copy()
        x, y = box[0] + i * step[0], box[1] + i * step[1]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + box[2], w), min(y + box[3], h)
        if x1 > x0 and y1 > y0:
            f[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]
        frames.append(f)
    return frames


def _write_video(path, frames, fps: float = 10.0) -> None:
    """Write BGR ``frames`` to ``path`` as an MJPG video at ``fps`` frames per second."""
    import cv2

    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert vw.isOpened()
    for f in frames:
        vw.write(f)
    vw.release()


@pytest.fixture(scope="session")
def moving_square_frames():
    """The clip maker ``moving_square_frames(n=20, size=(160, 120), box=(20, 30, 24, 24),
    step=(3, 1))``: ``n`` BGR frames of a textured square whose box at frame ``i`` is
    ``box + i * step``."""
    return _moving_square_frames


@pytest.fixture(scope="session")
def write_video():
    """``write_video(path, frames, fps=10.0)``: BGR frames to an MJPG video file."""
    return _write_video


@pytest.fixture
def clip(tmp_path):
    """``tmp_path/clip.avi``: 12 frames (160 x 120) of the moving square, whose box at frame
    ``i`` is ``20 + 3i, 30 + i, 24, 24``."""
    path = tmp_path / "clip.avi"
    _write_video(path, _moving_square_frames(n=12))
    return path


# -- the command line -------------------------------------------------------------------------
def _run_cli(args, entry=None):
    """Run the CLI in-process; returns ``(exit_code, stdout, stderr)``."""
    from attentrack.tools.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            (entry or main)([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def run_cli():
    """``run_cli(args, entry=attentrack.tools.cli.main)``: run the CLI in-process (arguments
    may be paths); returns ``(exit_code, stdout, stderr)``."""
    return _run_cli


_TINY_SQAIR = ["--set", "hidden=16", "--set", "what_dim=4", "--set", "glimpse=8", "--set", "max_objects=2"]


def _tiny_sqair_weights(tmp_path, canvas: int = 50):
    """A small untrained SQAIR weights file for a ``canvas`` x ``canvas`` pixel canvas, in
    ``tmp_path`` (written once)."""
    from attentrack.tracker.sqair.config import SQAIRConfig
    from attentrack.tracker.sqair.model import SQAIR, save_weights

    path = tmp_path / f"tiny{canvas}.pt"
    if not path.is_file():
        save_weights(SQAIR(SQAIRConfig(height=canvas, width=canvas, max_objects=2, glimpse=8, what_dim=4,
                                       hidden=16)), path)
    return path


@pytest.fixture(scope="session")
def tiny_sqair_weights():
    """``tiny_sqair_weights(tmp_path, canvas=50)``: the path of a small untrained SQAIR weights
    file for a square canvas."""
    return _tiny_sqair_weights


def _sqair_smoke_args(tmp_path, clip, data_dir_or_none):
    """``{command: argv}`` of cheap real SQAIR invocations (``None``: needs the data folder)."""
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
            "--particles", "2", "--min-length", "2", "--max-length", "2", "--no-progress", *_TINY_SQAIR],
        "eval sqair": None if data is None else [
            "eval", "sqair", "--weights", _tiny_sqair_weights(tmp_path), "--data", data, "--sequences", "2",
            "--frames", "2", "--particles", "1", "--digits", "validation", "--json"],
        "eval sqair-cctv": ["eval", "sqair-cctv", seq, "--out", tmp_path / "cc", "--fit-steps", "1",
                            "-p", "canvas_width=32", "-p", "canvas_height=24", "-p", "max_objects=2",
                            "-p", "pretrain_steps=3", "--no-progress", "--json"],
        "bench sqair": ["bench", "sqair", clip, "--min-frames", "12", "--particles", "1", "--particles", "2", "--json"],
    }


@pytest.fixture(scope="session")
def sqair_smoke_args():
    """``sqair_smoke_args(tmp_path, clip, data_dir_or_none)``: ``{command: argv}`` of cheap real
    invocations of the SQAIR commands on the ``clip`` fixture's video (``None``: the command
    needs the data folder); they write under ``tmp_path``."""
    return _sqair_smoke_args
