"""Folding batch norms for inference leaves every model's outputs unchanged."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from attentrack.tracker.attention import ImagePyramid
from attentrack.tracker.backbones import available_backbones, create_backbone
from attentrack.tracker.hart.model import HART, HARTConfig


def _randomise_batchnorm(module: nn.Module, gen: torch.Generator) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.normal_(0, 0.5, generator=gen)
                m.running_var.uniform_(0.3, 2.0, generator=gen)
                m.weight.normal_(1, 0.3, generator=gen)
                m.bias.normal_(0, 0.3, generator=gen)


@pytest.mark.parametrize("name", available_backbones())
def test_backbone_fold_keeps_outputs(name):
    gen = torch.Generator().manual_seed(0)
    net = create_backbone(name).eval()
    _randomise_batchnorm(net, gen)
    x = torch.randn(2, 3, 40, 40, generator=gen)
    with torch.no_grad():
        want = net(x)
        got = copy.deepcopy(net).fold_batchnorm_()(x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_fold_needs_eval_mode():
    with pytest.raises(RuntimeError):
        create_backbone("small").train().fold_batchnorm_()


@pytest.mark.parametrize("arch", ["corr", "paper"])
def test_hart_fold_keeps_steps(arch):
    torch.manual_seed(0)
    model = HART(HARTConfig(arch=arch, glimpse_size=24)).eval()
    _randomise_batchnorm(model, torch.Generator().manual_seed(1))
    folded = copy.deepcopy(model).fold_batchnorm_()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    frames = torch.randint(0, 255, (3, 60, 80, 3), dtype=torch.uint8).numpy()
    boxes = torch.tensor([[0.4, 0.5, 0.2, 0.3], [0.6, 0.4, 0.1, 0.2]])
    outs = []
    with torch.no_grad():
        for m in (model, folded):
            state, out = m.init(ImagePyramid.from_numpy(frames[0]), boxes)
            for f in frames[1:]:
                state, out = m.step(ImagePyramid.from_numpy(f), state)
            outs.append((out.box, out.mask_logit, out.score, state.h))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
