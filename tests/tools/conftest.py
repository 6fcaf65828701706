"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest


def _generative_smoke_args(tmp_path, data_dir_or_none):
    """``{command: argv}`` of cheap real invocations of the generative commands (``None``:
    needs the data folder); they write under ``tmp_path``."""
    d = data_dir_or_none
    tiny = ["--steps", "1", "--batch", "2", "--no-progress", "--val-every", "0"]
    return {
        "generate": ["generate", "the digit seven is at the top right of the image", "-o", tmp_path / "g.png",
                     "-n", "2", "--gif", tmp_path / "g.gif"],
        "train draw": None if d is None else [
            "train", "draw", "--data", d, "--out", tmp_path / "draw", *tiny, "--glimpses", "2", "--units", "8",
            "--latent", "2"],
        "train aligndraw": None if d is None else [
            "train", "aligndraw", "--data", d, "--out", tmp_path / "aligndraw", *tiny, "--glimpses", "2", "--units", "8",
            "--latent", "2", "--lang-units", "4"],
        "train caption-classifier": None if d is None else [
            "train", "caption-classifier", "--data", d, "--out", tmp_path / "clf", *tiny],
        "eval draw": None if d is None else ["eval", "draw", "--data", d, "--count", "20", "--json"],
        "eval aligndraw": None if d is None else ["eval", "aligndraw", "--data", d, "--images", "2", "--json"],
    }


@pytest.fixture(scope="session")
def generative_smoke_args():
    """``generative_smoke_args(tmp_path, data_dir_or_none)``: ``{command: argv}`` of the
    generative commands, for the CLI smoke test."""
    return _generative_smoke_args
