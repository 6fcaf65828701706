"""A frame source generated on the fly: textured squares bouncing over a fixed background.

Nothing is stored: frame ``i`` is computed from ``i`` and the seed, so a 100,000-frame
"video" costs no disk and the same memory as a 10-frame one. Spell it on the command line
as ``synthetic:frames=100000,size=320x240,objects=2,seed=0`` (every key optional).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from attentrack.tracker.errors import InputError
from attentrack.tracker.frame_source import FrameSource

PREFIX = "synthetic:"
#: the largest side of a synthetic frame, in pixels (8K video)
MAX_SIDE = 8192


@dataclass(frozen=True)
class SyntheticSpec:
    """What a synthetic clip looks like.

    Attributes:
        frames: number of frames.
        width: frame width in pixels.
        height: frame height in pixels.
        objects: number of moving squares.
        seed: seed of the background, the textures and the motions.
    """

    frames: int = 300
    width: int = 320
    height: int = 240
    objects: int = 2
    seed: int = 0

    @classmethod
    def parse(cls, spec: str) -> "SyntheticSpec":
        """Read ``synthetic:frames=N,size=WxH,objects=K,seed=S`` (keys optional, any order).

        Raises:
            InputError: an unknown key or a value that is not a positive integer.
        """
        body = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
        values: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in body.split(","))):
            key, sep, val = part.partition("=")
            key = key.strip()
            try:
                if key == "size" and sep:
                    w, _, h = val.lower().partition("x")
                    values["width"], values["height"] = int(w), int(h)
                elif key in ("frames", "objects", "seed") and sep:
                    values[key] = int(val)
                else:
                    raise InputError(f"{spec}: unknown key {key!r}; use frames=N,size=WxH,objects=K,seed=S")
            except ValueError:
                raise InputError(f"{spec}: {part!r} is not KEY=INTEGER (size=WIDTHxHEIGHT)") from None
        out = cls(**values)
        if out.frames < 1 or out.width < 32 or out.height < 32 or out.objects < 0 or out.seed < 0:
            raise InputError(f"{spec}: need frames >= 1, size >= 32x32, objects >= 0, seed >= 0")
        if max(out.width, out.height) > MAX_SIDE:
            raise InputError(f"{spec}: size {out.width}x{out.height} is too large (at most {MAX_SIDE} pixels a side)")
        return out

    @property
    def text(self) -> str:
        """The canonical spelling, ``synthetic:frames=...,size=WxH,objects=...,seed=...``."""
        return f"{PREFIX}frames={self.frames},size={self.width}x{self.height},objects={self.objects},seed={self.seed}"


class SyntheticSource(FrameSource):
    """Frames of :class:`SyntheticSpec`, generated one at a time.

    Square ``k`` has side ``s_k`` and moves at a constant velocity, reflecting off the
    frame borders (so its position at frame ``i`` is a closed-form function of ``i``).

    Args:
        spec: the clip, or its ``synthetic:...`` spelling.
        name: the source's name (default ``synthetic``).
    """

    def __init__(self, spec: SyntheticSpec | str, name: str = "synthetic") -> None:
        self.spec = SyntheticSpec.parse(spec) if isinstance(spec, str) else spec
        s = self.spec
        self.name, self.fps, self.size, self.frame_count, self.live = name, 25.0, (s.width, s.height), s.frames, False
        rng = np.random.default_rng(s.seed)
        noise = rng.uniform(40, 140, (s.height, s.width, 3))
        self._background = cv2.GaussianBlur(noise, (0, 0), 3).astype(np.uint8)
        side = max(8, min(s.width, s.height) // 6)
        self._sides = rng.integers(side // 2, side + 1, s.objects)
        self._start = np.stack([rng.uniform(0, s.width - self._sides), rng.uniform(0, s.height - self._sides)], 1) \
            if s.objects else np.zeros((0, 2))
        self._velocity = rng.uniform(-3, 3, (s.objects, 2))
        self._patches = [(rng.integers(0, 2, (int(k) // 4 + 1, int(k) // 4 + 1, 1)) * 200 + 30)
                         .repeat(4, 0).repeat(4, 1)[:k, :k].repeat(3, 2).astype(np.uint8) for k in self._sides]

    def boxes(self, index: int) -> np.ndarray:
        """``(objects, 4)`` ``x, y, w, h`` pixel boxes of the squares in frame ``index`` (0-based)."""
        span = np.stack([self.spec.width - self._sides, self.spec.height - self._sides], 1).astype(float)
        pos = self._start + index * self._velocity
        period = 2 * np.maximum(span, 1)
        pos = np.mod(pos, period)
        pos = np.where(pos > span, period - pos, pos)  # reflect off the borders
        pos = np.round(pos)
        return np.concatenate([pos, np.stack([self._sides, self._sides], 1)], 1).astype(float)

    def frame(self, index: int) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 BGR frame ``index`` (0-based)."""
        img = self._background.copy()
        for (x, y, w, h), patch in zip(self.boxes(index).astype(int), self._patches):
            img[y:y + h, x:x + w] = patch
        return img

    def __iter__(self):
        for i in range(self.spec.frames):
            yield i, self.frame(i)
