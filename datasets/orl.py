"""The AT&T (ORL) face database: ``s1..s40/1..10.pgm``, 40 people x 10 grey images of
92x112 pixels, faces roughly centred and upright on a dark plain background.

:data:`CANONICAL_CROP` is the fixed square (``x, y, w, h`` in pixels of a 92x112 image)
taken here as the canonical face: from just above the eyebrows to below the mouth, cheek
to cheek. :meth:`OrlFaces.canonical` cuts and resizes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from attentrack.tracker.errors import InputError

#: ORL image size ``(W, H)`` in pixels
ORL_SIZE = (92, 112)
#: the canonical face square in an ORL image, ``x, y, w, h`` in pixels
CANONICAL_CROP = (16, 32, 60, 60)


@dataclass
class OrlFaces:
    """ORL images with their person ids.

    Attributes:
        images: ``(N, 112, 92)`` uint8 grey images.
        person: ``(N,)`` int person id (1..40, from the folder name ``sK``).
        index: ``(N,)`` int image number within the person (1..10, from the file name).
    """

    images: np.ndarray
    person: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, people) -> "OrlFaces":
        """The images of the given person ids."""
        keep = np.isin(self.person, np.asarray(list(people), dtype=int))
        return OrlFaces(self.images[keep], self.person[keep], self.index[keep])

    def canonical(self, size: int = 24, crop=CANONICAL_CROP) -> np.ndarray:
        """The canonical face squares, resized (area-averaged) to ``size`` x ``size``.

        Returns:
            ``(N, size, size)`` float32 in ``[0, 1]``.
        """
        x, y, w, h = crop
        out = np.empty((len(self), size, size), np.float32)
        for i, im in enumerate(self.images):
            out[i] = cv2.resize(im[y : y + h, x : x + w], (size, size), interpolation=cv2.INTER_AREA) / 255.0
        return out


def split_people(n_test: int = 10, n_people: int = 40) -> tuple[list[int], list[int]]:
    """The fixed person split: training people ``1..n_people-n_test``, held-out people the rest."""
    if not 0 < n_test < n_people:
        raise InputError(f"held-out people must be between 1 and {n_people - 1}, got {n_test}")
    return list(range(1, n_people - n_test + 1)), list(range(n_people - n_test + 1, n_people + 1))


def load_orl(root: str | os.PathLike) -> OrlFaces:
    """Read every ``sK/N.pgm`` under ``root`` (the ``faces/orl`` folder).

    Raises:
        InputError: ``root`` is missing, holds no ``sK`` folders, or an image is unreadable
            or not 92x112.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"ORL faces folder not found: {root}")
    images, person, index = [], [], []
    folders = sorted((p for p in root.iterdir() if p.is_dir() and p.name[1:].isdigit() and p.name[0] == "s"),
                     key=lambda p: int(p.name[1:]))
    for folder in folders:
        files = sorted((f for f in folder.glob("*.pgm") if f.stem.isdigit()), key=lambda f: int(f.stem))
        for f in files:
            im = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if im is None:
                raise InputError(f"unreadable ORL image: {f}")
            if (im.shape[1], im.shape[0]) != ORL_SIZE:
                raise InputError(f"ORL image {f} is {im.shape[1]}x{im.shape[0]}, expected 92x112")
            images.append(im)
            person.append(int(folder.name[1:]))
            index.append(int(f.stem))
    if not images:
        raise InputError(f"no ORL images (sK/N.pgm) under {root}")
    return OrlFaces(np.stack(images), np.asarray(person), np.asarray(index))
