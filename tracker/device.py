"""Choosing the torch device: ``auto`` means CUDA when present, else CPU."""

from __future__ import annotations

from attentrack.tracker.errors import InputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto"):
    """Return a ``torch.device`` for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r} asked for, but no CUDA device is available")
        return torch.device(name)
    raise InputError(f"unknown device {name!r}; use auto, cpu or cuda")
