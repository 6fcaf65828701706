"""The ORL reader: 40 people x 10 images, the person split, canonical crops, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.datasets.orl import load_orl, split_people
from attentrack.tracker.errors import InputError


def test_reads_all_orl_faces(data_dir):
    faces = load_orl(data_dir / "faces" / "orl")
    assert faces.images.shape == (400, 112, 92) and faces.images.dtype == np.uint8
    assert sorted(set(faces.person.tolist())) == list(range(1, 41))
    train, test = split_people(10)
    assert set(train).isdisjoint(test) and len(faces.subset(test)) == 100
    canon = faces.subset([1]).canonical(24)
    assert canon.shape == (10, 24, 24) and 0.0 <= canon.min() and canon.max() <= 1.0


def test_bad_orl_folders(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_orl(tmp_path / "nope")
    (tmp_path / "s1").mkdir()
    with pytest.raises(InputError, match="no ORL images"):
        load_orl(tmp_path)
    (tmp_path / "s1" / "1.pgm").write_bytes(b"garbage")
    with pytest.raises(InputError, match="unreadable"):
        load_orl(tmp_path)
    with pytest.raises(InputError):
        split_people(40)
