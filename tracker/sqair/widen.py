"""Growing a trained SQAIR's appearance path without changing what it computes.

When one object renders its digit too blurrily, a second object on the residual buys more
likelihood than it costs in prior, and SQAIR splits digits. :func:`widen_appearance` gives the
appearance path (glimpse decoder, glimpse encoders, ``what`` heads) more hidden units, so a
trained model can be fine-tuned with more capacity there (on Moving MNIST this alone did not
count better; see the model card), function-preservingly in the Net2Net sense: every old unit
keeps its weights, every new hidden unit gets fresh random input weights and zero weights into
the old units, so the grown model's outputs equal the old model's exactly until training moves
the new weights.
"""

from __future__ import annotations

import torch

from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.config import SQAIRConfig
from attentrack.tracker.sqair.model import SQAIR

APPEARANCE_MODULES = ("decoder", "prop_glimpse_enc", "prop_what", "disc_glimpse_enc", "disc_what")
"""Attributes of :class:`SQAIR` whose hidden layers ``glimpse_hidden`` sizes."""


def _embed(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """``new`` with ``old`` in its leading block; for a weight ``(out, in)``, the old outputs'
    weights from the new inputs are zero (so the new units cannot change the old outputs)."""
    out = new.clone()
    if old.dim() == 0:  # a scalar (the scaled decoder's output scale) keeps its value
        return old.clone()
    if old.dim() == 1:
        out[: old.shape[0]] = old
        return out
    n_out, n_in = old.shape
    out[:n_out, :n_in] = old
    out[:n_out, n_in:] = 0.0
    return out


def widen_appearance(model: SQAIR, glimpse_hidden: int, seed: int = 0) -> SQAIR:
    """A copy of ``model`` whose appearance path has ``glimpse_hidden`` hidden units.

    Args:
        model: a SQAIR model.
        glimpse_hidden: the new width; at least the current one (``config.appearance_hidden``).
        seed: seed of the new units' random input weights.

    Returns:
        a new model (``config.glimpse_hidden = glimpse_hidden``) computing the same function.

    Raises:
        InputError: a width smaller than the current one, or a decoder other than ``mlp``.
    """
    old_width = model.config.appearance_hidden
    if model.config.decoder != "mlp":
        raise InputError(f"only the mlp glimpse decoder can be widened, not {model.config.decoder!r}")
    if glimpse_hidden < old_width:
        raise InputError(f"glimpse_hidden can only grow when fine-tuning: {glimpse_hidden} < {old_width}")
    config = SQAIRConfig.from_dict({**model.config.to_dict(), "glimpse_hidden": int(glimpse_hidden)})
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        grown = SQAIR(config)
    old_state = model.state_dict()
    state = grown.state_dict()
    for name, new in state.items():
        old = old_state[name]
        if name.split(".")[0] in APPEARANCE_MODULES:
            state[name] = _embed(old, new)
        elif old.shape != new.shape:  # only the appearance path may change shape
            raise AssertionError(f"{name} changed shape outside the appearance path")
        else:
            state[name] = old.clone()
    grown.load_state_dict(state)
    grown.train(model.training)
    return grown
