"""Converting weights files of the layouts attentrack wrote before :data:`~attentrack.tracker.weights_file.FORMAT` 1.

Until then each model family had its own layout:

========================  ==========================================================================
family                    layout (``torch.load(weights_only=True)``)
========================  ==========================================================================
HART                      ``{"format": "attentrack-hart-1", "config": dict, "state_dict", **extras}``
SQAIR                     ``{"model": "sqair", "config": JSON, "state_dict", **extras}`` (``background``:
                          a fitted camera's median background, uint8)
DRAW, alignDRAW,          ``{"model_id", "config": dict, "state_dict", "extra": {"training": JSON}}``
digit classifier
face model                ``{"format": "attentrack-face-1", "config": JSON, "vae", "proposer",
                          "background", "meta": JSON}`` (three state dicts)
saliency classifiers      ``{"config": dict, "state_dict", "info": dict}``
========================  ==========================================================================

:func:`upgrade_file` (``attentrack weights upgrade OLD NEW``) rewrites one of them in the one
format; the models themselves read only the new one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from attentrack.tracker.errors import InputError
from attentrack.tracker.weights_file import FORMAT, old_model_id, read_torch_file, save_weights


def _json(value: Any) -> Any:
    """A JSON string decoded (old files stored configs and notes as JSON); other values as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def upgrade(blob: Any) -> tuple[str, dict, dict[str, torch.Tensor], dict[str, Any]]:
    """``(model_id, config, state_dict, metadata)`` of an old-layout weights file's contents.

    Raises:
        InputError: ``blob`` is in none of the old layouts.
    """
    model_id = old_model_id(blob)
    if model_id == "hart":
        rest = {k: _json(v) for k, v in blob.items() if k not in ("format", "config", "state_dict")}
        return model_id, dict(blob["config"]), dict(blob["state_dict"]), rest
    if model_id == "sqair":
        rest = {k: _json(v) for k, v in blob.items() if k not in ("model", "config", "state_dict")}
        return model_id, dict(_json(blob["config"])), dict(blob["state_dict"]), rest
    if model_id == "face":
        state = {f"{part}.{k}": v for part in ("vae", "proposer", "background") for k, v in blob[part].items()}
        return model_id, dict(_json(blob["config"])), state, dict(_json(blob.get("meta", "{}")))
    if model_id == "saliency-classifier":
        return model_id, dict(blob["config"]), dict(blob["state_dict"]), {"training": dict(blob["info"])}
    if model_id:
        extra = {k: _json(v) for k, v in dict(blob["extra"]).items()}
        return model_id, dict(blob["config"]), dict(blob["state_dict"]), extra
    raise InputError("not a weights file of an older attentrack layout")


def upgrade_file(old: str | os.PathLike, new: str | os.PathLike) -> str:
    """Rewrite the old-layout weights file ``old`` as ``new`` in the one format (atomically).

    Returns:
        the model's id.

    Raises:
        InputError: ``old`` is missing, unreadable, already in the new format or in no known layout.
    """
    blob = read_torch_file(old, "weights")
    if isinstance(blob, dict) and blob.get("format") == FORMAT and "model_id" in blob:
        raise InputError(f"{old} is already in weights format {FORMAT}")
    if not old_model_id(blob):
        raise InputError(f"{old} is not an attentrack weights file of an older layout")
    model_id, config, state, metadata = upgrade(blob)
    save_weights(Path(new), model_id, config, state, metadata)
    return model_id
