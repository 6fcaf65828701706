"""The code stays clean under the project's ruff configuration (``[tool.ruff]`` in pyproject.toml:
pyflakes, isort, pydocstyle with the Google convention, pycodestyle), as CONTRIBUTING.md says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_ruff_check_passes():
    ruff = pytest.importorskip("ruff.__main__", reason="ruff is not installed (it comes with the dev extra)")
    proc = subprocess.run([ruff.find_ruff_bin(), "check", "--no-cache", "--output-format", "concise", "."],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
