"""Fixtures of the generative-model tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run the test's small tensor work on one torch thread (on a busy machine, a second
    spinning thread makes tiny ops many times slower); restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
