"""Where a CNN looks when it decides: excitation backprop, contrastive EB, gradient, Grad-CAM.

See :mod:`saliency.engine` (the engine and per-method wrappers), :mod:`saliency.excitation`
(the EB rules), :mod:`saliency.models` (VGG16 / ResNet-50 / GoogLeNet layouts and the small
classifiers trained here), :mod:`saliency.pointing` (the pointing game) and
:mod:`saliency.prior` (saliency maps as object proposals for the tracker).
"""

from saliency.engine import (
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
