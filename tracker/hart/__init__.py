"""HART: Hierarchical Attentive Recurrent Tracking, in PyTorch.

* :mod:`tracker.hart.model`: the model, its per-step functions and typed state.
* :mod:`tracker.hart.modules`: its building blocks.
* :mod:`tracker.hart.losses`: the training loss.
* :mod:`tracker.hart.data`: training sequences (real and synthetic).
* :mod:`tracker.hart.train`: the training loop (``attentrack train hart``).
* :mod:`tracker.hart.evaluate`: held-out evaluation against ``static`` and ``mil``.

The tracker built on it is :class:`tracker.trackers.hart.HARTTracker` (``--model hart``).
"""

from tracker.hart.model import HART, HARTConfig, HARTOutput, HARTState, load_weights, save_weights

__all__ = ["HART", "HARTConfig", "HARTOutput", "HARTState", "load_weights", "save_weights"]
