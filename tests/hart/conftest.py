"""Fixtures of the HART tests."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


@pytest.fixture
def fake_mot_sequence(tmp_path):
    """``tmp_path/FAKE-01``: a 12-frame MOTChallenge sequence (128 x 96 JPEGs in ``img1/``,
    ``gt/gt.txt``) with two moving coloured rectangles (no real data needed)."""
    seq = tmp_path / "FAKE-01"
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    rows = []
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 120, (96, 128, 3), dtype=np.uint8)
    for f in range(1, 13):
        im = bg.copy()
        for tid, (x, y, c) in enumerate([(10 + 3 * f, 20, (0, 0, 255)), (90 - 2 * f, 50, (0, 255, 0))], 1):
            cv2.rectangle(im, (x, y), (x + 15, y + 25), c, -1)
            rows.append(f"{f},{tid},{x},{y},16,26,1,-1,-1,-1")
        cv2.imwrite(str(seq / "img1" / f"{f:06d}.jpg"), im)
    (seq / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    return seq
