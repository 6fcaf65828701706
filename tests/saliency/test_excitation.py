"""Excitation backprop: the formula (against NumPy), conservation of probability, the
torchvision-layout architectures, and the model left untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from attentrack.saliency import Probe, saliency
from attentrack.saliency.excitation import ExcitationMode
from attentrack.saliency.models import SmallCNN, googlenet, load_torchvision_weights, resnet18, resnet50, vgg16
from attentrack.tracker.errors import InputError


def _conv_matrix(weight: np.ndarray, h: int, w: int, pad: int) -> np.ndarray:
    """Dense matrix of a stride-1 2-D convolution (no bias): rows = outputs (c, y, x), cols = inputs."""
    co, ci, k, _ = weight.shape
    ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    m = np.zeros((co * ho * wo, ci * h * w))
    for o in range(co):
        for y in range(ho):
            for x in range(wo):
                for c in range(ci):
                    for dy in range(k):
                        for dx in range(k):
                            iy, ix = y + dy - pad, x + dx - pad
                            if 0 <= iy < h and 0 <= ix < w:
                                m[(o * ho + y) * wo + x, (c * h + iy) * w + ix] += weight[o, c, dy, dx]
    return m


def _avgpool_matrix(c: int, h: int, w: int) -> np.ndarray:
    m = np.zeros((c * (h // 2) * (w // 2), c * h * w))
    for ch in range(c):
        for y in range(h // 2):
            for x in range(w // 2):
                for dy in range(2):
                    for dx in range(2):
                        m[(ch * (h // 2) + y) * (w // 2) + x, (ch * h + 2 * y + dy) * w + 2 * x + dx] = 0.25
    return m


def _eb_numpy(W: np.ndarray, x: np.ndarray, p_out: np.ndarray) -> np.ndarray:
    """P(a_i) = sum_j Z_j x_i w_ij P(a_j) over w_ij >= 0, Z_j = 1 / sum_i x_i w_ij (w_ij >= 0)."""
    Wp = np.where(W >= 0, W, 0.0)
    p_in = np.zeros_like(x)
    for j in range(W.shape[0]):
        z = (x * Wp[j]).sum()
        if z > 0:
            p_in += x * Wp[j] / z * p_out[j]
    return p_in


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(3, 4, 3, padding=0)
        self.fc = nn.Linear(4 * 1 * 1, 3)

    def forward(self, x):
        x = self.pool(self.relu(self.bn(self.conv1(x))))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


def test_eb_equals_numpy_evaluation_of_the_formula():
    torch.manual_seed(1)
    net = TinyNet().eval()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.2, 0.2)
        net.bn.running_var.uniform_(0.5, 2.0)
        net.bn.weight.uniform_(0.5, 1.5)
    x = torch.rand(1, 2, 6, 6)
    target = 2
    res = saliency(net, x, target, method="eb", layer="input")
    # the same in NumPy, layer by layer (batch norm passes through, ReLU keeps the signal)
    with torch.no_grad():
        a0 = x[0].numpy().ravel().astype(np.float64)
        a1 = net.pool(net.relu(net.bn(net.conv1(x))))
        a2 = torch.relu(net.conv2(a1))
        relu1 = net.relu(net.bn(net.conv1(x)))[0].numpy().ravel().astype(np.float64)
    W1 = _conv_matrix(net.conv1.weight.detach().double().numpy(), 6, 6, 1)
    P = _avgpool_matrix(3, 6, 6)
    W2 = _conv_matrix(net.conv2.weight.detach().double().numpy(), 3, 3, 0)
    W3 = net.fc.weight.detach().double().numpy()
    p3 = np.eye(3)[target]
    p2 = _eb_numpy(W3, a2[0].numpy().ravel().astype(np.float64), p3)
    p1 = _eb_numpy(W2, a1[0].numpy().ravel().astype(np.float64), p2)
    p_relu1 = _eb_numpy(P, relu1, p1)
    p0 = _eb_numpy(W1, a0, p_relu1)  # through ReLU and batch norm unchanged
    expected = p0.reshape(2, 6, 6).sum(0)
    assert res.map.shape == (1, 1, 6, 6)
    np.testing.assert_allclose(res.map[0, 0].double().numpy(), expected, rtol=1e-4, atol=1e-6)
    assert abs(expected.sum() - 1.0) < 1e-6


def _mass_by_layer(model, x, names, target=0):
    mode = ExcitationMode()
    xi = x.clone().requires_grad_(True)
    model.eval()
    with Probe(model, names) as probe, mode:
        logits = model(xi)
    g = torch.zeros_like(logits)
    g[0, target] = 1
    sums = {}
    for n in names:
        (p,) = torch.autograd.grad(logits, probe.data[n], g, retain_graph=True)
        assert (p >= -1e-7).all(), n
        sums[n] = float(p.sum())
    return sums


@pytest.mark.parametrize("arch,names", [
    (resnet18, ["layer4", "layer3.1", "layer3.0", "layer2", "layer1.0", "maxpool"]),
    (googlenet, ["inception5b", "inception4c", "inception3a", "maxpool2", "conv2"]),
])
def test_probability_is_conserved_layer_by_layer(arch, names):
    torch.manual_seed(0)
    model = arch(num_classes=7)
    x = torch.randn(1, 3, 48, 48)
    for n, s in _mass_by_layer(model, x, names, target=3).items():
        assert s == pytest.approx(1.0, abs=2e-3), n


def test_residual_sum_splits_the_probability_between_its_branches():
    torch.manual_seed(0)
    model = resnet18(num_classes=7)
    sums = _mass_by_layer(model, torch.randn(1, 3, 64, 64), ["layer3.0.bn2", "layer3.0.downsample"], target=3)
    assert 0.05 < sums["layer3.0.bn2"] < 0.95
    assert sums["layer3.0.bn2"] + sums["layer3.0.downsample"] == pytest.approx(1.0, abs=2e-3)


@pytest.mark.slow
def test_vgg16_and_resnet50_layouts_run_eb_with_torchvision_keys():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    for arch, keys, layer in [
        (vgg16, ["features.0.weight", "features.28.bias", "classifier.6.weight"], "features.16"),
        (resnet50, ["layer1.0.conv1.weight", "layer4.2.bn3.running_mean", "layer2.0.downsample.1.weight", "fc.bias"],
         "layer3"),
    ]:
        model = arch(num_classes=5)
        assert all(k in model.state_dict() for k in keys)
        res = saliency(model, x, 4, method="eb", layer=layer)
        assert res.map.dim() == 4 and (res.map >= 0).all()
        assert float(res.map.sum()) == pytest.approx(1.0, abs=2e-3)
        res = saliency(model, x, 4, method="ceb", layer=layer)
        assert torch.isfinite(res.map).all() and (res.map >= 0).all()
    with torch.device("meta"):  # torchvision's parameter counts, without allocating
        assert sum(p.numel() for p in vgg16().parameters()) == 138_357_544
        assert sum(p.numel() for p in resnet50().parameters()) == 25_557_032
        assert sum(p.numel() for p in googlenet().parameters()) == 6_624_904


def test_torchvision_checkpoint_loads(tmp_path):
    from attentrack.saliency.models import GoogLeNet

    torch.manual_seed(0)
    sd = GoogLeNet(num_classes=1000, aux_logits=True).state_dict()  # torchvision saves the aux heads
    path = tmp_path / "googlenet.pth"
    torch.save(sd, path)
    model = load_torchvision_weights(googlenet(), path)
    assert all(torch.equal(v, sd[k]) for k, v in model.state_dict().items())
    bad = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, bad)
    with pytest.raises(InputError, match="do not fit"):
        load_torchvision_weights(googlenet(), bad)


def test_model_is_left_unchanged_even_on_error():
    torch.manual_seed(0)
    model = resnet18(num_classes=4)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 3, 32, 32)
    for method in ("eb", "ceb", "grad", "gradcam"):
        saliency(model, x, [1, 2], method=method)
    with pytest.raises(InputError):
        saliency(model, x, 9, method="ceb")  # target out of range, after the forward pass
    with pytest.raises(InputError):
        saliency(model, x, 1, method="eb", layer="no.such.layer")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # includes BN running stats
    assert all(m.training for m in model.modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in model.modules())
    # and plain training still works afterwards (no leftover in-place or mode effects)
    loss = model(x).sum()
    loss.backward()
    assert model.conv1.weight.grad is not None


def test_contrastive_eb_removes_what_the_classes_share():
    torch.manual_seed(0)
    model = SmallCNN()
    x = torch.rand(1, 3, 40, 40)
    eb = saliency(model, x, 1, method="eb").map
    ceb = saliency(model, x, 1, method="ceb").map
    assert not torch.allclose(eb / eb.sum(), ceb / ceb.sum().clamp_min(1e-12))
    assert (ceb >= 0).all()


def test_unsupported_module_is_a_clear_error():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LayerNorm([4, 6, 6]), nn.Flatten(), nn.Linear(144, 2))
    with pytest.raises(InputError, match="no rule"):
        saliency(model, torch.rand(1, 3, 8, 8), 0, method="eb", layer="0")
