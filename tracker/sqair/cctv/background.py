"""A camera's median background saved with its fitted weights, and read back from them."""

from __future__ import annotations

import numpy as np
import torch

from attentrack.tracker.sqair.cctv.canvas import ForegroundCanvas


def camera_background(metadata: dict) -> np.ndarray | None:
    """The median background saved with fitted weights (``(H, W)`` uint8 grey levels), from the
    ``metadata`` of a file read by :func:`attentrack.tracker.sqair.model.read_checkpoint`, or None
    when it carries none (e.g. the Moving MNIST weights)."""
    grey = metadata.get("background")
    return None if grey is None else grey.numpy()


def background_extra(canvas: ForegroundCanvas) -> dict:
    """What :func:`attentrack.tracker.sqair.model.save_weights` stores in the metadata of ``canvas``'s median background."""
    grey = canvas.background_image
    return {} if grey is None else {"background": torch.from_numpy(np.clip(np.rint(grey), 0, 255).astype(np.uint8))}
