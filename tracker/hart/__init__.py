"""HART: Hierarchical Attentive Recurrent Tracking, in PyTorch.

* :mod:`attentrack.tracker.hart.model`: the model, its per-step functions and typed state.
* :mod:`attentrack.tracker.hart.modules`: its building blocks.
* :mod:`attentrack.tracker.hart.losses`: the training loss.
* :mod:`attentrack.tracker.hart.data`: training sequences (real and synthetic).
* :mod:`attentrack.tracker.hart.train`: the training loop (``attentrack train hart``).
* :mod:`attentrack.tracker.hart.evaluate`: held-out evaluation against ``static`` and ``mil``.

The tracker built on it is :class:`attentrack.tracker.trackers.hart.HARTTracker` (``--model hart``).
"""

from attentrack.tracker.hart.model import HART, HARTConfig, HARTOutput, HARTState, load_weights, save_weights

__all__ = ["HART", "HARTConfig", "HARTOutput", "HARTState", "load_weights", "save_weights"]
