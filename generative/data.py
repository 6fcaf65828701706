"""MNIST for the generative models: the 5k training digits and the binarised test set.

Training digits are binarised stochastically afresh for every batch (a pixel of intensity
``v / 255`` is 1 with that probability); the test set is binarised stochastically once
with a fixed seed (:data:`TEST_BINARISATION_SEED`), so every evaluation sees the same bits.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from attentrack.datasets.mnist import load_mnist, read_mnist_csv
from attentrack.datasets.paths import data_root

TEST_BINARISATION_SEED = 0


def digits_folder(root: str | os.PathLike | None = None) -> Path:
    """``ROOT/digits`` (``root`` defaults to the attentrack data folder)."""
    base = Path(root) if root else data_root(required=True)
    return base / "digits" if (base / "digits").is_dir() else base


def training_digits(root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST training digits: ``(5000, 28, 28)`` float32 in ``[0, 1]`` and ``(5000,)`` labels
    (parsed once per process: the CSV takes seconds)."""
    images, labels = _read_csv_cached(str((digits_folder(root) / "mnist_5k.csv.gz").resolve()))
    return images.astype(np.float32) / 255.0, labels


@functools.lru_cache(maxsize=2)
def _read_csv_cached(path: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_mnist_csv(path)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def official_test_digits(root: str | os.PathLike | None = None, count: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The official MNIST test digits (the first ``count``; 0: all 10,000), float32 in ``[0, 1]``."""
    images, labels = load_mnist(digits_folder(root), "t10k")
    if count:
        images, labels = images[:count], labels[:count]
    return images.astype(np.float32) / 255.0, labels


def binarise_fixed(images: np.ndarray, seed: int = TEST_BINARISATION_SEED) -> torch.Tensor:
    """Stochastic binarisation with a fixed seed: ``(N, H, W)`` float 0/1 tensor."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy((rng.random(images.shape, dtype=np.float32) < images).astype(np.float32))


def binarise_batch(rng: np.random.Generator, images: np.ndarray, size: int) -> torch.Tensor:
    """A random batch of ``size`` digits, binarised stochastically: ``(size, H, W)`` 0/1."""
    idx = rng.integers(0, len(images), size)
    x = images[idx]
    return torch.from_numpy((rng.random(x.shape, dtype=np.float32) < x).astype(np.float32))
