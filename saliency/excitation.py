"""Excitation backprop rules (Zhang, Lin, Brandt, Shen, Sclaroff, ECCV 2016).

Excitation backprop (EB) passes a *marginal winning probability* down a CNN. A neuron
``a_j`` with probability ``P(a_j)`` gives it to its inputs ``a_i`` in proportion to their
positive excitation::

    P(a_i | a_j) = Z_j x_i w_ij   if w_ij >= 0, else 0,     Z_j = 1 / sum_{i: w_ij >= 0} x_i w_ij
    P(a_i)       = sum_j P(a_i | a_j) P(a_j)

For a linear map ``z = W x`` (a convolution or a fully connected layer, bias dropped) this
is ``p_in = x * (W+)^T (p_out / (W+ x))``, where ``W+`` keeps the non-negative weights.
The product ``(W+)^T s`` is the gradient of ``W+ x`` with respect to ``x`` for the output
gradient ``s``, so each rule below is one autograd call on the layer with clamped weights.

Rules by operation (inputs to each layer are non-negative activations; an input that is
not, such as a normalised image, is clamped at 0 inside the rule):

* convolution, linear: the formula above;
* average pooling (fixed or adaptive): the same formula with the pooling weights (all
  positive), i.e. the probability splits in proportion to the inputs;
* max pooling: routed to the arg-max (the ordinary gradient);
* batch norm: passes through unchanged (``p_in = p_out``);
* ReLU, dropout (eval), flatten, concatenation: the ordinary gradient (a concatenation
  splits channels between its branches);
* a sum of two activations (a residual connection, ``out += identity``): split in
  proportion to the positive parts of the summands.

The rules are installed by :class:`ExcitationMode`, a :class:`torch.overrides.TorchFunctionMode`
that intercepts these functional calls while the model runs forward. It changes neither
the model's weights nor its hooks, and replaces in-place sums with out-of-place ones, so
the user's model is untouched afterwards and autograd sees no in-place op on a saved tensor.
The backward pass of the forward computed in the mode *is* excitation backprop: the
"gradient" ``torch.autograd.grad(logits, act, one_hot)`` is ``P`` at ``act``.

Contrastive EB negates the weights of the classifier layer (the weight tensors listed in
:attr:`ExcitationMode.negated`) during the backward pass, see
:func:`attentrack.saliency.engine.contrastive_excitation_backprop`.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

EPS = 1e-12

# Module types whose forward is built only from the operations the rules cover.
SUPPORTED_MODULES: tuple[type[nn.Module], ...] = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear,
    nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
    nn.ReLU, nn.Dropout, nn.Dropout2d, nn.Flatten, nn.Identity,
)


def unsupported_modules(model: nn.Module) -> list[str]:
    """Names of the leaf modules of ``model`` that excitation backprop has no rule for."""
    bad = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None:
            continue  # containers: their forward is made of their children and tensor ops
        if not isinstance(module, SUPPORTED_MODULES):
            bad.append(f"{name or '<model>'} ({type(module).__name__})")
    return bad


def _excite(op: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, p_out: torch.Tensor) -> torch.Tensor:
    """``x * J^T (p_out / op(x))`` for a linear ``op`` with non-negative weights.

    Args:
        op: the layer with its positive weights and no bias, ``x -> z``.
        x: the layer's input, clamped at 0.
        p_out: probability (or contrastive signal) at the layer's output, shaped like ``z``.

    Returns:
        The signal at the input, shaped like ``x``. A unit with ``z = 0`` passes nothing down.
    """
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        z = op(xg)
        s = torch.where(z > EPS, p_out / z.clamp_min(EPS), torch.zeros_like(z))
        (c,) = torch.autograd.grad(z, xg, s)
    return x * c


class _LinearEB(torch.autograd.Function):
    """Forward: the layer as it is. Backward: the EB rule with ``W+`` (or ``(-W)+``)."""

    @staticmethod
    def forward(ctx, x, weight, bias, func, kwargs, positive):
        ctx.save_for_backward(x)
        ctx.func, ctx.kwargs, ctx.positive = func, kwargs, positive
        return func(x, weight, bias, **kwargs)

    @staticmethod
    def backward(ctx, p_out):
        (x,) = ctx.saved_tensors
        w = ctx.positive()
        p_in = _excite(lambda t: ctx.func(t, w, None, **ctx.kwargs), x.clamp_min(0), p_out)
        return p_in, None, None, None, None, None


class _PoolEB(torch.autograd.Function):
    """Average pooling: the probability splits in proportion to the inputs."""

    @staticmethod
    def forward(ctx, x, func, args, kwargs):
        ctx.save_for_backward(x)
        ctx.func, ctx.args, ctx.kwargs = func, args, kwargs
        return func(x, *args, **kwargs)

    @staticmethod
    def backward(ctx, p_out):
        (x,) = ctx.saved_tensors
        return _excite(lambda t: ctx.func(t, *ctx.args, **ctx.kwargs), x.clamp_min(0), p_out), None, None, None


class _PassThrough(torch.autograd.Function):
    """Batch norm: the layer as it is forward, the identity backward."""

    @staticmethod
    def forward(ctx, x, func, args, kwargs):
        return func(x, *args, **kwargs)

    @staticmethod
    def backward(ctx, p_out):
        return p_out, None, None, None


class _SumEB(torch.autograd.Function):
    """``a + b``: each summand gets its share of the positive total."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a + b

    @staticmethod
    def backward(ctx, p_out):
        a, b = ctx.saved_tensors
        ap, bp = a.clamp_min(0), b.clamp_min(0)
        total = ap + bp
        share = torch.where(total > EPS, p_out / total.clamp_min(EPS), torch.zeros_like(total))
        pa, pb = ap * share, bp * share
        return _reduce_to(pa, a.shape), _reduce_to(pb, b.shape)


def _reduce_to(t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast signal back to ``shape``."""
    if t.shape == shape:
        return t
    while t.dim() > len(shape):
        t = t.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and t.shape[i] != 1:
            t = t.sum(i, keepdim=True)
    return t


_LINEAR_FUNCS = {torch.conv1d: 1, torch.conv2d: 2, torch.conv3d: 3, F.conv1d: 1, F.conv2d: 2, F.conv3d: 3, F.linear: 0}
_AVG_POOLS = {F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.adaptive_avg_pool1d, F.adaptive_avg_pool2d,
              F.adaptive_avg_pool3d, torch.avg_pool1d, torch.adaptive_avg_pool1d}
_ADDS = {torch.add, torch.Tensor.add, torch.Tensor.add_, torch.Tensor.__add__, torch.Tensor.__iadd__,
         torch.Tensor.__radd__}


def _arg(args, kwargs, index, name, default=None):
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


class ExcitationMode(TorchFunctionMode):
    """While active, convolutions, linear layers, pooling, batch norm and sums carry EB rules.

    Attributes:
        negated: weight tensors (compared by identity) whose sign is flipped in the backward
            pass while :attr:`negate_now` is true; contrastive EB puts the classifier's weight here.
        negate_now: whether the flip is on (read at backward time, so one forward serves
            both the positive and the negated backward passes).
    """

    def __init__(self) -> None:
        super().__init__()
        self.negated: list[torch.Tensor] = []
        self.negate_now = False

    def _positive_part(self, weight: torch.Tensor) -> Callable[[], torch.Tensor]:
        """A function giving ``W+`` (or ``(-W)+`` while negated) at backward time, computed once."""
        flagged = any(weight is w for w in self.negated)
        cache: dict[bool, torch.Tensor] = {}

        def positive() -> torch.Tensor:
            neg = flagged and self.negate_now
            if neg not in cache:
                cache[neg] = (-weight if neg else weight).detach().clamp_min(0)
            return cache[neg]

        return positive

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _LINEAR_FUNCS:
            x = args[0]
            weight = _arg(args, kwargs, 1, "weight")
            bias = _arg(args, kwargs, 2, "bias")
            rest = {k: v for k, v in kwargs.items() if k not in ("input", "weight", "bias")}
            if _LINEAR_FUNCS[func]:
                names = ("stride", "padding", "dilation", "groups")
                rest.update({n: v for n, v in zip(names, args[3:])})
                conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[_LINEAR_FUNCS[func]]
                return _LinearEB.apply(x, weight, bias, conv, rest, self._positive_part(weight))
            return _LinearEB.apply(x, weight, bias, F.linear, rest, self._positive_part(weight))
        if func in _AVG_POOLS:
            return _PoolEB.apply(args[0], func, tuple(args[1:]), kwargs)
        if func is F.batch_norm:
            return _PassThrough.apply(args[0], func, tuple(args[1:]), kwargs)
        if func in _ADDS and len(args) == 2 and not kwargs and _both_activations(*args):
            a, b = args
            return _SumEB.apply(a, b)  # also for the in-place forms: returns a new tensor
        return func(*args, **kwargs)


def _both_activations(a, b) -> bool:
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.is_floating_point()
            and b.is_floating_point() and (a.requires_grad or b.requires_grad) and a.dim() > 0 and b.dim() > 0)
