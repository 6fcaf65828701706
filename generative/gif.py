"""A minimal animated-GIF writer (GIF89a, LZW-compressed, one global palette), in numpy.

OpenCV cannot write GIF; this avoids a dependency. The palette holds 240 grey levels and 16
fixed colours (:data:`COLOURS`) for annotations such as attention windows: grey pixels keep
their level (to 240 steps), coloured pixels take the nearest palette colour.
"""

from __future__ import annotations

import os
import struct
from typing import Sequence

import numpy as np

from attentrack.tracker.atomic import atomic_write

GREYS = 240
COLOURS = np.array([
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (255, 128, 0),
    (128, 0, 255), (0, 128, 255), (255, 0, 128), (128, 255, 0), (0, 255, 128), (128, 0, 0), (0, 128, 0),
    (0, 0, 128), (128, 128, 0)], np.int32)
"""RGB colours of palette entries 240-255."""


def palette() -> np.ndarray:
    """``(256, 3)`` uint8 RGB: 240 greys then :data:`COLOURS`."""
    g = np.round(np.arange(GREYS) * 255.0 / (GREYS - 1)).astype(np.int32)
    return np.concatenate([np.stack([g, g, g], 1), COLOURS]).astype(np.uint8)


def quantise(frame: np.ndarray) -> np.ndarray:
    """Palette indices of an ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8 frame -> ``(H, W)`` uint8."""
    f = np.asarray(frame)
    if f.ndim == 2:
        f = np.stack([f, f, f], axis=2)
    f = f.astype(np.int32)
    grey = (f[..., 0] == f[..., 1]) & (f[..., 1] == f[..., 2])
    out = np.round(f[..., 0] * (GREYS - 1) / 255.0).astype(np.uint8)
    if not grey.all():
        pal = palette().astype(np.int32)
        col = f[~grey]  # (K, 3)
        d = ((col[:, None, :] - pal[None]) ** 2).sum(2)
        out[~grey] = d.argmin(1).astype(np.uint8)
    return out


def lzw_encode(indices: np.ndarray, min_code_size: int = 8) -> bytes:
    """GIF's variable-length LZW code stream (LSB-first bits, not yet split into sub-blocks).

    Starts with a clear code, grows the code size up to 12 bits, and emits a clear code and
    starts a new table when the table is full.
    """
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    out = bytearray()
    acc = nbits = 0

    def emit(code: int, size: int) -> None:
        nonlocal acc, nbits
        acc |= code << nbits
        nbits += size
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8

    table: dict[tuple[int, int], int] = {}
    size, next_code = min_code_size + 1, end + 1
    emit(clear, size)
    data = np.asarray(indices, np.uint8).ravel().tolist()
    if not data:
        emit(end, size)
    else:
        prefix = data[0]
        for k in data[1:]:
            key = (prefix, k)
            code = table.get(key)
            if code is not None:
                prefix = code
                continue
            emit(prefix, size)
            if next_code < 4096:
                table[key] = next_code
                if next_code == (1 << size) and size < 12:
                    size += 1
                next_code += 1
            else:
                emit(clear, size)
                table.clear()
                size, next_code = min_code_size + 1, end + 1
            prefix = k
        emit(prefix, size)
        emit(end, size)
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def _sub_blocks(data: bytes) -> bytes:
    parts = [bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255)]
    return b"".join(parts) + b"\x00"


def encode_gif(frames: Sequence[np.ndarray], delay_ms: int = 100, loop: int = 0) -> bytes:
    """An animated GIF of equal-size frames.

    Args:
        frames: ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8 frames.
        delay_ms: time per frame (GIF stores hundredths of a second).
        loop: repetitions (0: forever).

    Raises:
        ValueError: no frames, or frames of different sizes.
    """
    if not len(frames):
        raise ValueError("a GIF needs at least one frame")
    h, w = np.asarray(frames[0]).shape[:2]
    if not (0 < h < 65536 and 0 < w < 65536):
        raise ValueError(f"frame size {w}x{h} out of range")
    buf = bytearray(b"GIF89a")
    buf += struct.pack("<HHBBB", w, h, 0xF7, 0, 0)  # global 256-colour table
    buf += palette().tobytes()
    buf += b"\x21\xFF\x0BNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00"
    for f in frames:
        f = np.asarray(f)
        if f.shape[:2] != (h, w):
            raise ValueError(f"frame of size {f.shape[1]}x{f.shape[0]}, expected {w}x{h}")
        buf += b"\x21\xF9\x04\x00" + struct.pack("<H", max(0, round(delay_ms / 10))) + b"\x00\x00"
        buf += b"\x2C" + struct.pack("<HHHHB", 0, 0, w, h, 0)
        buf += b"\x08" + _sub_blocks(lzw_encode(quantise(f)))
    buf += b"\x3B"
    return bytes(buf)


def write_gif(path: str | os.PathLike, frames: Sequence[np.ndarray], delay_ms: int = 100, loop: int = 0) -> None:
    """Write :func:`encode_gif` to ``path`` atomically."""
    data = encode_gif(frames, delay_ms, loop)
    with atomic_write(path, "wb") as fh:
        fh.write(data)
