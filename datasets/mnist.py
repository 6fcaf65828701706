"""Handwritten digits: MNIST IDX files, MNIST as CSV, and OpenCV's ``digits.png`` sheet.

IDX format (big-endian): two zero bytes, a type code, the number of dimensions ``D``,
then ``D`` 32-bit sizes, then the values in C order. Type codes: ``0x08`` uint8,
``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64.
MNIST images are ``idx3`` ``(N, 28, 28)`` uint8 (0 background, 255 ink), labels
``idx1`` ``(N,)`` uint8. Files may be gzipped (detected from the content, not the name).
"""

from __future__ import annotations

import gzip
import io
import os
import struct
from pathlib import Path

import cv2
import numpy as np

from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.errors import InputError

_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: code for code, dt in _IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"

MNIST_SIZE = 28
DIGITS_CELL = 20
"""Side in pixels of one digit cell of OpenCV's ``digits.png``."""


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic."""
    if not path.is_file():
        raise InputError(f"file not found: {path}")
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: corrupt gzip data ({exc})") from None
    return data


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzipped) into an array.

    Args:
        path: e.g. ``t10k-images-idx3-ubyte.gz``.

    Returns:
        The array in native byte order, with the shape stored in the file (MNIST images:
        ``(N, 28, 28)`` uint8; labels: ``(N,)`` uint8).

    Raises:
        InputError: a missing file, a bad magic number or type code, or a size that does
            not match the data (truncated file).
    """
    p = Path(path)
    data = _read_bytes(p)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise InputError(f"{p}: not an IDX file (bad magic number)")
    code, ndim = data[2], data[3]
    if code not in _IDX_TYPES:
        raise InputError(f"{p}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(f"{p}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise InputError(
            f"{p}: IDX sizes {'x'.join(map(str, dims))} need {expected} bytes of data,"
            f" file has {len(data) - header}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array, compress: bool | None = None) -> None:
    """Write an array as an IDX file (atomically).

    Args:
        path: the file to write.
        array: any shape with at most 255 dimensions; dtype uint8, int8, int16, int32,
            float32 or float64.
        compress: gzip the file; ``None`` compresses when ``path`` ends in ``.gz``.

    Raises:
        InputError: an unsupported dtype.
    """
    a = np.ascontiguousarray(array)
    dtype = a.dtype.newbyteorder("=") if a.dtype.itemsize > 1 else a.dtype
    code = _IDX_CODES.get(dtype)
    if code is None:
        raise InputError(f"IDX cannot store dtype {a.dtype}")
    if a.ndim > 255:
        raise InputError("IDX stores at most 255 dimensions")
    header = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    body = a.astype(_IDX_TYPES[code], copy=False).tobytes()
    if compress is None:
        compress = str(path).endswith(".gz")
    with atomic_write(path, "wb") as fh:
        if compress:
            with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
                gz.write(header)
                gz.write(body)
        else:
            fh.write(header)
            fh.write(body)


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise InputError(f"MNIST file {stem}[.gz] not found in {root}")


def load_mnist(root: str | os.PathLike, split: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """Load an MNIST split from its IDX files.

    Args:
        root: folder holding ``{split}-images-idx3-ubyte[.gz]`` and
            ``{split}-labels-idx1-ubyte[.gz]``.
        split: ``"t10k"`` (test, 10,000 digits) or ``"train"`` (60,000).

    Returns:
        ``(images, labels)``: ``(N, 28, 28)`` uint8 (0 background, 255 ink) and ``(N,)``
        int64 digits 0-9.

    Raises:
        InputError: missing or malformed files, or image and label counts that differ.
    """
    r = Path(root)
    images = read_idx(_find(r, f"{split}-images-idx3-ubyte"))
    labels = read_idx(_find(r, f"{split}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1:
        raise InputError(f"{r}: MNIST images must be idx3 and labels idx1")
    if len(images) != len(labels):
        raise InputError(f"{r}: {len(images)} MNIST images but {len(labels)} labels")
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)


def _bad_csv_line(path: Path, text: str, ncols: int, skip: int) -> InputError:
    """Locate the first malformed line (after ``skip`` header lines) of a CSV numpy refused."""
    for lineno, line in enumerate(text.splitlines()[skip:], 1 + skip):
        if not line.strip():
            continue
        parts = line.strip().split(",")
        if len(parts) != ncols:
            return InputError(f"{path}:{lineno}: expected {ncols} values, got {len(parts)}")
        for t in parts:
            try:
                int(t)
            except ValueError:
                return InputError(f"{path}:{lineno}: not an integer: {t[:20]!r}")
    return InputError(f"{path}: malformed CSV")


def read_mnist_csv(path: str | os.PathLike, label_column: int = -1,
                   side: int = MNIST_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Read digits stored one per CSV row (plain or gzipped).

    Each row holds ``side * side`` pixel values 0-255 in row-major order and the label;
    a first line that is not numeric (a header) is skipped.

    Args:
        path: e.g. ``mnist_5k.csv.gz`` (784 pixels, then the label).
        label_column: where the label is: ``-1`` (last, as in ``mnist_5k.csv``) or ``0``
            (first, as in Kaggle's ``train.csv``).
        side: image side in pixels.

    Returns:
        ``(images, labels)``: ``(N, side, side)`` uint8 and ``(N,)`` int64.

    Raises:
        InputError: a missing file, a row with the wrong number of values or a
            non-numeric value (naming the 1-based line number), or a pixel outside 0-255.
    """
    p = Path(path)
    text = _read_bytes(p).decode("utf-8", errors="replace")
    ncols = side * side + 1
    skip = 0
    first = text.split("\n", 1)[0].split(",")[0].strip()
    try:
        float(first)
    except ValueError:
        skip = 1
    try:
        a = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, skiprows=skip, ndmin=2)
    except ValueError:
        raise _bad_csv_line(p, text, ncols, skip) from None
    if a.size == 0:
        return np.zeros((0, side, side), np.uint8), np.zeros(0, np.int64)
    if a.shape[1] != ncols:
        raise InputError(f"{p}:{1 + skip}: expected {ncols} values, got {a.shape[1]}")
    labels = a[:, label_column]
    pixels = np.delete(a, label_column % ncols, axis=1)
    if pixels.min() < 0 or pixels.max() > 255:
        row = int(np.flatnonzero((pixels < 0).any(1) | (pixels > 255).any(1))[0])
        raise InputError(f"{p}:{row + 1 + skip}: pixel value outside 0-255")
    return pixels.astype(np.uint8).reshape(-1, side, side), labels.astype(np.int64)


def read_opencv_digits(path: str | os.PathLike, cell: int = DIGITS_CELL,
                       per_class: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Cut OpenCV's ``digits.png`` sheet into digit cells.

    The sheet is ``2000 x 1000`` pixels (width x height) of ``20 x 20`` cells: 100 cells
    per row, 50 rows; each digit class fills ``per_class / 100 = 5`` consecutive rows
    (rows 0-4 are zeros, 5-9 ones, ...).

    Args:
        path: the sheet (read as greyscale).
        cell: cell side in pixels.
        per_class: cells per class.

    Returns:
        ``(images, labels)``: ``(N, cell, cell)`` uint8 (0 background, 255 ink), in
        row-major order of the sheet, and ``(N,)`` int64 labels.

    Raises:
        InputError: a missing or unreadable image, or a size that is not a whole number
            of cells and classes.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"file not found: {p}")
    sheet = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
    if sheet is None:
        raise InputError(f"cannot read image {p} (corrupt or not an image)")
    h, w = sheet.shape
    if h % cell or w % cell:
        raise InputError(f"{p}: {w}x{h} sheet is not a whole number of {cell}x{cell} cells")
    rows, cols = h // cell, w // cell
    if (rows * cols) % per_class:
        raise InputError(f"{p}: {rows * cols} cells do not split into classes of {per_class}")
    images = sheet.reshape(rows, cell, cols, cell).swapaxes(1, 2).reshape(-1, cell, cell)
    labels = np.arange(len(images)) // per_class
    return np.ascontiguousarray(images), labels.astype(np.int64)
