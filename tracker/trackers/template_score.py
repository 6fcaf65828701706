"""An honest score for trackers that have none of their own: how much the box still looks
like the object did when it was started.

The score is the normalised cross-correlation of the grey patch under the box with the
patch under the first box, both resampled to :data:`SIDE` x :data:`SIDE` pixels,
zero-mean and unit-norm; it is clipped to ``[0, 1]`` (1: the same pattern, up to
brightness and contrast; 0: unrelated or inverted). It needs no training and costs about
0.05 ms per box. A box outside the frame, or a flat patch (no texture to compare),
scores 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from attentrack.tracker.boxes import clip_to_frame

#: side in pixels of the square every patch is resampled to
SIDE = 32


def grey_patch(frame: np.ndarray, box) -> np.ndarray | None:
    """The zero-mean, unit-norm grey patch under ``box``.

    Args:
        frame: ``(H, W, 3)`` uint8 BGR (or ``(H, W)`` grey) image.
        box: ``(4,)`` ``x, y, w, h`` in pixels.

    Returns:
        ``(SIDE, SIDE)`` float32, or ``None`` when the box holds less than 2 x 2 pixels of
        the frame or the patch is flat.
    """
    height, width = frame.shape[:2]
    x, y, w, h = clip_to_frame(np.asarray(box, dtype=np.float64).reshape(1, 4), width, height)[0]
    x0, y0, x1, y1 = int(np.floor(x)), int(np.floor(y)), int(np.ceil(x + w)), int(np.ceil(y + h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    patch = frame[y0:y1, x0:x1]
    if patch.ndim == 3:
        patch = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    patch = cv2.resize(patch, (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    patch -= patch.mean()
    norm = float(np.linalg.norm(patch))
    return patch / norm if norm > 1e-3 else None


def template_score(template: np.ndarray | None, frame: np.ndarray, box) -> float:
    """Similarity in ``[0, 1]`` of the patch under ``box`` to ``template``
    (a :func:`grey_patch` of the first box); 0 when either patch is missing."""
    patch = grey_patch(frame, box)
    if template is None or patch is None:
        return 0.0
    return float(np.clip(np.sum(template * patch), 0.0, 1.0))
