"""Shared fixtures: the real data folder (tests skip with a reason when it is absent)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

from attentrack.datasets.paths import data_root  # noqa: E402


@pytest.fixture(scope="session")
def data_dir():
    """``../shared/data`` (or ``$ATTENTRACK_DATA``); skips the test when absent."""
    root = data_root()
    if root is None:
        pytest.skip("real data folder not found: set ATTENTRACK_DATA or place ../shared/data beside the checkout")
    return root
