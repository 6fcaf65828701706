"""The registry of generative models: subclass :class:`GenerativeModel` with a ``model_id``.

Weights files written by :func:`save_weights` hold ``{"model_id", "config", "state_dict",
"extra"}`` with only tensors, strings, numbers, lists and dicts, so they load with
``torch.load(..., weights_only=True)``; :func:`load_weights` rebuilds the registered model.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import GENERATIVE_MODELS


class ConfigDict:
    """``to_dict``/``from_dict`` for the config dataclasses of the models (unknown keys are rejected)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config fields {sorted(unknown)}")
        return cls(**d)


class GenerativeModel(nn.Module):
    """Base of the registered generative models.

    Subclasses set a class-level ``model_id`` (``class DRAW(GenerativeModel, model_id="draw")``)
    and take one argument, a config dataclass with ``to_dict``/``from_dict``, stored as
    ``self.config``.
    """

    model_id: ClassVar[str] = ""
    config_class: ClassVar[type] = object

    def __init_subclass__(cls, model_id: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if model_id:
            cls.model_id = model_id
            GENERATIVE_MODELS.register_subclass(cls)


def save_weights(model: GenerativeModel, path: str | os.PathLike, extra: dict[str, str] | None = None) -> None:
    """Write a model's weights and config atomically (loadable with ``weights_only=True``)."""
    from attentrack.tracker.atomic import AtomicPath

    ap = AtomicPath(path)
    try:
        torch.save({"model_id": model.model_id, "config": model.config.to_dict(),
                    "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                    "extra": dict(extra or {})}, ap.tmp)
    except BaseException:
        ap.abort()
        raise
    ap.commit()


def load_weights(path: str | os.PathLike, expect: str | None = None) -> GenerativeModel:
    """Rebuild a registered model from a weights file.

    Args:
        path: a file written by :func:`save_weights`.
        expect: the required ``model_id`` (``None``: any).

    Raises:
        InputError: a missing or unreadable file, or weights of another model.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"weights file not found: {p}")
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
        model_id = blob["model_id"]
        cls = GENERATIVE_MODELS[model_id]
    except Exception as exc:
        raise InputError(f"{p}: not a generative-model weights file ({type(exc).__name__})") from None
    if expect is not None and model_id != expect:
        raise InputError(f"{p}: holds {model_id!r} weights, expected {expect!r}")
    try:
        model = cls(cls.config_class.from_dict(blob["config"]))
        model.load_state_dict(blob["state_dict"])
    except Exception as exc:
        raise InputError(f"{p}: weights do not fit the {model_id!r} model ({type(exc).__name__}: {exc})"[:300]) from None
    model.eval()
    return model
