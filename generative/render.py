"""Pictures of generated images: sample grids, and frames of the canvas being drawn with
the write window on it (for :mod:`attentrack.generative.gif`)."""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
import torch

from attentrack.generative.draw import Drawing
from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.errors import InputError

WINDOW_COLOUR = (255, 0, 0)
"""RGB colour of the attention window (an entry of the GIF palette)."""


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """``[0, 1]`` intensities -> uint8 (0 black background, 255 ink)."""
    a = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    return np.clip(np.round(a * 255.0), 0, 255).astype(np.uint8)


def grid(images: np.ndarray, cols: int = 0, pad: int = 2, value: int = 128) -> np.ndarray:
    """Tile ``(N, H, W)`` or ``(N, H, W, 3)`` uint8 images in a grid (``cols`` 0: about square)."""
    n = len(images)
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    h, w = images.shape[1:3]
    shape = (rows * (h + pad) + pad, cols * (w + pad) + pad) + images.shape[3:]
    out = np.full(shape, value, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y:y + h, x:x + w] = img
    return out


def upscale(images: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling of ``(N, H, W[, 3])`` images."""
    if scale == 1:
        return images
    return images.repeat(scale, axis=1).repeat(scale, axis=2)


def drawing_frames(drawing: Drawing, scale: int = 4, cols: int = 0, windows: bool = True) -> list[np.ndarray]:
    """One RGB grid frame per step: every sample's canvas ``sigmoid(c_t)`` with its write
    window as a red rectangle (clipped to the canvas).

    Returns:
        ``T + 1`` frames ``(H', W', 3)`` uint8; the last repeats the final canvas without windows.
    """
    canvases = to_uint8(drawing.canvases)  # (T, B, H, W)
    t_steps, b, h, w = canvases.shape
    frames = []
    for t in range(t_steps + 1):
        tiles = []
        for i in range(b):
            img = upscale(canvases[min(t, t_steps - 1), i][None], scale)[0]
            rgb = np.stack([img, img, img], axis=2)
            if windows and t < t_steps:
                x, y, bw, bh = (drawing.write_boxes[t, i].cpu().numpy() * scale).tolist()
                if all(math.isfinite(v) for v in (x, y, bw, bh)):
                    cx = lambda v: int(round(max(0, min(v, w * scale - 1))))  # noqa: E731
                    cy = lambda v: int(round(max(0, min(v, h * scale - 1))))  # noqa: E731
                    p1, p2 = (cx(x), cy(y)), (cx(x + bw - 1), cy(y + bh - 1))
                    rgb = np.ascontiguousarray(rgb)
                    cv2.rectangle(rgb, p1, p2, WINDOW_COLOUR, 1)
            tiles.append(rgb)
        frames.append(grid(np.stack(tiles), cols))
    return frames


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a grey or RGB uint8 image as PNG, atomically."""
    bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:
        raise InputError(f"cannot encode {path} as PNG")
    with atomic_write(path, "wb") as fh:
        fh.write(buf.tobytes())
