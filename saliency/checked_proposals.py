"""Background-subtraction proposals checked by the pedestrian classifier.

:class:`PedestrianCheckedProposer` is the MOG2 proposer
(:class:`attentrack.tracker.proposals.MOG2Proposer`) that keeps only the objects around which
a saliency classifier (the shipped ``pedestrian`` one by default) sees a pedestrian: it drops
the moving things that are no one (reflections in shop windows, a swaying sign, light on the
floor) and keeps parts and groups of people, which the classifier was trained to call
pedestrian. Choose it with ``--proposals mog2-pedestrian``; it is for footage of people (the
plain ``mog2`` proposer serves any moving object).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from attentrack.saliency.data import PATCH, PED_SCALE, crop_padded
from attentrack.saliency.models import load_classifier
from attentrack.saliency.prior import class_index
from attentrack.tracker.device import resolve_device
from attentrack.tracker.errors import InputError
from attentrack.tracker.proposals import MOG2Proposer

#: the classifier's patches in training were 1.24 times as tall as a pedestrian: 96 px at half
#: size (192 frame pixels) against TUD-Stadtmitte's median pedestrian of 155 px
PATCH_PER_HEIGHT = PATCH / PED_SCALE / 155.0


class PedestrianCheckedProposer(MOG2Proposer):
    """MOG2 proposals kept only where the classifier sees a pedestrian.

    Each proposal is shown to the classifier as a square patch about its centre,
    ``PATCH_PER_HEIGHT`` times the larger of its height and the typical object's height (so a
    part of a person is seen with the person around it, at the scale the classifier was
    trained on), resized to the classifier's patch size; it is kept when the probability of
    ``target`` is at least ``min_probability``. The proposal's score becomes that probability.

    Args:
        classifier: shipped name (``pedestrian``) or ``.pt`` of a saliency classifier.
        target: class name or index to keep (default: the classifier's last class).
        min_probability: least probability of ``target`` to keep a proposal.
        device: ``auto``, ``cpu`` or ``cuda``.
        mog2_options: options of :class:`MOG2Proposer` (``open_height`` ...), the proposals checked.
    """

    proposer_id = "mog2-pedestrian"

    def __init__(self, classifier: str = "pedestrian", target: str | None = None, min_probability: float = 0.5,
                 device: str = "auto", **mog2_options) -> None:
        super().__init__(**mog2_options)
        if not 0 <= min_probability <= 1:
            raise InputError(f"min_probability must be in [0, 1], got {min_probability}")
        self.device = resolve_device(device)
        self.classifier = load_classifier(classifier, self.device)
        if self.classifier.config.in_channels != 3:
            raise InputError(f"checked proposals need a classifier of colour frames; {classifier!r} takes "
                             f"{self.classifier.config.in_channels}-channel images")
        self.target = class_index(self.classifier.config.classes, target)
        self.min_probability = min_probability

    def probabilities(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """The classifier's probability of the target around each of ``boxes``.

        Args:
            frame: ``(H, W, 3)`` BGR uint8.
            boxes: ``(N, 4)`` ``x, y, w, h`` in pixels.

        Returns:
            ``(N,)`` probabilities in ``[0, 1]``.
        """
        if len(boxes) == 0:
            return np.zeros(0)
        typical = self.typical_size()
        least_height = typical[1] if typical is not None else 0.0
        patches = []
        for x, y, w, h in np.asarray(boxes, dtype=np.float64):
            side = max(2, int(round(PATCH_PER_HEIGHT * max(h, least_height))))
            x0, y0 = int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2))
            patches.append(cv2.resize(crop_padded(frame, x0, y0, side), (PATCH, PATCH), interpolation=cv2.INTER_AREA))
        batch = self.classifier.prepare(patches, resize=False).to(self.device)
        with torch.no_grad():
            logits = self.classifier(batch)
        if self.classifier.config.multilabel:
            chosen = torch.sigmoid(logits[:, self.target])
        else:
            chosen = torch.softmax(logits, dim=1)[:, self.target]
        return chosen.cpu().numpy().astype(np.float64)

    def propose(self, frame):
        """MOG2's proposals in ``frame`` around which the classifier sees the target, scored by
        its probability."""
        boxes, _ = super().propose(frame)
        probability = self.probabilities(frame, boxes)
        keep = probability >= self.min_probability
        return boxes[keep], probability[keep]
