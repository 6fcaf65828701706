"""Feature backbones for glimpses, one registry.

A backbone maps glimpses ``(N, 3, G, G)`` (contrast-normalised) to feature maps
``(N, out_channels, G / stride, G / stride)``. HART's ventral and dorsal streams sit on top.

Built-in backbones:

* ``small`` (:mod:`attentrack.tracker.backbones.small`): three convolutions, trained from scratch; the
  default, cheap enough for tens of objects per frame on a CPU.
* ``alexnet`` (:mod:`attentrack.tracker.backbones.alexnet`): torchvision's AlexNet conv1-3 without
  max-pooling (stride 4: 56x56 glimpses give 14x14 maps); the HART paper stops at the same layer
  but of the Caffe AlexNet (more channels, local response normalisation, grouped conv2).
* ``resnet18`` (:mod:`attentrack.tracker.backbones.resnet`): the ResNet-18 stem and first stage(s).

``alexnet`` and ``resnet18`` use torchvision's parameter names, so a user's pretrained
``state_dict`` file loads with :meth:`Backbone.load_pretrained` (no torchvision needed); such
weights expect RGB glimpses with ImageNet normalisation (HART's ``glimpse_norm="imagenet"``,
:func:`attentrack.tracker.hart.modules.imagenet_normalise`), not HART's z-scored BGR ones.

Adding a backbone is one class: subclass :class:`Backbone`, set ``backbone_id`` and the
attributes ``out_channels`` and ``stride`` (or, from another package, declare it in the
``attentrack.backbones`` entry-point group; see :mod:`attentrack.tracker.registry`).
"""

from __future__ import annotations

import os
from typing import ClassVar

import torch
from torch import nn

from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import BACKBONES


class Backbone(nn.Module):
    """Base class of feature backbones; subclasses with a ``backbone_id`` register themselves.

    Attributes:
        out_channels: channels of the output feature map.
        stride: glimpse pixels per feature-map cell.
    """

    backbone_id: ClassVar[str] = ""
    out_channels: int = 0
    stride: int = 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        BACKBONES.register_subclass(cls)

    def feature_size(self, glimpse_size: int) -> int:
        """Side of the feature map for a ``glimpse_size`` glimpse."""
        with torch.no_grad():
            was = self.training
            self.eval()
            out = self(torch.zeros(1, 3, glimpse_size, glimpse_size))
            self.train(was)
        return int(out.shape[-1])

    def fold_batchnorm_(self) -> "Backbone":
        """Fold every batch norm into the convolution before it, in place (inference only).

        Applies to each ``BatchNorm2d`` registered directly after a ``Conv2d`` in the same
        parent module, which is how every built-in backbone applies them (a backbone whose
        forward differs overrides this method). The backbone must be in evaluation mode;
        afterwards it computes the same function with fewer operations and can no longer be
        trained as before.
        """
        if self.training:
            raise RuntimeError("fold_batchnorm_ needs a model in evaluation mode")
        for parent in self.modules():
            children = list(parent.named_children())
            for (name_a, a), (name_b, b) in zip(children, children[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    setattr(parent, name_a, fold_conv_batchnorm(a, b))
                    setattr(parent, name_b, nn.Identity())
        return self

    def pretrained_key_map(self) -> dict[str, str]:
        """``{key in the user's file: key in this module}``; identity by default."""
        return {k: k for k in self.state_dict()}

    def load_pretrained(self, path: str | os.PathLike) -> list[str]:
        """Load weights from a ``state_dict`` ``.pt`` file, or a file holding one under ``"state_dict"``
        (extra keys are ignored).

        Returns:
            the names of this module's parameters that were loaded.

        Raises:
            InputError: the file is missing or unreadable, holds no matching key, or a
                matching key has the wrong shape.
        """
        from attentrack.tracker.weights_file import read_state_dict

        state = {k.removeprefix("module."): v for k, v in read_state_dict(path, "backbone weights").items()}
        own = self.state_dict()
        loaded = {}
        for src, dst in self.pretrained_key_map().items():
            if src in state and dst in own:
                if tuple(state[src].shape) != tuple(own[dst].shape):
                    raise InputError(
                        f"backbone weights {path}: {src} has shape {tuple(state[src].shape)},"
                        f" expected {tuple(own[dst].shape)}"
                    )
                loaded[dst] = state[src]
        if not loaded:
            raise InputError(f"backbone weights {path} hold no parameter of the {self.backbone_id} backbone")
        self.load_state_dict(loaded, strict=False)
        return sorted(loaded)


def batchnorm_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scale, shift)``, each ``(C,)``: in evaluation ``bn(x) = x * scale + shift`` per channel."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias.detach() - bn.running_mean * scale


def fold_conv_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A convolution computing ``bn(conv(x))`` with ``bn``'s running statistics."""
    scale, shift = batchnorm_affine(bn)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode)
    fused = fused.to(device=conv.weight.device, dtype=conv.weight.dtype)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        fused.weight.copy_(conv.weight.detach() * scale.reshape(-1, 1, 1, 1))
        fused.bias.copy_(bias * scale + shift)
    return fused


def create_backbone(name: str, **kwargs) -> Backbone:
    """Build a registered backbone (``small``, ``alexnet``, ``resnet18``, ...)."""
    return BACKBONES.get(name)(**kwargs)


def available_backbones() -> list[str]:
    """Names of the registered backbones (imports none of them)."""
    return BACKBONES.names()
