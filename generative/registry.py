"""The registry of generative models: subclass :class:`GenerativeModel` with a ``model_id``.

Weights files are in the one weights format (:mod:`attentrack.tracker.weights_file`):
:func:`save_weights` writes one, :func:`load_weights` rebuilds the registered model.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar

from torch import nn

from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import GENERATIVE_MODELS


class ConfigDict:
    """``to_dict``/``from_dict`` for the config dataclasses of the models (unknown keys are rejected)."""

    def to_dict(self) -> dict:
        """The config as a JSON-ready dict (the weights file's ``config``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        """A config from :meth:`to_dict`'s output; an unknown field is a :class:`ValueError`."""
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


def save_weights(model: GenerativeModel, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """Write a model in the one weights format (:mod:`attentrack.tracker.weights_file`), atomically."""
    from attentrack.tracker.weights_file import save_weights as write_weights

    write_weights(path, model.model_id, model.config.to_dict(), model.state_dict(), metadata)


def load_weights(path: str | os.PathLike, expect: str | None = None) -> GenerativeModel:
    """Rebuild a registered model (in evaluation mode) from a weights file.

    Args:
        path: a file written by :func:`save_weights`.
        expect: the required ``model_id`` (``None``: any registered generative model).

    Raises:
        InputError: a missing, unreadable or broken file, weights of another model, or a
            config or tensors this version cannot build.
    """
    from attentrack.tracker.weights_file import load_weights as read_weights
    from attentrack.tracker.weights_file import model_name

    weights = read_weights(path, expect=expect)
    if weights.model_id not in GENERATIVE_MODELS:
        raise InputError(f"{path} holds {model_name(weights.model_id)}, not a generative model's "
                         f"({', '.join(GENERATIVE_MODELS.names())})")
    cls = GENERATIVE_MODELS[weights.model_id]
    return weights.build(lambda config: cls(cls.config_class.from_dict(config))).eval()
