"""One saliency engine and thin per-method wrappers.

``saliency(model, image, target, method=..., layer=...)`` runs the model, attributes the
score of ``target`` to the activations of ``layer`` and returns a :class:`SaliencyResult`
whose map has the layer's spatial size. Methods register themselves by subclassing
:class:`SaliencyMethod` with a ``method_id``:

* ``eb``: excitation backprop (Zhang et al., ECCV 2016), the marginal winning probability
  at ``layer`` summed over channels (see :mod:`attentrack.saliency.excitation`);
* ``ceb``: contrastive EB: EB of the target minus EB of its "dual" (the classifier
  layer's weights negated), taken at the contrast layer (the classifier layer's input),
  then propagated down to ``layer`` and clamped at 0;
* ``grad``: the plain gradient at the input (Simonyan et al., 2014), max of ``|g|`` over channels;
* ``gradcam``: Grad-CAM (Selvaraju et al., ICCV 2017), ``ReLU(sum_c mean(dS/dA_c) A_c)``;
* ``centre``: the baseline that always points at the image centre.

The model is left as it was: its train/eval flags are restored and every hook the engine
added is removed in a ``finally``, even when the call fails; weights are never modified.

Example::

    from attentrack.saliency import saliency
    result = saliency(model, image, target=1, method="ceb", layer="features")
    heat = result.resized(image.shape[-2:])     # (B, H, W) numpy, at the image's size
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from attentrack.saliency.excitation import ExcitationMode, unsupported_modules
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import SALIENCY_METHODS as METHODS

INPUT = "input"
"""Layer name that stands for the model's input image."""


@dataclass
class SaliencyResult:
    """A saliency map and what produced it.

    Attributes:
        map: ``(B, 1, h, w)`` float tensor at the layer's resolution (non-negative for every
            method but plain EB of a model with negative inputs, which cannot arise here).
        method: the method id.
        layer: the module name the map was taken at (``"input"``: the image).
        target: ``(B,)`` class indices explained.
        logits: ``(B, K)`` the model's output for the image.
    """

    map: torch.Tensor
    method: str
    layer: str
    target: list[int]
    logits: torch.Tensor = field(repr=False)

    def resized(self, size: tuple[int, int]) -> np.ndarray:
        """The maps bilinearly resized to ``size = (H, W)`` pixels: ``(B, H, W)`` float32 numpy."""
        m = F.interpolate(self.map.detach().float(), size=tuple(int(s) for s in size), mode="bilinear",
                          align_corners=False)
        return m[:, 0].cpu().numpy()

    def to_dict(self) -> dict:
        """The result as a JSON-ready dict (map and logits as nested lists)."""
        return {"method": self.method, "layer": self.layer, "target": list(self.target),
                "map": self.map.detach().cpu().tolist(), "logits": self.logits.detach().cpu().tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "SaliencyResult":
        """A result from :meth:`to_dict`'s output."""
        return cls(torch.tensor(d["map"]), d["method"], d["layer"], list(d["target"]), torch.tensor(d["logits"]))


class Probe:
    """Captures the output (or, with ``inputs=True``, the first input) of named modules.

    Use as a context manager: the hooks are removed on exit. A captured output is replaced,
    for the rest of the network, by a clone, so later in-place ops (``ReLU(inplace=True)``)
    never modify the tensor the probe holds and gradients with respect to it stay exact.

    Args:
        model: the network.
        names: module names from ``model.named_modules()``.
        inputs: capture each module's input instead of its output.
    """

    def __init__(self, model: nn.Module, names: list[str], inputs: bool = False) -> None:
        modules = dict(model.named_modules())
        for name in names:
            if name not in modules:
                raise InputError(f"no layer named {name!r} in the model; some layers: {_some_names(model)}")
        self._targets = [(n, modules[n]) for n in names]
        self.inputs = inputs
        self.data: dict[str, torch.Tensor] = {}
        self._handles: list = []

    def __enter__(self) -> "Probe":
        for name, module in self._targets:
            if self.inputs:
                self._handles.append(module.register_forward_pre_hook(self._pre_hook(name)))
            else:
                self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _hook(self, name):
        def hook(module, args, output):
            self.data[name] = output
            return output.clone()
        return hook

    def _pre_hook(self, name):
        def hook(module, args):
            self.data[name] = args[0]
            return (args[0].clone(), *args[1:])
        return hook


def _some_names(model: nn.Module, n: int = 8) -> str:
    names = [k for k, _ in model.named_children()]
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


@contextlib.contextmanager
def evaluating(model: nn.Module):
    """Put ``model`` in eval mode; restore every module's ``training`` flag afterwards, even on error."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield model
    finally:
        for m, t in flags:
            m.training = t


def default_layer(model: nn.Module, image: torch.Tensor) -> str:
    """The last direct child of ``model`` (in execution order) whose output is a ``(B, C, h, w)`` map,
    global pooling layers (``AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d``) excepted."""
    order: list[tuple[str, int]] = []
    handles = [child.register_forward_hook(lambda m, a, o, n=name: order.append((n, getattr(o, "dim", lambda: 0)())))
               for name, child in model.named_children()
               if not isinstance(child, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))]
    try:
        with torch.no_grad(), evaluating(model):
            model(image)
    finally:
        for h in handles:
            h.remove()
    spatial = [n for n, d in order if d == 4]
    if not spatial:
        raise InputError("the model has no child module with a (B, C, h, w) output; pass layer=NAME")
    return spatial[-1]


def classifier_layer_of(model: nn.Module) -> str:
    """Name of the last ``nn.Linear`` (else the last convolution) in ``model``: the classifier layer."""
    linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if linear:
        return linear[-1]
    conv = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not conv:
        raise InputError("the model has no Linear or Conv2d layer to act as the classifier")
    return conv[-1]


def _as_batch(image: torch.Tensor) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        image = torch.as_tensor(np.asarray(image), dtype=torch.float32)
    if image.dim() == 3:
        image = image[None]
    if image.dim() != 4:
        raise InputError(f"image must be (C, H, W) or (B, C, H, W); got shape {tuple(image.shape)}")
    return image.float()


def _targets(target, batch: int, classes: int) -> list[int]:
    t = torch.as_tensor(target).reshape(-1).tolist()
    if len(t) == 1:
        t = t * batch
    if len(t) != batch:
        raise InputError(f"{len(t)} targets for a batch of {batch} images")
    for c in t:
        if not 0 <= int(c) < classes:
            raise InputError(f"target class {c} out of range: the model has {classes} classes")
    return [int(c) for c in t]


def _one_hot(logits: torch.Tensor, target: list[int]) -> torch.Tensor:
    g = torch.zeros_like(logits)
    g[torch.arange(len(target)), torch.tensor(target)] = 1.0
    return g


class SaliencyMethod:
    """Base class of saliency methods; subclasses with a ``method_id`` register themselves.

    Subclasses implement :meth:`compute`; they are called by :func:`saliency` with the model
    already in eval mode.
    """

    method_id: ClassVar[str] = ""
    default_layer_is_input: ClassVar[bool] = False
    summary: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        METHODS.register_subclass(cls)

    def compute(self, model: nn.Module, image: torch.Tensor, target, layer: str, **options) -> SaliencyResult:
        """Return the map of ``target`` for ``image`` (``(B, C, H, W)``) at ``layer``."""
        raise NotImplementedError


def _eb_forward(model: nn.Module, image: torch.Tensor, names: list[str], inputs_of: list[str], mode: ExcitationMode):
    """Forward ``image`` with EB rules active; returns logits and the probed tensors by name."""
    x = image.detach().clone().requires_grad_(True)
    with Probe(model, [n for n in names if n != INPUT]) as out_probe, Probe(model, inputs_of, inputs=True) as in_probe:
        with mode:
            logits = model(x)
    data = {**out_probe.data, INPUT: x}
    return logits, data, in_probe.data


def _sum_channels(p: torch.Tensor) -> torch.Tensor:
    if p.dim() == 4:
        return p.sum(1, keepdim=True)
    if p.dim() == 2:  # a vector layer: no spatial layout
        return p[:, :, None, None].sum(1, keepdim=True)
    raise InputError(f"cannot make a map from a layer output of shape {tuple(p.shape)}")


class ExcitationBackprop(SaliencyMethod):
    """Excitation backprop: the marginal winning probability of the target at ``layer``."""

    method_id = "eb"
    summary = "excitation backprop (marginal winning probability)"

    def compute(self, model, image, target, layer, **options):
        """EB's marginal winning probabilities at ``layer``, summed over channels."""
        _check_rules(model)
        mode = ExcitationMode()
        logits, acts, _ = _eb_forward(model, image, [layer], [], mode)
        t = _targets(target, image.shape[0], logits.shape[1])
        (p,) = torch.autograd.grad(logits, acts[layer], _one_hot(logits, t))
        return SaliencyResult(_sum_channels(p).detach(), self.method_id, layer, t, logits.detach())


class ContrastiveExcitationBackprop(SaliencyMethod):
    """Contrastive EB: target EB minus its dual's at the contrast layer, propagated down, clamped at 0.

    Options:
        classifier_layer: the layer whose weights are negated for the dual (default: the last Linear).
        contrast_layer: where the two signals are subtracted (default: the classifier layer's input).
    """

    method_id = "ceb"
    summary = "contrastive excitation backprop"

    def compute(self, model, image, target, layer, classifier_layer=None, contrast_layer=None, **options):
        """EB of ``target`` minus EB through the negated classifier, taken at ``contrast_layer``
        (default: the classifier's input), propagated to ``layer`` and clamped at 0."""
        _check_rules(model)
        classifier_layer = classifier_layer or classifier_layer_of(model)
        modules = dict(model.named_modules())
        if classifier_layer not in modules or not hasattr(modules[classifier_layer], "weight"):
            raise InputError(f"classifier layer {classifier_layer!r} is not a layer with weights")
        mode = ExcitationMode()
        mode.negated = [modules[classifier_layer].weight]
        if contrast_layer is None:
            logits, acts, ins = _eb_forward(model, image, [layer], [classifier_layer], mode)
            contrast = ins[classifier_layer]
        else:
            logits, acts, _ = _eb_forward(model, image, [layer, contrast_layer], [], mode)
            contrast = acts[contrast_layer]
        t = _targets(target, image.shape[0], logits.shape[1])
        g = _one_hot(logits, t)
        (pos,) = torch.autograd.grad(logits, contrast, g, retain_graph=True)
        mode.negate_now = True
        try:
            (neg,) = torch.autograd.grad(logits, contrast, g, retain_graph=True)
        finally:
            mode.negate_now = False
        if acts[layer] is contrast:
            p = pos - neg
        else:
            (p,) = torch.autograd.grad(contrast, acts[layer], pos - neg)
        return SaliencyResult(_sum_channels(p).clamp_min(0).detach(), self.method_id, layer, t, logits.detach())


def _gradient_at(model: nn.Module, image: torch.Tensor, target, layer: str):
    """Plain forward and backward: ``(activation at layer, its gradient, logits, targets)``."""
    x = image.detach().clone().requires_grad_(True)
    with Probe(model, [layer] if layer != INPUT else []) as probe:
        logits = model(x)
    act = x if layer == INPUT else probe.data[layer]
    t = _targets(target, image.shape[0], logits.shape[1])
    (g,) = torch.autograd.grad(logits, act, _one_hot(logits, t))
    return act, g, logits, t


class Gradient(SaliencyMethod):
    """The gradient of the target score; at the input, the max of ``|g|`` over colour channels."""

    method_id = "grad"
    default_layer_is_input = True
    summary = "plain gradient (Simonyan et al.)"

    def compute(self, model, image, target, layer, **options):
        """The gradient's magnitude at ``layer``: the largest over channels for a ``(B, C, h, w)`` layer."""
        act, g, logits, t = _gradient_at(model, image, target, layer)
        m = g.abs().amax(1, keepdim=True) if g.dim() == 4 else _sum_channels(g.abs())
        return SaliencyResult(m.detach(), self.method_id, layer, t, logits.detach())


class GradCAM(SaliencyMethod):
    """Grad-CAM: channels weighted by their spatially averaged gradient, summed, ReLU."""

    method_id = "gradcam"
    summary = "Grad-CAM (Selvaraju et al.)"

    def compute(self, model, image, target, layer, **options):
        """Grad-CAM: the activations at ``layer`` weighted by their spatially averaged gradient,
        summed over channels and clamped at 0."""
        act, g, logits, t = _gradient_at(model, image, target, layer)
        if act.dim() != 4:
            raise InputError(f"Grad-CAM needs a (B, C, h, w) layer; {layer!r} gives shape {tuple(act.shape)}")
        w = g.mean((2, 3), keepdim=True)
        m = (w * act).sum(1, keepdim=True).clamp_min(0)
        return SaliencyResult(m.detach(), self.method_id, layer, t, logits.detach())


class Centre(SaliencyMethod):
    """The centre baseline: a map peaked at the image centre, whatever the image."""

    method_id = "centre"
    default_layer_is_input = True
    summary = "centre baseline"

    def compute(self, model, image, target, layer, **options):
        """A Gaussian centred on the image (the baseline that knows nothing of the image), at the input's size."""
        with torch.no_grad():
            logits = model(image)
        B, _, H, W = image.shape
        yy = torch.linspace(-1, 1, H)[:, None]
        xx = torch.linspace(-1, 1, W)[None, :]
        m = torch.exp(-(xx ** 2 + yy ** 2) * 4.0).expand(B, 1, H, W).clone()
        return SaliencyResult(m, self.method_id, INPUT, _targets(target, B, logits.shape[1]), logits)


def _check_rules(model: nn.Module) -> None:
    bad = unsupported_modules(model)
    if bad:
        raise InputError("excitation backprop has no rule for: " + ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else ""))


def saliency(model: nn.Module, image: torch.Tensor, target, method: str = "eb", layer: str | None = None,
             **options) -> SaliencyResult:
    """Explain ``model``'s score for ``target`` on ``image``.

    Args:
        model: a CNN classifier returning ``(B, K)`` scores (logits).
        image: ``(C, H, W)`` or ``(B, C, H, W)`` float tensor, already normalised as the model expects.
        target: a class index, or ``(B,)`` indices.
        method: one of :data:`METHODS` (``eb``, ``ceb``, ``grad``, ``gradcam``, ``centre``).
        layer: module name (from ``model.named_modules()``) whose activations the map is taken at;
            ``"input"`` for the image; default: the input for ``grad``, else the last direct
            child of the model with a spatial output (``features`` of VGG, ``layer4`` of ResNet).
        **options: method options (``classifier_layer``, ``contrast_layer`` for ``ceb``).

    Returns:
        A :class:`SaliencyResult` with a ``(B, 1, h, w)`` map.

    Raises:
        InputError: unknown method or layer, a target out of range, a model EB has no rule for.
    """
    cls = METHODS.get(method)
    image = _as_batch(image).to(next(model.parameters()).device)
    with evaluating(model):
        if layer is None:
            layer = INPUT if cls.default_layer_is_input else default_layer(model, image)
        return cls().compute(model, image, target, layer, **options)


def excitation_backprop(model, image, target, layer=None, **options) -> SaliencyResult:
    """Excitation backprop; see :func:`saliency`."""
    return saliency(model, image, target, method="eb", layer=layer, **options)


def contrastive_excitation_backprop(model, image, target, layer=None, **options) -> SaliencyResult:
    """Contrastive excitation backprop; see :func:`saliency`."""
    return saliency(model, image, target, method="ceb", layer=layer, **options)


def gradient(model, image, target, layer=None, **options) -> SaliencyResult:
    """Plain gradient; see :func:`saliency`."""
    return saliency(model, image, target, method="grad", layer=layer, **options)


def grad_cam(model, image, target, layer=None, **options) -> SaliencyResult:
    """Grad-CAM; see :func:`saliency`."""
    return saliency(model, image, target, method="gradcam", layer=layer, **options)
