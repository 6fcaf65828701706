"""Training sequences for HART: windows of real ground-truth tracks, and synthetic
sequences of real object crops moving over real backgrounds.

Every sample is ``T`` frames of ``FRAME_W x FRAME_H`` (320 x 240) BGR ``uint8`` with one
target box per frame. :func:`make_batch` stacks samples and builds their image pyramids.

**Real samples** (:class:`RealTracks`): a window of ``T`` frames of a ground-truth track,
taken every ``k`` frames (``k`` in 1..3 makes motion faster), optionally reversed in time
and mirrored, zoomed so the object is 25-160 pixels tall and cropped to the frame size
around the trajectory, with colour jitter.

**Synthetic samples** (:class:`SyntheticSequences`): a background (a random crop of a
frame from the background images, slowly panning) and a target plus up to three
distractors pasted with soft alpha masks. Objects are crops of real things: pedestrians
cut from the training sequences' ground truth (consecutive crops of one track, so the
walking motion is real), ORL faces, MNIST and OpenCV digits, the KITTI car and random
textured patches of the backgrounds. They move with smoothly varying velocity (up to
15 % of their size per frame), change scale, bounce off the frame edges and pass in front
of (occlude) each other.

Boxes are ``cx, cy, w, h`` in pixels of the sample frame until :func:`make_batch`
normalises them by the frame size.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from attentrack.tracker.attention import ImagePyramid
from attentrack.tracker.errors import InputError

log = logging.getLogger(__name__)

FRAME_W, FRAME_H = 320, 240


@dataclass
class Sample:
    """One training sequence.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 BGR.
        boxes: ``(T, 4)`` float ``cx, cy, w, h`` in pixels.
        source: ``"real"`` or ``"synthetic"``.
    """

    frames: np.ndarray
    boxes: np.ndarray
    source: str


@dataclass
class Batch:
    """Stacked samples ready for :meth:`attentrack.tracker.hart.model.HART.forward`.

    Attributes:
        levels: pyramid levels, ``levels[l]`` ``(B, T, H_l, W_l, 3)`` uint8.
        boxes: ``(B, T, 4)`` float32 ``cx, cy, w, h`` normalised by the frame size.
        presence: ``(B, T)`` bool.
    """

    levels: list[torch.Tensor]
    boxes: torch.Tensor
    presence: torch.Tensor


def make_batch(samples: list[Sample]) -> Batch:
    """Stack samples of equal length and frame size and build their pyramids."""
    b = len(samples)
    t = samples[0].frames.shape[0]
    h, w = samples[0].frames.shape[1:3]
    frames = np.concatenate([s.frames for s in samples])  # (B*T, H, W, 3)
    pyr = ImagePyramid.from_numpy(frames)
    levels = [lv.reshape(b, t, *lv.shape[1:]) for lv in pyr.levels]
    boxes = np.stack([s.boxes for s in samples]).astype(np.float32) / np.float32([w, h, w, h])
    presence = torch.ones(b, t, dtype=torch.bool)
    return Batch(levels, torch.from_numpy(boxes), presence)


def _jitter_colour(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-sequence brightness/contrast/colour changes; sometimes grey, low-resolution or noisy."""
    gain = rng.uniform(0.7, 1.3) * rng.uniform(0.9, 1.1, size=3)
    bias = rng.uniform(-25, 25)
    lut = np.clip(np.arange(256, dtype=np.float32)[:, None] * gain[None, :] + bias, 0, 255).astype(np.uint8)
    lut = np.ascontiguousarray(lut.reshape(256, 1, 3))
    grey = rng.random() < 0.15
    lowres = rng.uniform(0.35, 0.7) if rng.random() < 0.2 else 0.0
    noise = None
    if rng.random() < 0.2:
        hh, ww = frames.shape[1:3]
        noise = (rng.standard_normal((hh + 16, ww + 16, 3), dtype=np.float32) * rng.uniform(2, 8)).astype(np.int16)
    out = np.empty_like(frames)
    for i, im in enumerate(frames):
        im = cv2.LUT(im, lut)
        if grey:
            im = cv2.cvtColor(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        if lowres:
            hh, ww = im.shape[:2]
            small = (max(8, int(ww * lowres)), max(8, int(hh * lowres)))
            im = cv2.resize(cv2.resize(im, small, interpolation=cv2.INTER_AREA), (ww, hh), interpolation=cv2.INTER_LINEAR)
        if noise is not None:
            dy, dx = rng.integers(0, 16, size=2)
            n = noise[dy:dy + im.shape[0], dx:dx + im.shape[1]]
            im = np.clip(im.astype(np.int16) + n, 0, 255).astype(np.uint8)
        out[i] = im
    return out


def _flip(sample: Sample) -> Sample:
    w = sample.frames.shape[2]
    boxes = sample.boxes.copy()
    boxes[:, 0] = w - boxes[:, 0]
    return Sample(np.ascontiguousarray(sample.frames[:, :, ::-1]), boxes, sample.source)


def augment(sample: Sample, rng: np.random.Generator) -> Sample:
    """Time reversal (p 0.5), horizontal mirroring (p 0.5) and colour jitter."""
    if rng.random() < 0.5:
        sample = Sample(np.ascontiguousarray(sample.frames[::-1]), sample.boxes[::-1].copy(), sample.source)
    if rng.random() < 0.5:
        sample = _flip(sample)
    return Sample(_jitter_colour(sample.frames, rng), sample.boxes, sample.source)


# -- real tracks ---------------------------------------------------------------------------

#: ways :class:`RealTracks` shares its windows among the training sequences
SEQUENCE_SHARES = ("boxes", "equal")


class RealTracks:
    """Windows of ground-truth tracks of real sequences.

    Args:
        sequences: :class:`attentrack.datasets.sequence.Sequence` objects with ground truth.
        tracks: ``[(sequence index, frames (L,) 1-based, boxes (L, 4) x, y, w, h)]`` to use
            (default: every track of at least 8 boxes).
        share: how windows are shared among the sequences: ``"boxes"`` (each track drawn in
            proportion to its boxes, so a sequence with many labelled people dominates) or
            ``"equal"`` (every sequence drawn equally often; within one, tracks in proportion
            to their boxes).
    """

    def __init__(self, sequences: list, tracks: list | None = None, share: str = "boxes") -> None:
        if share not in SEQUENCE_SHARES:
            raise InputError(f"sequence share {share!r}: expected one of {', '.join(SEQUENCE_SHARES)}")
        self.sequences = sequences
        if tracks is None:
            tracks = []
            for si, seq in enumerate(sequences):
                for frames, boxes in seq.tracks(min_length=8).values():
                    tracks.append((si, frames, boxes))
        self.tracks = [t for t in tracks if len(t[1]) >= 4]
        if not self.tracks:
            raise InputError("no ground-truth track with at least 4 boxes in the training sequences")
        lengths = np.array([len(t[1]) for t in self.tracks], dtype=np.float64)
        if share == "equal":  # each track's boxes over all boxes of its sequence
            owner = np.array([t[0] for t in self.tracks])
            lengths = lengths / np.bincount(owner, weights=lengths)[owner]
        self.weights = lengths / lengths.sum()

    @property
    def n_boxes(self) -> int:
        """Boxes over all tracks used."""
        return int(sum(len(t[1]) for t in self.tracks))

    def sample(self, rng: np.random.Generator, length: int, max_step: int = 3) -> Sample:
        """A random window of ``length`` frames (see the module docstring)."""
        si, frames, boxes = self.tracks[rng.choice(len(self.tracks), p=self.weights)]
        seq = self.sequences[si]
        n = len(frames)
        steps = [k for k in range(1, max_step + 1) if (length - 1) * k < n] or [1]
        k = int(rng.choice(steps))
        span = min(n, (length - 1) * k + 1)
        start = int(rng.integers(0, n - span + 1))
        idx = np.minimum(start + k * np.arange(length), n - 1)
        f = frames[idx]
        b = boxes[idx].astype(np.float64)  # x, y, w, h in source pixels
        images = [seq.image(int(fr) - 1) for fr in f]
        return self._zoom_crop(images, b, rng)

    @staticmethod
    def _zoom_crop(images: list[np.ndarray], b: np.ndarray, rng: np.random.Generator) -> Sample:
        src_h, src_w = images[0].shape[:2]
        x0, y0 = b[:, 0].min(), b[:, 1].min()
        x1, y1 = (b[:, 0] + b[:, 2]).max(), (b[:, 1] + b[:, 3]).max()
        hmean = float(b[:, 3].mean())
        fit = min(FRAME_W / max(x1 - x0, 1.0), FRAME_H / max(y1 - y0, 1.0))
        hi = min(1.3, 160.0 / hmean, fit)
        # crops up to 1.43x the source (reflected borders) allow smaller objects
        lo = min(hi, max(25.0 / hmean, 0.7 * max(FRAME_W / src_w, FRAME_H / src_h)))
        s = float(rng.uniform(lo, max(lo, hi)))
        cw, ch = FRAME_W / s, FRAME_H / s  # crop size in source pixels
        # crop origin: keep the trajectory inside when possible
        ox_lo, ox_hi = x1 - cw, x0
        oy_lo, oy_hi = y1 - ch, y0
        ox = rng.uniform(ox_lo, ox_hi) if ox_hi > ox_lo else (x0 + x1 - cw) / 2
        oy = rng.uniform(oy_lo, oy_hi) if oy_hi > oy_lo else (y0 + y1 - ch) / 2
        m = np.float64([[s, 0, -ox * s], [0, s, -oy * s]])
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        out = []
        for im in images:
            if s < 0.7:  # anti-alias before the affine warp
                im = cv2.resize(im, (max(1, int(src_w * s * 1.4)), max(1, int(src_h * s * 1.4))),
                                interpolation=cv2.INTER_AREA)
                r = im.shape[1] / src_w
                mm = m.copy()
                mm[:, :2] /= r
                out.append(cv2.warpAffine(im, mm, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REFLECT_101))
            else:
                out.append(cv2.warpAffine(im, m, (FRAME_W, FRAME_H), flags=interp if s >= 1 else cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REFLECT_101))
        boxes = np.stack([(b[:, 0] + b[:, 2] / 2 - ox) * s, (b[:, 1] + b[:, 3] / 2 - oy) * s,
                          b[:, 2] * s, b[:, 3] * s], axis=1)
        return Sample(np.stack(out), boxes, "real")


def split_tracks(sequences: list, val_fraction: float, seed: int = 0) -> tuple[list, list]:
    """Split the ground-truth tracks of ``sequences`` into training and validation tracks.

    Whole tracks go to validation (seeded choice) until they hold ``val_fraction`` of the
    boxes; a sequence with fewer than 4 tracks gives none.

    Returns:
        ``(train, val)`` lists of ``(sequence index, frames, boxes)``.
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for si, seq in enumerate(sequences):
        tracks = [(si, f, b) for f, b in seq.tracks(min_length=8).values()]
        if len(tracks) < 4 or val_fraction <= 0:
            train += tracks
            continue
        total = sum(len(t[1]) for t in tracks)
        order = rng.permutation(len(tracks))
        taken = 0
        for i in order:
            t = tracks[i]
            if taken + len(t[1]) <= val_fraction * total * 1.3 and taken < val_fraction * total:
                val.append(t)
                taken += len(t[1])
            else:
                train.append(t)
    return train, val


# -- synthetic -----------------------------------------------------------------------------

@dataclass
class Sprite:
    """An object to paste: a sequence of appearances with alpha masks.

    Attributes:
        images: list of ``(h, w, 3)`` uint8 BGR (one per time step, or one).
        alphas: list of ``(h, w)`` float32 in ``[0, 1]``, same sizes.
        kind: ``pedestrian``, ``face``, ``digit``, ``car`` or ``patch``.
    """

    images: list[np.ndarray]
    alphas: list[np.ndarray]
    kind: str


def _soft_ellipse(h: int, w: int, hard: float = 0.75) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2
    return np.clip((1.0 - d) / (1.0 - hard * hard), 0.0, 1.0).astype(np.float32) ** 0.5


def _soft_rect(h: int, w: int, border: float = 0.12) -> np.ndarray:
    ry = np.clip(np.minimum(np.arange(h) + 0.5, h - np.arange(h) - 0.5) / max(1.0, border * h), 0, 1)
    rx = np.clip(np.minimum(np.arange(w) + 0.5, w - np.arange(w) - 0.5) / max(1.0, border * w), 0, 1)
    return (ry[:, None] * rx[None, :]).astype(np.float32)


class Assets:
    """Backgrounds and object sources for synthetic sequences.

    Args:
        root: a data folder with (any of) ``faces/orl``, ``digits``, ``video`` and
            ``kitti`` sub-folders, or ``None``.
        sequences: training sequences: their frames are backgrounds too and their tracks
            give pedestrian crops.
        tracks: the tracks to cut objects from (``[(sequence index, frames, boxes)]``).
    """

    def __init__(self, root: str | os.PathLike | None, sequences: list, tracks: list) -> None:
        self.backgrounds: list[np.ndarray] = []
        self.faces: list[np.ndarray] = []
        self.digits: list[np.ndarray] = []
        self.cars: list[np.ndarray] = []
        self.sequences = sequences
        self.tracks = [t for t in tracks if len(t[1]) >= 2]
        root = Path(root) if root else None
        if root is not None and root.is_dir():
            self._load(root)
        for seq in sequences:
            n = len(seq)
            for i in range(0, n, max(1, n // 8)):
                self.backgrounds.append(seq.image(i))
        if not self.backgrounds:
            raise InputError("no background images for synthetic sequences")

    def _load(self, root: Path) -> None:
        for video, every in (("video/tree.avi", 25), ("video/Megamind.avi", 30)):
            p = root / video
            if p.is_file():
                cap = cv2.VideoCapture(str(p))
                i = 0
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    if i % every == 0:
                        self.backgrounds.append(frame)
                    i += 1
                cap.release()
        kitti = sorted(glob.glob(str(root / "kitti" / "*.png")))
        for i, p in enumerate(kitti):
            im = cv2.imread(p)
            if im is None:
                continue
            if i % 3 == 0:
                self.backgrounds.append(im)
            if Path(p).name == "000280.png":  # the README's car: [y, x, h, w] = [88, 250, 18, 25]
                self.cars.append(im[88:106, 250:275].copy())
        for p in sorted(glob.glob(str(root / "faces" / "orl" / "s*" / "*.pgm")))[::2]:
            im = cv2.imread(p, cv2.IMREAD_GRAYSCALE)
            if im is not None:
                self.faces.append(im)
        try:
            from attentrack.datasets.mnist import read_mnist_csv, read_opencv_digits

            if (root / "digits" / "mnist_5k.csv.gz").is_file():
                imgs, _ = read_mnist_csv(root / "digits" / "mnist_5k.csv.gz")
                self.digits += list(imgs[::5])
            if (root / "digits" / "opencv_digits.png").is_file():
                imgs, _ = read_opencv_digits(root / "digits" / "opencv_digits.png")
                self.digits += list(imgs[::10])
        except InputError as exc:  # pragma: no cover - damaged optional assets
            log.warning("digits not used: %s", exc)

    def kinds(self) -> list[str]:
        """Object kinds available."""
        k = ["patch"]
        if self.tracks:
            k.append("pedestrian")
        if self.faces:
            k.append("face")
        if self.digits:
            k.append("digit")
        if self.cars:
            k.append("car")
        return k

    def sprite(self, kind: str, length: int, rng: np.random.Generator) -> Sprite:
        """A random object of ``kind`` with ``length`` appearances."""
        if kind == "pedestrian":
            si, frames, boxes = self.tracks[rng.integers(len(self.tracks))]
            seq = self.sequences[si]
            k = int(rng.integers(1, 3))
            n = len(frames)
            start = int(rng.integers(0, max(1, n - (length - 1) * k)))
            idx = np.minimum(start + k * np.arange(length), n - 1)
            images, alphas = [], []
            cache = {}
            for i in idx:
                if i not in cache:
                    fr = seq.image(int(frames[i]) - 1)
                    x, y, w, h = boxes[i]
                    x0, y0 = int(max(0, round(x))), int(max(0, round(y)))
                    x1, y1 = int(min(fr.shape[1], round(x + w))), int(min(fr.shape[0], round(y + h)))
                    crop = fr[y0:max(y1, y0 + 2), x0:max(x1, x0 + 2)].copy()
                    cache[i] = crop
                crop = cache[i]
                images.append(crop)
                alphas.append(_soft_ellipse(*crop.shape[:2], hard=0.8) * 0.5 + _soft_rect(*crop.shape[:2]) * 0.5)
            return Sprite(images, alphas, kind)
        if kind == "face":
            g = self.faces[rng.integers(len(self.faces))]
            tint = rng.uniform(0.6, 1.2, size=3)
            im = np.clip(g[:, :, None].astype(np.float32) * tint, 0, 255).astype(np.uint8)
            return Sprite([im], [_soft_ellipse(*g.shape, hard=0.7)], kind)
        if kind == "digit":
            d = self.digits[rng.integers(len(self.digits))]
            ys, xs = np.nonzero(d > 30)
            if len(ys):
                d = d[max(0, ys.min() - 1):ys.max() + 2, max(0, xs.min() - 1):xs.max() + 2]
            colour = rng.uniform(0, 255, size=3)
            if rng.random() < 0.5:  # textured ink from a background
                bg = self.backgrounds[rng.integers(len(self.backgrounds))]
                im = cv2.resize(bg, (d.shape[1], d.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
                im = 0.5 * im + 0.5 * colour
            else:
                im = np.broadcast_to(colour, d.shape + (3,)).astype(np.float32)
            alpha = (d.astype(np.float32) / 255.0)
            return Sprite([im.astype(np.uint8)], [alpha], kind)
        if kind == "car":
            c = self.cars[rng.integers(len(self.cars))]
            return Sprite([c], [_soft_rect(*c.shape[:2], border=0.08)], kind)
        # a textured patch of a background (a generic "object")
        bg = self.backgrounds[rng.integers(len(self.backgrounds))]
        bh, bw = bg.shape[:2]
        h = int(rng.uniform(0.1, 0.4) * bh)
        w = int(np.clip(h * np.exp(rng.uniform(-0.8, 0.8)), 6, bw - 1))
        y = int(rng.integers(0, max(1, bh - h)))
        x = int(rng.integers(0, max(1, bw - w)))
        im = bg[y:y + h, x:x + w].copy()
        alpha = _soft_ellipse(h, w, 0.75) if rng.random() < 0.5 else _soft_rect(h, w)
        return Sprite([im], [alpha], "patch")


def _paste(frame: np.ndarray, image: np.ndarray, alpha: np.ndarray, box: np.ndarray) -> None:
    """Alpha-blend ``image`` resized to ``box`` (``cx, cy, w, h`` px) into ``frame`` in place."""
    cx, cy, w, h = box
    wi, hi = max(2, int(round(w))), max(2, int(round(h)))
    x0, y0 = int(round(cx - wi / 2)), int(round(cy - hi / 2))
    fh, fw = frame.shape[:2]
    ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(fw, x0 + wi), min(fh, y0 + hi)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    interp = cv2.INTER_AREA if wi < image.shape[1] else cv2.INTER_LINEAR
    im = cv2.resize(image, (wi, hi), interpolation=interp)
    al = cv2.resize(alpha, (wi, hi), interpolation=cv2.INTER_LINEAR)
    im = im[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0].astype(np.float32)
    al = al[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0, None]
    roi = frame[ay0:ay1, ax0:ax1].astype(np.float32)
    frame[ay0:ay1, ax0:ax1] = (roi * (1 - al) + im * al).astype(np.uint8)


def _trajectory(length: int, size0: np.ndarray, rng: np.random.Generator, frame=(FRAME_W, FRAME_H)) -> np.ndarray:
    """``(T, 4)`` ``cx, cy, w, h`` of an object moving smoothly inside the frame."""
    fw, fh = frame
    w, h = size0
    cx = rng.uniform(w / 2, max(w / 2 + 1, fw - w / 2))
    cy = rng.uniform(h / 2, max(h / 2 + 1, fh - h / 2))
    speed = rng.uniform(0.0, 0.15) * np.sqrt(w * h)
    ang = rng.uniform(0, 2 * np.pi)
    v = speed * np.array([np.cos(ang), np.sin(ang) * (0.5 if rng.random() < 0.6 else 1.0)])
    scale_rate = rng.uniform(-0.025, 0.025)
    out = np.zeros((length, 4))
    ls = 0.0
    for t in range(length):
        out[t] = cx, cy, w * np.exp(ls), h * np.exp(ls)
        v = v + rng.normal(0, 0.02, size=2) * np.sqrt(w * h)
        cx, cy = cx + v[0], cy + v[1]
        ls = np.clip(ls + scale_rate + rng.normal(0, 0.01), -1.0, 1.0)
        cw, ch = w * np.exp(ls), h * np.exp(ls)
        if cx < cw / 2 or cx > fw - cw / 2:
            v[0] = -v[0]
            cx = np.clip(cx, cw / 2, fw - cw / 2)
        if cy < ch / 2 or cy > fh - ch / 2:
            v[1] = -v[1]
            cy = np.clip(cy, ch / 2, fh - ch / 2)
    return out


class SyntheticSequences:
    """Synthetic sequences of real object crops on real backgrounds (see the module docstring).

    Args:
        assets: where objects and backgrounds come from.
    """

    def __init__(self, assets: Assets) -> None:
        self.assets = assets
        self.kinds = assets.kinds()
        self.kind_p = np.array([{"pedestrian": 3.0, "patch": 2.0, "face": 1.5, "digit": 1.0, "car": 0.3}[k] for k in self.kinds])
        self.kind_p /= self.kind_p.sum()

    def _background(self, length: int, rng: np.random.Generator) -> list[np.ndarray]:
        bg = self.assets.backgrounds[rng.integers(len(self.assets.backgrounds))]
        bh, bw = bg.shape[:2]
        s = rng.uniform(0.5, 1.0)
        cw = min(bw, int(bh * s * FRAME_W / FRAME_H))
        ch = int(cw * FRAME_H / FRAME_W)
        pan = rng.normal(0, 1.5, size=2) if rng.random() < 0.5 else np.zeros(2)
        x0 = rng.uniform(0, max(0.0, bw - cw))
        y0 = rng.uniform(0, max(0.0, bh - ch))
        frames = []
        for t in range(length):
            x = float(np.clip(x0 + pan[0] * t, 0, max(0, bw - cw)))
            y = float(np.clip(y0 + pan[1] * t, 0, max(0, bh - ch)))
            m = np.float64([[FRAME_W / cw, 0, -x * FRAME_W / cw], [0, FRAME_H / ch, -y * FRAME_H / ch]])
            frames.append(cv2.warpAffine(bg, m, (FRAME_W, FRAME_H), flags=cv2.INTER_AREA if cw > FRAME_W else cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REFLECT))
        return frames

    def _object_size(self, sprite: Sprite, rng: np.random.Generator) -> np.ndarray:
        h0, w0 = sprite.images[0].shape[:2]
        aspect = w0 / h0 * np.exp(rng.normal(0, 0.1))
        height = FRAME_H * np.exp(rng.uniform(np.log(0.1), np.log(0.6)))
        width = height * aspect
        if width > 0.6 * FRAME_W:
            width = 0.6 * FRAME_W
            height = width / aspect
        return np.array([width, height])

    def sample(self, rng: np.random.Generator, length: int) -> Sample:
        """One synthetic sequence of ``length`` frames."""
        frames = self._background(length, rng)
        kind = self.kinds[rng.choice(len(self.kinds), p=self.kind_p)]
        target = self.assets.sprite(kind, length, rng)
        objects = [(target, _trajectory(length, self._object_size(target, rng), rng))]
        for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
            dk = kind if rng.random() < 0.5 else self.kinds[rng.choice(len(self.kinds), p=self.kind_p)]
            sp = self.assets.sprite(dk, length, rng)
            objects.append((sp, _trajectory(length, self._object_size(sp, rng), rng)))
        order = rng.permutation(len(objects))  # drawing order: later ones occlude
        brightness = [rng.uniform(-0.01, 0.01) for _ in objects]
        for t in range(length):
            frame = frames[t]
            for i in order:
                sp, traj = objects[i]
                im = sp.images[min(t, len(sp.images) - 1)]
                al = sp.alphas[min(t, len(sp.alphas) - 1)]
                if brightness[i]:
                    im = np.clip(im.astype(np.float32) * (1 + brightness[i] * t), 0, 255).astype(np.uint8)
                _paste(frame, im, al, traj[t])
        return Sample(np.stack(frames), objects[0][1].copy(), "synthetic")


class SampleStream:
    """Draws augmented samples from real tracks and synthetic sequences.

    Args:
        real: real tracks, or ``None``.
        synthetic: synthetic generator, or ``None``.
    """

    def __init__(self, real: RealTracks | None, synthetic: SyntheticSequences | None) -> None:
        if real is None and synthetic is None:
            raise InputError("no training data: give real sequences or synthetic assets")
        self.real, self.synthetic = real, synthetic

    def batch(self, rng: np.random.Generator, size: int, length: int, real_fraction: float) -> Batch:
        """A :class:`Batch` of ``size`` sequences of ``length`` frames."""
        samples = []
        for _ in range(size):
            use_real = self.synthetic is None or (self.real is not None and rng.random() < real_fraction)
            s = self.real.sample(rng, length) if use_real else self.synthetic.sample(rng, length)
            samples.append(augment(s, rng))
        return make_batch(samples)
