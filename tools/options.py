"""Click helpers shared by the commands: model options built from the registry, box parsing."""

from __future__ import annotations

import click
import numpy as np

from attentrack.tracker.base import available_trackers, tracker_params
from attentrack.tracker.boxes import parse_box
from attentrack.tracker.errors import InputError


def parse_init(values: tuple[str, ...]) -> np.ndarray | None:
    """``--init`` values (each ``x,y,w,h``, or several joined by ``;``) -> ``(N, 4)`` boxes."""
    boxes = []
    for value in values:
        for part in value.split(";"):
            if part.strip():
                boxes.append(parse_box(part.strip()))
    return np.asarray(boxes) if boxes else None


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    """``-p NAME=VALUE`` pairs -> dict."""
    out = {}
    for value in values:
        name, sep, val = value.partition("=")
        if not sep or not name.strip():
            raise InputError(f"model option {value!r} must look like NAME=VALUE")
        out[name.strip().replace("-", "_")] = val.strip()
    return out


def models_help() -> str:
    """One line per registered model, with its options (from ``__init__`` signatures)."""
    lines = []
    for name, cls in available_trackers().items():
        opts = ", ".join(
            f"{p.name}={p.default!r}" for p in tracker_params(cls) if p.name not in ("device",)
        )
        lines.append(f"{name}: {cls.summary or cls.__doc__.splitlines()[0]}" + (f" [options: {opts}]" if opts else ""))
    return "\n".join(lines)


def model_choice_callback(ctx, param, value):
    """Validate ``--model`` names against the registry (one-line error listing choices)."""
    names = available_trackers()
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if v not in names:
            raise click.BadParameter(f"unknown model {v!r}; available: {', '.join(names)}")
    return value


def model_options(name: str, params: dict[str, str], device: str | None = None, weights: str | None = None) -> dict:
    """The constructor options for model ``name``: ``-p`` pairs plus ``--device`` and
    ``--weights`` where the model takes them (an error when it does not take weights)."""
    cls = available_trackers()[name]
    accepted = {p.name for p in tracker_params(cls)}
    opts = dict(params)
    if device is not None and "device" in accepted:
        opts.setdefault("device", device)
    if weights:
        if "weights" not in accepted:
            raise InputError(f"model {name!r} takes no weights")
        opts["weights"] = weights
    return opts
