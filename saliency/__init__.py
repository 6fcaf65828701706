"""Where a CNN looks when it decides: excitation backprop, contrastive EB, gradient, Grad-CAM.

See :mod:`attentrack.saliency.engine` (the engine and per-method wrappers), :mod:`attentrack.saliency.excitation`
(the EB rules), :mod:`attentrack.saliency.models` (VGG16 / ResNet-50 / GoogLeNet layouts and the small
classifiers trained here), :mod:`attentrack.saliency.pointing` (the pointing game) and
:mod:`attentrack.saliency.prior` (saliency maps as object proposals for the tracker).
"""

from attentrack.saliency.engine import (
    METHODS,
    Probe,
    SaliencyMethod,
    SaliencyResult,
    contrastive_excitation_backprop,
    excitation_backprop,
    grad_cam,
    gradient,
    saliency,
)

__all__ = [
    "METHODS", "Probe", "SaliencyMethod", "SaliencyResult", "contrastive_excitation_backprop",
    "excitation_backprop", "grad_cam", "gradient", "saliency",
]
