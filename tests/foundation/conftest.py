"""Small synthetic clips written on the fly for the foundation tests."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def moving_square_frames(n: int = 20, size=(160, 120), box=(20, 30, 24, 24), step=(3, 1)) -> list[np.ndarray]:
    """``n`` BGR frames of a square with a sharp random checker texture moving by ``step`` pixels per frame over a
    textured background; the square's box at frame ``i`` is ``box + i * step`` (clipped to the frame)."""
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


def write_video(path, frames, fps: float = 10.0) -> None:
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert vw.isOpened()
    for f in frames:
        vw.write(f)
    vw.release()


@pytest.fixture
def square_clip(tmp_path):
    """``(video_path, frames)``: an MJPG avi of a moving square."""
    frames = moving_square_frames()
    path = tmp_path / "square.avi"
    write_video(path, frames)
    return path, frames


@pytest.fixture
def square_folder(tmp_path):
    """``(folder, frames)``: the same clip as PNG files in ``folder/img1``."""
    frames = moving_square_frames()
    folder = tmp_path / "SEQ"
    (folder / "img1").mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / "img1" / f"{i + 1:06d}.png"), f)
    return folder, frames
