"""Real data for the saliency classifiers and the pointing game.

Two tasks, each with a training sampler and a held-out evaluation set:

* ``pedestrian``: pedestrian vs background on TUD frames (MOT15 ground truth). Training
  patches come from TUD-Stadtmitte frames 1-143 (validation: frames 144-179); the pointing
  game runs on every frame of TUD-Campus, a different scene the classifier never saw.
  Frames are used at half size (``PED_SCALE``), where pedestrians are about 35 x 100 px.
* ``digits``: which MNIST digits are on a canvas (multi-label). Training canvases (72 px,
  one or two digits) are made of the 5,000 training digits of ``digits/mnist_5k.csv.gz``;
  evaluation canvases (112 px) of the official test digits (``digits/t10k-*``), two or three
  per canvas, never overlapping.

Boxes are ``x, y, w, h`` in pixels of the image they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from attentrack.datasets.mnist import load_mnist, read_mnist_csv
from attentrack.datasets.mot import read_mot
from attentrack.tracker.errors import InputError

PED_SCALE = 0.5
PATCH = 96
CANVAS = 112
TRAIN_CANVAS = 72
TRAIN_SEQUENCE = "TUD-Stadtmitte"
TRAIN_FRAMES = 143  # frames 1..143 train, the rest validate
EVAL_SEQUENCE = "TUD-Campus"


@dataclass
class LabelledImage:
    """An evaluation image with its objects.

    Attributes:
        image: ``(H, W, 3)`` BGR or ``(H, W)`` grey uint8.
        boxes: ``(N, 4)`` ``x, y, w, h`` pixels.
        labels: ``(N,)`` class index of each box.
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray


def read_sequence(folder: str | Path) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """Frames (BGR uint8, in order) and ``{1-based frame: (N, 4) boxes}`` of a MOT15 sequence folder."""
    from attentrack.tracker.sources import open_source

    folder = Path(folder)
    gt = folder / "gt" / "gt.txt"
    videos = sorted(folder.glob("*.mp4"))
    if not gt.is_file():
        raise InputError(f"{folder}: no gt/gt.txt")
    src = open_source(str(videos[0]) if videos else str(folder / "img1"))
    frames = [f for _, f in src]
    if not frames:
        raise InputError(f"{folder}: no frames")
    rows = read_mot(gt)
    boxes = {f: r.boxes[r.conf > 0] for f, r in rows.by_frame().items()}
    return frames, boxes


class PedestrianPatches:
    """Patch sampler for pedestrian vs background (label 1: a pedestrian is centred in the patch).

    A positive patch has a ground-truth box centre in its middle half; a negative patch
    overlaps no box by more than 10% of that box's area. Augmentation: the patch covers
    ``PATCH * s`` pixels, ``s ~ U(0.7, 1.5)`` (pedestrians nearer or farther than in
    training), resized to ``PATCH``; brightness and contrast jitter; horizontal flips.

    Args:
        frames: BGR frames at full size.
        boxes: ``{1-based frame: (N, 4)}`` full-size boxes.
        frame_numbers: the 1-based frames to sample from.
    """

    def __init__(self, frames, boxes, frame_numbers) -> None:
        self.frames = [cv2.resize(frames[i - 1], None, fx=PED_SCALE, fy=PED_SCALE, interpolation=cv2.INTER_AREA)
                       for i in frame_numbers]
        self.boxes = [boxes.get(i, np.zeros((0, 4))) * PED_SCALE for i in frame_numbers]
        if not self.frames:
            raise InputError("no frames to sample pedestrian patches from")

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` patches ``(n, PATCH, PATCH, 3)`` uint8 and labels ``(n,)`` (half of each class)."""
        out, labels = [], []
        while len(out) < n:
            want = len(out) % 2
            k = int(rng.integers(len(self.frames)))
            frame, bx = self.frames[k], self.boxes[k]
            H, W = frame.shape[:2]
            side = int(round(PATCH * rng.uniform(0.7, 1.5)))
            if want == 1:
                if not len(bx):
                    continue
                b = bx[int(rng.integers(len(bx)))]
                cx = b[0] + b[2] / 2 + rng.uniform(-side / 4, side / 4)
                cy = b[1] + b[3] / 2 + rng.uniform(-side / 4, side / 4)
                x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
            else:
                x0, y0 = int(rng.integers(0, max(1, W - side + 1))), int(rng.integers(0, max(1, H - side + 1)))
                if _max_covered(bx, x0, y0, side) > 0.1:
                    continue
            patch = cv2.resize(crop_padded(frame, x0, y0, side), (PATCH, PATCH), interpolation=cv2.INTER_AREA)
            gain, offset = rng.uniform(0.7, 1.3), rng.uniform(-25, 25)
            patch = np.clip(patch.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            out.append(patch)
            labels.append(want)
        return np.stack(out), np.asarray(labels, dtype=np.int64)


def _max_covered(boxes: np.ndarray, x0: int, y0: int, side: int = PATCH) -> float:
    """Largest fraction of a box's area inside the ``side``-pixel patch at ``(x0, y0)``."""
    if not len(boxes):
        return 0.0
    ix = np.clip(np.minimum(boxes[:, 0] + boxes[:, 2], x0 + side) - np.maximum(boxes[:, 0], x0), 0, None)
    iy = np.clip(np.minimum(boxes[:, 1] + boxes[:, 3], y0 + side) - np.maximum(boxes[:, 1], y0), 0, None)
    return float((ix * iy / np.maximum(boxes[:, 2] * boxes[:, 3], 1e-9)).max())


def crop_padded(img: np.ndarray, x0: int, y0: int, size: int) -> np.ndarray:
    """A ``size x size`` crop at ``(x0, y0)``, zero-padded where it leaves the image."""
    H, W = img.shape[:2]
    out = np.zeros((size, size) + img.shape[2:], dtype=img.dtype)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(W, x0 + size), min(H, y0 + size)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
    return out


def pedestrian_training(root: Path) -> tuple[PedestrianPatches, PedestrianPatches]:
    """Training and validation samplers from TUD-Stadtmitte (frames 1-143 / 144-179)."""
    frames, boxes = read_sequence(root / "mot15" / TRAIN_SEQUENCE)
    n = len(frames)
    return (PedestrianPatches(frames, boxes, range(1, min(TRAIN_FRAMES, n) + 1)),
            PedestrianPatches(frames, boxes, range(min(TRAIN_FRAMES, n - 1) + 1, n + 1)))


def pedestrian_evaluation(root: Path, every: int = 1) -> list[LabelledImage]:
    """TUD-Campus frames (every ``every``-th) with their pedestrian boxes (label 1), full size."""
    frames, boxes = read_sequence(root / "mot15" / EVAL_SEQUENCE)
    out = []
    for i in range(1, len(frames) + 1, every):
        b = boxes.get(i, np.zeros((0, 4)))
        if len(b):
            out.append(LabelledImage(frames[i - 1], b, np.ones(len(b), dtype=np.int64)))
    return out


class DigitCanvases:
    """Canvases of ``CANVAS x CANVAS`` px with non-overlapping real MNIST digits.

    Args:
        images: ``(N, 28, 28)`` uint8 digits.
        labels: ``(N,)`` digits 0-9.
        min_digits, max_digits: digits per canvas.
        size: canvas side in pixels.
    """

    def __init__(self, images, labels, min_digits: int = 1, max_digits: int = 3, size: int = CANVAS) -> None:
        self.images, self.labels = images, labels
        self.min_digits, self.max_digits, self.size = min_digits, max_digits, size

    def canvas(self, rng: np.random.Generator) -> LabelledImage:
        """One canvas, its digits' tight ink boxes and labels."""
        c = np.zeros((self.size, self.size), dtype=np.uint8)
        n = int(rng.integers(self.min_digits, self.max_digits + 1))
        boxes, labels, placed = [], [], []
        tries = 0
        while len(boxes) < n and tries < 100:
            tries += 1
            k = int(rng.integers(len(self.images)))
            side = int(round(28 * rng.uniform(0.9, 1.4)))
            x0, y0 = (int(v) for v in rng.integers(0, self.size - side + 1, size=2))
            if any(x0 < px + ps + 2 and px < x0 + side + 2 and y0 < py + ps + 2 and py < y0 + side + 2
                   for px, py, ps in placed):
                continue
            digit = cv2.resize(self.images[k], (side, side), interpolation=cv2.INTER_LINEAR)
            c[y0:y0 + side, x0:x0 + side] = np.maximum(c[y0:y0 + side, x0:x0 + side], digit)
            ys, xs = np.nonzero(digit > 64)
            if not len(xs):
                continue
            placed.append((x0, y0, side))
            boxes.append([x0 + xs.min(), y0 + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1])
            labels.append(int(self.labels[k]))
        return LabelledImage(c, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(labels, dtype=np.int64))

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` canvases ``(n, S, S)`` uint8 and multi-hot labels ``(n, 10)`` float32."""
        imgs, ys = [], np.zeros((n, 10), dtype=np.float32)
        for i in range(n):
            item = self.canvas(rng)
            imgs.append(item.image)
            ys[i, item.labels] = 1.0
        return np.stack(imgs), ys


def digits_training(root: Path) -> tuple[DigitCanvases, DigitCanvases]:
    """Training canvases (``TRAIN_CANVAS`` px, 1-2 digits) from 4,500 digits of ``mnist_5k.csv.gz``,
    validation canvases from the other 500 (the network is fully convolutional: it is evaluated
    on larger canvases)."""
    images, labels = read_mnist_csv(root / "digits" / "mnist_5k.csv.gz")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    tr, va = order[:4500], order[4500:]
    return (DigitCanvases(images[tr], labels[tr], 1, 2, TRAIN_CANVAS),
            DigitCanvases(images[va], labels[va], 1, 2, TRAIN_CANVAS))


def digits_evaluation(root: Path, n: int = 300, seed: int = 0) -> list[LabelledImage]:
    """``n`` canvases of 2-3 official MNIST test digits each (fixed by ``seed``)."""
    images, labels = load_mnist(root / "digits", "t10k")
    gen = DigitCanvases(images, labels, min_digits=2, max_digits=3)
    rng = np.random.default_rng(seed)
    return [gen.canvas(rng) for _ in range(n)]
