"""Small synthetic clips written on the fly for the foundation tests (the clip maker is the
``moving_square_frames`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import cv2
import pytest


@pytest.fixture
def square_clip(tmp_path, moving_square_frames, write_video):
    """``(video_path, frames)``: an MJPG avi of a moving square."""
    frames = moving_square_frames()
    path = tmp_path / "square.avi"
    write_video(path, frames)
    return path, frames


@pytest.fixture
def square_folder(tmp_path, moving_square_frames):
    """``(folder, frames)``: the same clip as PNG files in ``folder/img1``."""
    frames = moving_square_frames()
    folder = tmp_path / "SEQ"
    (folder / "img1").mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / "img1" / f"{i + 1:06d}.png"), f)
    return folder, frames
