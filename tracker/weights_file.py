"""The one weights format of every attentrack model, and its one loader.

A weights file is a ``torch.save`` of one dict, loadable with ``torch.load(weights_only=True)``::

    {"format": 1,                  # FORMAT, the version of this layout
     "model_id": "hart",           # which model the tensors belong to
     "config": {...},              # the model's settings, plain types (str, int, float, bool, list, dict)
     "state_dict": {name: tensor}, # the model's parameters and buffers
     "metadata": {...}}            # how it was made (training summary, data, ...); plain types or tensors

:func:`save_weights` writes one atomically; :func:`load_weights` reads one for every model and
turns each problem a user can cause into a one-line :class:`InputError` naming the file: a
missing file, a file torch cannot read, a file of another model, a file of an older format (with
the command that converts it), tensors holding NaN or infinity. :meth:`WeightsFile.build` adds
the last two: a config this version cannot build and tensors that do not fit the model.
:func:`read_torch_file` and :func:`save_torch_file` are the same reading and atomic writing for
other torch files (training checkpoints, third-party ``state_dict`` files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch
from torch import nn

from attentrack.tracker.errors import InputError

#: version of the layout written by :func:`save_weights`
FORMAT = 1

#: how errors name the models whose weights attentrack ships or trains
MODEL_NAMES = {
    "hart": "HART", "sqair": "SQAIR", "draw": "DRAW", "aligndraw": "alignDRAW",
    "digit-classifier": "digit classifier", "face": "face model", "saliency-classifier": "saliency classifier",
}

M = TypeVar("M")


def model_name(model_id: str) -> str:
    """``"SQAIR weights (sqair)"``: how a message names the weights of ``model_id``."""
    name = MODEL_NAMES.get(model_id)
    return f"{name} weights ({model_id})" if name else f"{model_id!r} weights"


def save_torch_file(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically: an interrupted write leaves the old file (if any)
    in place and no partial file under the final name."""
    from attentrack.tracker.atomic import AtomicPath

    ap = AtomicPath(path)
    try:
        torch.save(obj, ap.tmp)
    except BaseException:
        ap.abort()
        raise
    return ap.commit()


def read_torch_file(path: str | os.PathLike, what: str = "weights") -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU.

    Args:
        path: the file.
        what: how messages name the file (``"weights"``, ``"checkpoint"``).

    Raises:
        InputError: the file is missing or is not a torch file of tensors and plain types.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file not found: {p}")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every unpickling failure is a bad file
        raise InputError(f"{p} is not a readable torch {what} file ({type(exc).__name__})") from None


def read_state_dict(path: str | os.PathLike, what: str = "weights") -> dict[str, torch.Tensor]:
    """The ``state_dict`` in a third-party file (a bare ``state_dict``, or a dict holding one under
    ``"state_dict"``, as attentrack's own weights files do), checked for NaN and infinity.

    Raises:
        InputError: a missing or unreadable file, no ``state_dict``, or non-finite tensors.
    """
    blob = read_torch_file(path, what)
    if isinstance(blob, dict) and isinstance(blob.get("state_dict"), dict):
        blob = blob["state_dict"]
    if not isinstance(blob, dict) or not all(isinstance(v, torch.Tensor) for v in blob.values()):
        raise InputError(f"{path} holds no state_dict (a dict of tensors)")
    check_finite(blob, path)
    return blob


def check_finite(state_dict: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Raise :class:`InputError` naming the first floating-point tensor with NaN or infinite values."""
    for name, t in state_dict.items():
        if t.is_floating_point() or t.is_complex():
            if torch.isnan(t).any():
                raise InputError(f"{path}: tensor {name} holds NaN values (the weights are broken)")
            if torch.isinf(t).any():
                raise InputError(f"{path}: tensor {name} holds infinite values (the weights are broken)")


def save_weights(path: str | os.PathLike, model_id: str, config: dict[str, Any],
                 state_dict: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None) -> Path:
    """Write a weights file atomically (see the module docstring for its layout).

    Args:
        path: the ``.pt`` file to write.
        model_id: the model's id (``hart``, ``sqair``, ``draw``, ...).
        config: the model's settings (plain types only).
        state_dict: the model's tensors (copied to the CPU, detached).
        metadata: how the weights were made (plain types; tensors allowed).

    Returns:
        the path written.
    """
    return save_torch_file({"format": FORMAT, "model_id": str(model_id), "config": dict(config),
                            "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
                            "metadata": dict(metadata or {})}, path)


@dataclass
class WeightsFile:
    """The contents of a weights file read by :func:`load_weights`.

    Attributes:
        path: the file (named in errors).
        model_id: the model the weights belong to.
        config: the model's settings.
        state_dict: the tensors.
        metadata: how the weights were made.
    """

    path: Path
    model_id: str
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any] = field(default_factory=dict)

    def parse_config(self, parse: Callable[[dict[str, Any]], M]) -> M:
        """``parse(config)`` (e.g. a config class's ``from_dict``, or a model's constructor).

        Raises:
            InputError: ``parse`` refuses the config: a setting this version does not know or
                cannot build.
        """
        try:
            return parse(dict(self.config))
        except (InputError, TypeError, ValueError, KeyError) as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise InputError(f"{self.path}: this version of attentrack cannot build its "
                             f"{self.model_id} config ({first})") from None

    def build(self, make: Callable[[dict[str, Any]], M], module: Callable[[M], nn.Module] | None = None) -> M:
        """Build the model from :attr:`config` and load the tensors into it.

        Args:
            make: ``make(config) -> model``.
            module: the ``nn.Module`` holding the tensors of what ``make`` returns (default:
                the model itself).

        Raises:
            InputError: ``make`` refuses the config (:meth:`parse_config`), or the tensors do
                not fit the model (:meth:`load_into`).
        """
        model = self.parse_config(make)
        self.load_into(module(model) if module is not None else model)
        return model

    def load_into(self, module: nn.Module) -> None:
        """Load :attr:`state_dict` into ``module``, every tensor name and shape checked.

        Raises:
            InputError: a missing or unexpected tensor, or one of another shape.
        """
        own = module.state_dict()
        missing = [k for k in own if k not in self.state_dict]
        if missing:
            raise InputError(f"{self.path}: {len(missing)} tensor(s) of the {self.model_id} model are missing, "
                             f"e.g. {missing[0]}")
        for k, v in self.state_dict.items():
            if k not in own:
                raise InputError(f"{self.path}: unexpected tensor {k} for the {self.model_id} model")
            if tuple(v.shape) != tuple(own[k].shape):
                raise InputError(f"{self.path}: tensor {k} has shape {tuple(v.shape)}, "
                                 f"the {self.model_id} model needs {tuple(own[k].shape)}")
        module.load_state_dict(self.state_dict)


def old_model_id(blob: Any) -> str:
    """The ``model_id`` of a weights file in a layout older than :data:`FORMAT` (converted by
    :mod:`attentrack.tracker.weights_upgrade`), or ``""`` when ``blob`` is none of them."""
    if not isinstance(blob, dict):
        return ""
    if blob.get("format") == "attentrack-hart-1":
        return "hart"
    if blob.get("model") == "sqair" and "state_dict" in blob:
        return "sqair"
    if blob.get("format") == "attentrack-face-1":
        return "face"
    if "model_id" in blob and "extra" in blob and "state_dict" in blob and "format" not in blob:
        return str(blob["model_id"])
    if set(blob) == {"config", "state_dict", "info"}:
        return "saliency-classifier"
    return ""


def load_weights(path: str | os.PathLike, expect: str | None = None) -> WeightsFile:
    """Read a weights file of any model.

    Args:
        path: a file written by :func:`save_weights`.
        expect: the ``model_id`` the caller needs (``None``: any).

    Returns:
        the file's contents; build the model with :meth:`WeightsFile.build`.

    Raises:
        InputError: a missing or unreadable file, a file of an older format or of another
            model, or tensors holding NaN or infinity (one line naming the file).
    """
    p = Path(path)
    blob = read_torch_file(p, "weights")
    if not isinstance(blob, dict):
        raise InputError(f"{p} is not an attentrack weights file (it holds a {type(blob).__name__})")
    if "model_id" not in blob or blob.get("format") != FORMAT or "state_dict" not in blob:
        old = old_model_id(blob)
        if old:
            raise InputError(f"{p} holds {model_name(old)} in an older attentrack format; convert it once with "
                             f"`attentrack weights upgrade {p} NEW.pt`")
        if "module" in blob and "optimizer" in blob:
            raise InputError(f"{p} is a training checkpoint, not weights; the run writes its weights beside it "
                             f"({blob.get('model_id', 'MODEL')}.pt)")
        if isinstance(blob.get("format"), int) and blob["format"] > FORMAT:
            raise InputError(f"{p} has weights format {blob['format']}; this attentrack reads format {FORMAT} "
                             "(upgrade attentrack)")
        raise InputError(f"{p} is not an attentrack weights file (no model_id, config and state_dict)")
    model_id = str(blob["model_id"])
    if expect is not None and model_id != expect:
        raise InputError(f"{p} holds {model_name(model_id)}, not {expect}")
    state = blob["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{p}: its state_dict is not a dict of tensors")
    if not isinstance(blob.get("config"), dict):
        raise InputError(f"{p}: its config is not a dict")
    check_finite(state, p)
    return WeightsFile(p, model_id, dict(blob["config"]), state, dict(blob.get("metadata") or {}))
