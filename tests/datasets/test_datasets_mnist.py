"""Digit readers: IDX (MNIST), CSV, and OpenCV's digits sheet."""

from __future__ import annotations

import gzip

import cv2
import numpy as np
import pytest

from attentrack.datasets.mnist import load_mnist, read_idx, read_mnist_csv, read_opencv_digits, write_idx
from attentrack.tracker.errors import InputError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_idx_round_trip(tmp_path, dtype, name):
    arr = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    write_idx(tmp_path / name, arr)
    raw = (tmp_path / name).read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 5)
    np.testing.assert_array_equal(back, arr)


def test_idx_header_layout(tmp_path):
    write_idx(tmp_path / "l-idx1-ubyte", np.array([7, 2, 1], np.uint8))
    assert (tmp_path / "l-idx1-ubyte").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])


def test_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(InputError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "code").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")
    with pytest.raises(InputError, match="type code"):
        read_idx(tmp_path / "code")
    (tmp_path / "short.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x02\x01"))
    with pytest.raises(InputError, match="need 4 bytes"):
        read_idx(tmp_path / "short.gz")
    with pytest.raises(InputError, match="not found"):
        read_idx(tmp_path / "missing")
    with pytest.raises(InputError, match="dtype"):
        write_idx(tmp_path / "x", np.zeros(2, np.uint64))


def test_load_mnist_checks_counts(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([1, 2], np.uint8))
    with pytest.raises(InputError, match="3 MNIST images but 2 labels"):
        load_mnist(tmp_path)


def _csv_rows(n, label_first=False):
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (n, 784))
    labels = np.arange(n) % 10
    cols = [labels[:, None], px] if label_first else [px, labels[:, None]]
    return px, labels, "\n".join(",".join(map(str, r)) for r in np.hstack(cols)) + "\n"


def test_csv_reader_plain_gzip_and_header(tmp_path):
    px, labels, text = _csv_rows(4)
    (tmp_path / "d.csv").write_text(text)
    with gzip.open(tmp_path / "d.csv.gz", "wt") as fh:
        fh.write(text)
    for name in ("d.csv", "d.csv.gz"):
        images, lab = read_mnist_csv(tmp_path / name)
        assert images.shape == (4, 28, 28) and images.dtype == np.uint8
        np.testing.assert_array_equal(images.reshape(4, -1), px)
        np.testing.assert_array_equal(lab, labels)
    px, labels, text = _csv_rows(3, label_first=True)
    header = "label," + ",".join(f"pixel{i}" for i in range(784)) + "\n"
    (tmp_path / "k.csv").write_text(header + text)
    images, lab = read_mnist_csv(tmp_path / "k.csv", label_column=0)
    np.testing.assert_array_equal(images.reshape(3, -1), px)
    np.testing.assert_array_equal(lab, labels)


def test_csv_malformed_line_numbers(tmp_path):
    _, _, text = _csv_rows(3)
    lines = text.splitlines()
    (tmp_path / "short.csv").write_text("\n".join([lines[0], lines[1], "1,2,3"]) + "\n")
    with pytest.raises(InputError, match=r"short\.csv:3: expected 785 values, got 3"):
        read_mnist_csv(tmp_path / "short.csv")
    (tmp_path / "nan.csv").write_text("\n".join([lines[0], "x" + lines[1]]) + "\n")
    with pytest.raises(InputError, match=r"nan\.csv:2: not an integer"):
        read_mnist_csv(tmp_path / "nan.csv")
    (tmp_path / "big.csv").write_text("\n".join([lines[0], "300" + lines[1][lines[1].index(","):]]) + "\n")
    with pytest.raises(InputError, match=r"big\.csv:2: pixel value outside 0-255"):
        read_mnist_csv(tmp_path / "big.csv")


def test_opencv_sheet_layout(tmp_path):
    # 2 classes of 4 cells, 4x4 pixel cells, 2 cells per row: rows 0-1 class 0, 2-3 class 1
    sheet = np.zeros((16, 8), np.uint8)
    for r in range(4):
        for c in range(2):
            sheet[r * 4:(r + 1) * 4, c * 4:(c + 1) * 4] = 10 * r + c
    cv2.imwrite(str(tmp_path / "s.png"), sheet)
    images, labels = read_opencv_digits(tmp_path / "s.png", cell=4, per_class=4)
    assert images.shape == (8, 4, 4)
    assert images[:, 0, 0].tolist() == [0, 1, 10, 11, 20, 21, 30, 31]
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    with pytest.raises(InputError, match="whole number"):
        read_opencv_digits(tmp_path / "s.png", cell=5)


@pytest.mark.data
def test_real_mnist_t10k(data_dir):
    images, labels = load_mnist(data_dir / "digits", "t10k")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert images.max() == 255 and np.bincount(labels).min() > 800


@pytest.mark.data
def test_real_mnist_csv(data_dir):
    images, labels = read_mnist_csv(data_dir / "digits" / "mnist_5k.csv.gz")
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10


@pytest.mark.data
def test_real_opencv_digits(data_dir):
    images, labels = read_opencv_digits(data_dir / "digits" / "opencv_digits.png")
    assert images.shape == (5000, 20, 20)
    assert np.bincount(labels).tolist() == [500] * 10
    assert labels[0] == 0 and labels[499] == 0 and labels[500] == 1 and labels[-1] == 9
    # every cell holds ink
    assert (images.reshape(5000, -1).max(axis=1) > 100).all()
