"""MNIST with captions (after Mansimov et al., ICLR 2016): one or two real MNIST digits on a
60 x 60 canvas, described by a sentence.

Layout: the canvas is split into a 2 x 2 grid of overlapping 32 x 32 cells with top-left
corners at 0 and 28 pixels on each axis; a 28 x 28 digit sits in a cell with a random offset
of 0-4 pixels on each axis (overlapping digits are combined with ``max``).

Captions (``d``, ``a``, ``b`` are digits 0-9)::

    the digit d is at the {top left, top right, bottom left, bottom right} of the image
    the digit a is {on the left of, on the right of, at the top of, at the bottom of} the digit b

Two-digit images share a row (left/right) or a column (top/bottom), chosen at random.
Some compositions are held out of training to test generalisation to unseen ones:
:data:`HELD_OUT_SINGLE` (digit, position) pairs and every relation of the ordered digit
pairs in :data:`HELD_OUT_PAIRS` (``b = (a + 3) mod 10``). Number words (``seven``) are
accepted for digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from attentrack.tracker.errors import InputError

CANVAS = 60
CELL = 32
CELL_ORIGINS = (0, 28)
JITTER = 4
POSITIONS = ("top left", "top right", "bottom left", "bottom right")
RELATIONS = ("on the left of", "on the right of", "at the top of", "at the bottom of")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOCAB = ("<pad>", "the", "digit", *[str(d) for d in range(10)], "is", "at", "on", "of", "top", "bottom",
         "left", "right", "image")
"""Index 0 pads; the other entries are the words of every caption."""
HELD_OUT_SINGLE = frozenset({(0, "top left"), (2, "top right"), (4, "bottom left"), (6, "bottom right"),
                             (8, "top left")})
HELD_OUT_PAIRS = frozenset((a, (a + 3) % 10) for a in range(10))


@dataclass(frozen=True)
class Composition:
    """What a caption says.

    Attributes:
        digits: one digit, or ``(a, b)``.
        position: one of :data:`POSITIONS` (one digit) or of :data:`RELATIONS` (``a`` relative to ``b``).
    """

    digits: tuple[int, ...]
    position: str

    @property
    def caption(self) -> str:
        """The caption of this composition, e.g. ``the digit 3 is at the top left of the image``."""
        if len(self.digits) == 1:
            return f"the digit {self.digits[0]} is at the {self.position} of the image"
        return f"the digit {self.digits[0]} is {self.position} the digit {self.digits[1]}"

    @property
    def held_out(self) -> bool:
        """Whether this composition is kept out of training (:data:`HELD_OUT_SINGLE`, :data:`HELD_OUT_PAIRS`)."""
        if len(self.digits) == 1:
            return (self.digits[0], self.position) in HELD_OUT_SINGLE
        return tuple(self.digits) in HELD_OUT_PAIRS

    def cells(self, line: int) -> list[tuple[int, int]]:
        """The ``(row, col)`` cell of each digit; ``line`` is the shared row (left/right) or
        column (top/bottom) of a two-digit layout (ignored for one digit)."""
        if len(self.digits) == 1:
            r = 0 if self.position.startswith("top") else 1
            return [(r, 0 if self.position.endswith("left") else 1)]
        first, second = {"on the left of": (0, 1), "on the right of": (1, 0),
                         "at the top of": (0, 1), "at the bottom of": (1, 0)}[self.position]
        if self.position in ("on the left of", "on the right of"):
            return [(line, first), (line, second)]
        return [(first, line), (second, line)]


def compositions(kind: str = "all", split: str = "train") -> list[Composition]:
    """Every composition of a kind (``one``, ``two``, ``all``) in a split (``train``: not held
    out; ``held_out``; ``all``)."""
    out = []
    if kind in ("one", "all"):
        out += [Composition((d,), p) for d in range(10) for p in POSITIONS]
    if kind in ("two", "all"):
        out += [Composition((a, b), r) for a in range(10) for b in range(10) for r in RELATIONS]
    if split == "train":
        return [c for c in out if not c.held_out]
    if split == "held_out":
        return [c for c in out if c.held_out]
    return out


def cell_slice(row: int, col: int) -> tuple[slice, slice]:
    """Pixel rows and columns of a cell."""
    y, x = CELL_ORIGINS[row], CELL_ORIGINS[col]
    return slice(y, y + CELL), slice(x, x + CELL)


def render(comp: Composition, digit_images: Sequence[np.ndarray], rng: np.random.Generator,
           line: int | None = None) -> np.ndarray:
    """Draw a composition.

    Args:
        comp: what to draw.
        digit_images: one ``(28, 28)`` float image in ``[0, 1]`` per digit of ``comp``.
        rng: for the offsets (and the shared row/column when ``line`` is ``None``).
        line: shared row or column of a two-digit layout.

    Returns:
        ``(60, 60)`` float32 in ``[0, 1]``.
    """
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    if line is None:
        line = int(rng.integers(0, 2))
    for (row, col), img in zip(comp.cells(line), digit_images):
        dy, dx = rng.integers(0, JITTER + 1, 2)
        y, x = CELL_ORIGINS[row] + dy, CELL_ORIGINS[col] + dx
        np.maximum(canvas[y:y + 28, x:x + 28], img, out=canvas[y:y + 28, x:x + 28])
    return canvas


class CaptionedDigits:
    """An endless stream of captioned canvases built from real digits.

    Args:
        images: ``(N, 28, 28)`` float digits in ``[0, 1]``.
        labels: ``(N,)`` their classes.
        split: ``train`` (held-out compositions never appear) or ``held_out`` or ``all``.
        two_digit_fraction: share of two-digit canvases.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, split: str = "train",
                 two_digit_fraction: float = 0.5) -> None:
        self.images = images
        self.by_class = [np.flatnonzero(labels == d) for d in range(10)]
        if any(len(ix) == 0 for ix in self.by_class):
            raise InputError("captioned digits need examples of every digit 0-9")
        self.one = compositions("one", split)
        self.two = compositions("two", split)
        self.two_digit_fraction = two_digit_fraction

    def sample_composition(self, rng: np.random.Generator) -> Composition:
        """Draw a training composition: a two-digit one with probability ``two_digit_fraction``."""
        pool = self.two if rng.random() < self.two_digit_fraction else self.one
        return pool[int(rng.integers(0, len(pool)))]

    def draw(self, comp: Composition, rng: np.random.Generator) -> np.ndarray:
        """A canvas of ``comp`` with random real digits of the right classes."""
        imgs = [self.images[self.by_class[d][int(rng.integers(0, len(self.by_class[d])))]] for d in comp.digits]
        return render(comp, imgs, rng)

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[Composition]]:
        """``(size, 60, 60)`` canvases and their compositions."""
        comps = [self.sample_composition(rng) for _ in range(size)]
        return np.stack([self.draw(c, rng) for c in comps]), comps


def tokenize(caption: str) -> list[int]:
    """Word indices of a caption in :data:`VOCAB` (lower case; punctuation ignored; number
    words become digits).

    Raises:
        InputError: an empty caption or a word outside the vocabulary (the message lists it).
    """
    words = re.findall(r"[a-z0-9<>]+", caption.lower())
    words = [str(NUMBER_WORDS.index(w)) if w in NUMBER_WORDS else w for w in words]
    vocab_line = " ".join(VOCAB[1:])
    if not words:
        raise InputError(f"empty caption; use words of the vocabulary: {vocab_line}")
    unknown = [w for w in words if w not in VOCAB or w == "<pad>"]
    if unknown:
        raise InputError(f"unknown word(s) {', '.join(repr(w) for w in dict.fromkeys(unknown))} in caption;"
                         f" vocabulary: {vocab_line} (and number words zero..nine)")
    return [VOCAB.index(w) for w in words]


def encode_captions(captions: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Tokenise and pad captions: ``(B, L)`` int64 word indices (0 pads) and ``(B,)`` lengths."""
    toks = [tokenize(c) for c in captions]
    lengths = np.array([len(t) for t in toks], np.int64)
    out = np.zeros((len(toks), int(lengths.max())), np.int64)
    for i, t in enumerate(toks):
        out[i, :len(t)] = t
    return out, lengths
