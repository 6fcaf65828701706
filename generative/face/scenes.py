"""Synthetic localisation scenes: real ORL faces placed with random similarity transforms
into real cluttered backgrounds.

Backgrounds are grey frames of the real clips and images in the data folder, split so that
training and testing never share a background source:

* ``train``: ``video/tree.avi`` (every 10th frame), ``mot15/TUD-Campus`` (every 5th) and
  the ten ``kitti`` frames;
* ``test``: ``mot15/TUD-Stadtmitte`` (every 10th), ``sot/Crossing`` and ``sot/bag``
  (every 10th frame each).

People are split too (:func:`attentrack.datasets.orl.split_people`): the test scenes use only held-out
people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from attentrack.datasets.face_tracking import BACKGROUND_CLIPS, fit_width, read_clip
from attentrack.datasets.orl import CANONICAL_CROP, OrlFaces
from attentrack.generative.face.transform import paste_face
from attentrack.tracker.errors import InputError

#: scene size ``(W, H)`` in pixels
SCENE_SIZE = (160, 120)
#: face side range in pixels in the scenes
SIDE_RANGE = (30.0, 80.0)


#: every how many frames of each background clip (:data:`~attentrack.datasets.face_tracking.BACKGROUND_CLIPS`)
#: the scenes take one
BACKGROUND_EVERY = {"tree": 10, "TUD-Campus": 5, "kitti": 1, "TUD-Stadtmitte": 10, "Crossing": 10, "bag": 10}


def load_backgrounds(root: str | Path, split: str) -> list[np.ndarray]:
    """Grey background frames (``(H, W)`` float32 in [0, 1]) of one split (``train`` or ``test``):
    every :data:`BACKGROUND_EVERY`-th frame of each of the split's clips, at most 320 pixels wide
    (scenes are small, and resizing is the cost).

    Raises:
        InputError: an unknown split or none of its sources under ``root``.
    """
    if split not in BACKGROUND_CLIPS:
        raise InputError(f"unknown background split {split!r} (train or test)")
    frames = [f for name, rel in BACKGROUND_CLIPS[split].items()
              for f in read_clip(Path(root) / rel, every=BACKGROUND_EVERY[name], grey=True)]
    if not frames:
        raise InputError(f"no background frames for split {split!r} under {root}")
    return [fit_width(f, 320).astype(np.float32) / 255.0 for f in frames]


def face_squares(faces: OrlFaces, margin: float = 0.0) -> np.ndarray:
    """The canonical squares of ORL faces at full resolution: ``(N, S, S)`` float32 in [0, 1]."""
    x, y, w, h = CANONICAL_CROP
    return np.stack([im[y : y + h, x : x + w] for im in faces.images]).astype(np.float32) / 255.0


@dataclass
class Scenes:
    """A batch of scenes.

    Attributes:
        images: ``(B, H, W)`` float32 grey images in [0, 1].
        u: ``(B, 4)`` true transforms ``cx, cy, s, theta`` (pixels, radians).
    """

    images: np.ndarray
    u: np.ndarray


def random_background(rng: np.random.Generator, backgrounds: list[np.ndarray],
                      size: tuple[int, int] = SCENE_SIZE) -> np.ndarray:
    """A random crop (random scale, the scene's aspect) of a random background, resized to ``size``."""
    w, h = size
    bg = backgrounds[rng.integers(len(backgrounds))]
    bh, bw = bg.shape
    frac = rng.uniform(0.5, 1.0)
    cw = min(bw, int(bh * w / h)) * frac
    ch = cw * h / w
    x0 = rng.uniform(0, bw - cw)
    y0 = rng.uniform(0, bh - ch)
    crop = bg[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
    out = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def relight(rng: np.random.Generator, img: np.ndarray, strength: float) -> np.ndarray:
    """Illumination and camera changes of a whole ``(H, W)`` scene in [0, 1]: a gain gradient across
    the scene (a light from one side, up to ``+-strength``), a gamma of ``exp(N(0, strength))``,
    a blur (sigma up to 1 px) in half the scenes and sensor noise of a random level; returns
    a new image in [0, 1]. ``strength`` 0 returns ``img`` unchanged."""
    if strength <= 0:
        return img
    h, w = img.shape
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = ((xx / w - 0.5) * math.cos(angle) + (yy / h - 0.5) * math.sin(angle)) * 2
    gain = 1 + rng.uniform(-strength, strength) * ramp
    out = np.clip(img * gain, 0, 1) ** math.exp(rng.normal(0, strength))
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out.astype(np.float32), (0, 0), rng.uniform(0.3, 1.0))
    out = out + rng.uniform(0, 0.03) * rng.standard_normal(out.shape).astype(np.float32)
    return np.clip(out, 0, 1).astype(np.float32)


def check_side_range(side_range: tuple[float, float], max_rotation: float,
                     size: tuple[int, int] = SCENE_SIZE) -> None:
    """Raise :class:`InputError` unless ``side_range`` (face sides in pixels, low <= high) leaves
    room for a face of the largest side, rotated by up to ``max_rotation`` radians, inside a
    scene of ``size`` ``(W, H)`` pixels, as :func:`make_scenes` places it."""
    low, high = side_range
    if not 0 < low <= high:
        raise InputError(f"face side range {low:g}..{high:g} px: give two sides with 0 < low <= high")
    turn = min(abs(max_rotation), math.pi / 4)  # the rotation whose bounding square is widest
    worst = math.cos(turn) + math.sin(turn)
    largest = min(size) / worst
    if high > largest:
        raise InputError(f"face side {high:g} px does not fit a {size[0]}x{size[1]} scene when rotated by up to "
                         f"{math.degrees(max_rotation):.0f} degrees; the largest is {math.floor(largest)} px")


def make_scenes(rng: np.random.Generator, squares: np.ndarray, backgrounds: list[np.ndarray], n: int,
                size: tuple[int, int] = SCENE_SIZE, side_range: tuple[float, float] = SIDE_RANGE,
                max_rotation: float = 0.35, noise: float = 0.01, illumination: float = 0.0) -> Scenes:
    """``n`` scenes, each one face (random person, flip, brightness and contrast) placed with a
    random transform (side log-uniform in ``side_range``, rotation uniform in
    ``+-max_rotation``, centre uniform with the rotated square inside the image); with
    ``illumination > 0`` each scene is then relit (:func:`relight`)."""
    w, h = size
    images = np.empty((n, h, w), np.float32)
    us = np.empty((n, 4), np.float64)
    for i in range(n):
        bg = random_background(rng, backgrounds, size)
        face = squares[rng.integers(len(squares))]
        if rng.random() < 0.5:
            face = face[:, ::-1]
        face = np.clip((face - face.mean()) * rng.uniform(0.7, 1.3) + face.mean() + rng.uniform(-0.15, 0.15), 0, 1)
        s = math.exp(rng.uniform(math.log(side_range[0]), math.log(side_range[1])))
        th = rng.uniform(-max_rotation, max_rotation)
        half = 0.5 * s * (abs(math.cos(th)) + abs(math.sin(th)))
        cx = rng.uniform(half, w - half)
        cy = rng.uniform(half, h - half)
        u = np.array([cx, cy, s, th])
        img = paste_face(bg, np.ascontiguousarray(face), u)
        img = np.clip(img + noise * rng.standard_normal(img.shape, dtype=np.float32), 0, 1)
        images[i] = relight(rng, img, illumination)
        us[i] = u
    return Scenes(images, us)
