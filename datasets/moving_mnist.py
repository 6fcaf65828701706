"""Moving MNIST from real MNIST digits, with ground-truth boxes and identities.

Every sequence is ``n_frames`` frames of a ``canvas x canvas`` black canvas holding 0 to
``max_digits`` real MNIST digits (28 x 28, pasted whole; overlapping ink is summed and
clipped to 1). Each digit moves with a noisy acceleration: its velocity is perturbed by
Gaussian noise every frame, its speed is clipped, and it bounces off the canvas edges (the
position is reflected and the velocity component flipped), so digits never leave the canvas.

Splits follow the real MNIST split: ``"train"`` draws from the 5,000 training digits of
``digits/mnist_5k.csv.gz``, ``"test"`` from the official 10,000 test digits
(``digits/t10k-*``), so test digits are never seen in training. ``"opencv"`` draws from the
5,000 handwritten digits of OpenCV's sample sheet (``digits/opencv_digits.png``: whole 28 x 28 images
shrunk to 20 x 20 cells, enlarged back, see :func:`cell_to_mnist_frame`): a third set of digits,
none of them in the other two, for choosing among trained models without touching the test
digits.

Ground truth per frame and digit: the tight box of the digit's ink (pixels above
``INK_THRESHOLD``) as ``x, y, w, h`` in canvas pixels, and the digit's identity (its index
in the sequence, 1-based in :meth:`MovingMnistBatch.to_mot`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attentrack.datasets.mnist import MNIST_SIZE, load_mnist, read_mnist_csv
from attentrack.datasets.mot import MotRows
from attentrack.tracker.boxes import mask_box
from attentrack.tracker.errors import InputError

INK_THRESHOLD = 0.1
"""Intensity (0-1) above which a digit pixel counts as ink for its ground-truth box."""

SPLITS = ("train", "test", "opencv")


def load_digits(split: str, root: str | os.PathLike | None = None) -> np.ndarray:
    """Real MNIST digits of one split.

    Args:
        split: ``"train"`` (the 5k training csv), ``"test"`` (the official 10k test set) or
            ``"opencv"`` (OpenCV's 5k digit sheet, see :func:`cell_to_mnist_frame`).
        root: the data folder (default: :func:`attentrack.datasets.paths.data_root`).

    Returns:
        ``(N, 28, 28)`` float32 in ``[0, 1]`` (1 = ink).

    Raises:
        InputError: an unknown split or missing files.
    """
    from attentrack.datasets.paths import data_root

    if split not in SPLITS:
        raise InputError(f"unknown Moving MNIST split {split!r}; use {', '.join(SPLITS)}")
    base = Path(root) if root is not None else data_root(required=True)
    digits = base / "digits" if (Path(base) / "digits").is_dir() else Path(base)
    if split == "train":
        images, _ = read_mnist_csv(digits / "mnist_5k.csv.gz")
    elif split == "opencv":
        from attentrack.datasets.mnist import read_opencv_digits

        cells, _ = read_opencv_digits(digits / "opencv_digits.png")
        return np.stack([cell_to_mnist_frame(c.astype(np.float32) / 255.0) for c in cells])
    else:
        images, _ = load_mnist(digits, "t10k")
    return images.astype(np.float32) / 255.0


def cell_to_mnist_frame(cell: np.ndarray) -> np.ndarray:
    """An OpenCV sample-sheet digit cell back at MNIST's size.

    The sheet's 20 x 20 cells are whole 28 x 28 MNIST-style images shrunk to 20 x 20 (their
    digits are about 15 pixels tall, MNIST's 20); enlarging them by 28 / 20 with bilinear
    interpolation restores MNIST's digit size and margin.

    Args:
        cell: ``(h, w)`` intensities, float in ``[0, 1]``.

    Returns:
        ``(28, 28)`` float32 in ``[0, 1]``.
    """
    import cv2

    out = cv2.resize(np.asarray(cell, np.float32), (MNIST_SIZE, MNIST_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


@dataclass
class MovingMnistBatch:
    """Sequences of Moving MNIST with their ground truth.

    Attributes:
        frames: ``(B, T, H, W)`` float32 in ``[0, 1]``.
        boxes: ``(B, T, M, 4)`` float32 ``x, y, w, h`` in canvas pixels of each digit's ink
            (zeros where absent); ``M = max_digits``.
        present: ``(B, T, M)`` bool, the digit is in the frame.
        counts: ``(B, T)`` int64, digits in each frame.
        positions: ``(B, T, M, 2)`` float32 top-left ``x, y`` of each 28 x 28 digit patch.
    """

    frames: np.ndarray
    boxes: np.ndarray
    present: np.ndarray
    counts: np.ndarray
    positions: np.ndarray

    def to_mot(self, frame_offset: int = 0, id_offset: int = 0) -> tuple[MotRows, int, int]:
        """Ground truth as MOTChallenge rows, all sequences laid end to end.

        Sequence ``b``'s frame ``t`` becomes frame ``frame_offset + b * T + t + 1``; digit
        ``m`` of sequence ``b`` gets id ``id_offset + b * M + m + 1`` (so ids never repeat
        across sequences).

        Returns:
            ``(rows, next_frame_offset, next_id_offset)``.
        """
        b_n, t_n, m_n = self.present.shape
        b, t, m = np.nonzero(self.present)
        rows = MotRows(
            frames=(frame_offset + b * t_n + t + 1).astype(int),
            ids=(id_offset + b * m_n + m + 1).astype(int),
            boxes=self.boxes[b, t, m].astype(np.float64),
            conf=np.ones(len(b)),
            extra=-np.ones((len(b), 3)),
        )
        return rows, frame_offset + b_n * t_n, id_offset + b_n * m_n


def ink_box(patch: np.ndarray, x0: int, y0: int, threshold: float = INK_THRESHOLD) -> np.ndarray:
    """``(4,)`` ``x, y, w, h`` of the pixels of ``patch`` above ``threshold``, offset by
    ``(x0, y0)``; zeros when there is no ink."""
    return mask_box(patch, x0, y0, threshold)


@dataclass(frozen=True)
class DigitAugment:
    """Random shape changes of each digit of a sequence (drawn once per digit and sequence),
    for training on more handwriting than the digits hold.

    Attributes:
        rotation: largest rotation in degrees (uniform in ``+-rotation``).
        scale: largest relative size change (uniform in ``1 +- scale``), per axis independently
            within ``+-aspect`` of the common change.
        aspect: largest relative change of the width against the height.
        shear: largest horizontal shear (uniform in ``+-shear``; slant).
        thickness: probability of thinning or thickening the strokes by one pixel (a grey-level
            erosion or dilation, each half as likely).
    """

    rotation: float = 12.0
    scale: float = 0.1
    aspect: float = 0.1
    shear: float = 0.25
    thickness: float = 0.3

    def __call__(self, digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(28, 28)`` float digit -> a randomly transformed copy (same size, about its centre)."""
        import cv2

        angle = np.deg2rad(rng.uniform(-self.rotation, self.rotation))
        common = rng.uniform(1 - self.scale, 1 + self.scale)
        sx = common * rng.uniform(1 - self.aspect, 1 + self.aspect)
        shear = rng.uniform(-self.shear, self.shear)
        c, s = np.cos(angle), np.sin(angle)
        linear = np.array([[c, -s], [s, c]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, common])
        centre = np.array([(MNIST_SIZE - 1) / 2] * 2)
        affine = np.hstack([linear, (centre - linear @ centre)[:, None]]).astype(np.float32)
        out = cv2.warpAffine(digit, affine, (MNIST_SIZE, MNIST_SIZE), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        u = rng.uniform()
        if u < self.thickness / 2:
            out = cv2.erode(out, np.ones((2, 2), np.uint8))
        elif u < self.thickness:
            out = cv2.dilate(out, np.ones((2, 2), np.uint8))
        return np.clip(out, 0.0, 1.0)


class MovingMnist:
    """A generator of Moving MNIST sequences from a set of real digits.

    Args:
        digits: ``(N, 28, 28)`` float32 in ``[0, 1]`` (see :func:`load_digits`).
        canvas: canvas side in pixels (the original's 50).
        n_frames: frames per sequence.
        max_digits: most digits per sequence (the count is uniform on ``0..max_digits``).
        speed: ``(low, high)`` initial speed in pixels per frame.
        max_speed: speed clip in pixels per frame.
        accel_std: standard deviation of the per-frame velocity noise (pixels / frame^2).
        augment: change each digit's shape at random before it moves (training only;
            ``None``: the digits as they are).
        overlap: probability that a digit after a sequence's first starts on top of the
            first (training data rich in occluded digits; 0: independent starts, the original's).
        overlap_offset: most distance in pixels, along each axis, between the top-left corners
            of such an overlapping start and the first digit's.
    """

    def __init__(self, digits: np.ndarray, canvas: int = 50, n_frames: int = 10, max_digits: int = 2,
                 speed: tuple[float, float] = (1.0, 3.0), max_speed: float = 4.0, accel_std: float = 0.5,
                 augment: DigitAugment | None = None, overlap: float = 0.0, overlap_offset: float = 6.0) -> None:
        if digits.ndim != 3 or digits.shape[1:] != (MNIST_SIZE, MNIST_SIZE) or len(digits) == 0:
            raise InputError(f"Moving MNIST needs (N, 28, 28) digits, got {digits.shape}")
        if canvas < MNIST_SIZE:
            raise InputError(f"canvas must be at least {MNIST_SIZE} pixels, got {canvas}")
        if n_frames < 1 or max_digits < 0:
            raise InputError("need n_frames >= 1 and max_digits >= 0")
        if not 0.0 <= overlap <= 1.0 or overlap_offset < 0:
            raise InputError(f"overlap must lie in [0, 1] and overlap_offset be >= 0, got {overlap}, {overlap_offset}")
        self.digits = digits.astype(np.float32, copy=False)
        self.canvas, self.n_frames, self.max_digits = canvas, n_frames, max_digits
        self.speed, self.max_speed, self.accel_std = speed, max_speed, accel_std
        self.augment = augment
        self.overlap, self.overlap_offset = float(overlap), float(overlap_offset)

    def trajectory(self, rng: np.random.Generator, n_frames: int, start: np.ndarray | None = None) -> np.ndarray:
        """``(T, 2)`` top-left positions of one digit: noisy acceleration with bounces, from
        ``start`` (``(2,)`` pixels, clipped to the canvas) or a uniform position."""
        lim = float(self.canvas - MNIST_SIZE)
        pos = rng.uniform(0, lim, size=2)
        if start is not None:
            pos = np.clip(np.asarray(start, np.float64), 0, lim)
        angle = rng.uniform(0, 2 * np.pi)
        vel = rng.uniform(*self.speed) * np.array([np.cos(angle), np.sin(angle)])
        out = np.empty((n_frames, 2), np.float32)
        for t in range(n_frames):
            out[t] = pos
            vel = vel + rng.normal(0, self.accel_std, size=2)
            speed = np.linalg.norm(vel)
            if speed > self.max_speed:
                vel *= self.max_speed / speed
            pos = pos + vel
            for d in range(2):
                if pos[d] < 0:
                    pos[d], vel[d] = -pos[d], -vel[d]
                elif pos[d] > lim:
                    pos[d], vel[d] = 2 * lim - pos[d], -vel[d]
        return out

    def sample(self, rng: np.random.Generator, batch: int, n_frames: int | None = None,
               n_digits: np.ndarray | None = None) -> MovingMnistBatch:
        """Draw ``batch`` sequences.

        Args:
            rng: the random generator (the only source of randomness).
            batch: number of sequences.
            n_frames: frames per sequence (default: the generator's).
            n_digits: ``(batch,)`` digits per sequence (default: uniform on ``0..max_digits``).
        """
        t_n = n_frames or self.n_frames
        m_n, c = self.max_digits, self.canvas
        frames = np.zeros((batch, t_n, c, c), np.float32)
        boxes = np.zeros((batch, t_n, max(m_n, 1), 4), np.float32)[:, :, :m_n]
        present = np.zeros((batch, t_n, m_n), bool)
        positions = np.zeros((batch, t_n, m_n, 2), np.float32)
        if n_digits is None:
            n_digits = rng.integers(0, m_n + 1, size=batch)
        for b in range(batch):
            first = None
            for m in range(int(n_digits[b])):
                digit = self.digits[rng.integers(len(self.digits))]
                if self.augment is not None:
                    digit = self.augment(digit, rng)
                start = None
                if m > 0 and self.overlap > 0 and rng.uniform() < self.overlap:
                    start = first + rng.uniform(-self.overlap_offset, self.overlap_offset, size=2)
                traj = self.trajectory(rng, t_n, start)
                if m == 0:
                    first = traj[0]
                for t in range(t_n):
                    x0, y0 = int(round(traj[t, 0])), int(round(traj[t, 1]))
                    frames[b, t, y0:y0 + MNIST_SIZE, x0:x0 + MNIST_SIZE] += digit
                    boxes[b, t, m] = ink_box(digit, x0, y0)
                    present[b, t, m] = boxes[b, t, m, 2] > 0
                    positions[b, t, m] = (x0, y0)
        np.clip(frames, 0.0, 1.0, out=frames)
        return MovingMnistBatch(frames, boxes, present, present.sum(-1).astype(np.int64), positions)
