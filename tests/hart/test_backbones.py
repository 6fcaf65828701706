"""Feature backbones: shapes, the registry and loading a user's pretrained weights."""

import pytest
import torch

from attentrack.tracker.backbones import Backbone, available_backbones, create_backbone
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import BACKBONES

torch.set_num_threads(2)


@pytest.mark.parametrize("name,size,cells", [("small", 48, 12), ("small", 56, 14), ("alexnet", 56, 14), ("resnet18", 56, 14)])
def test_output_shapes(name, size, cells):
    b = create_backbone(name).eval()
    out = b(torch.zeros(2, 3, size, size))
    assert out.shape == (2, b.out_channels, cells, cells)
    assert b.feature_size(size) == cells
    assert size // b.stride == cells


def test_resnet_two_stages():
    b = create_backbone("resnet18", stages=2).eval()
    assert b(torch.zeros(1, 3, 64, 64)).shape == (1, 128, 8, 8)


def test_registry():
    assert {"small", "alexnet", "resnet18"} <= set(available_backbones())
    with pytest.raises(InputError):
        create_backbone("vgg99")

    class Tiny(Backbone):
        backbone_id = "test-tiny"
        out_channels, stride = 3, 1

        def forward(self, x):
            return x

    try:
        assert isinstance(create_backbone("test-tiny"), Tiny)
    finally:
        BACKBONES.unregister("test-tiny")


def test_load_torchvision_style_alexnet_weights(tmp_path):
    src = create_backbone("alexnet")
    state = {k: torch.randn_like(v) for k, v in src.state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(10, 10)  # the rest of a torchvision file is ignored
    path = tmp_path / "alexnet.pt"
    torch.save(state, path)
    dst = create_backbone("alexnet")
    loaded = dst.load_pretrained(path)
    assert "features.0.weight" in loaded and "features.6.bias" in loaded
    assert torch.equal(dst.state_dict()["features.3.weight"], state["features.3.weight"])


def test_load_torchvision_style_resnet_weights(tmp_path):
    src = create_backbone("resnet18", stages=2)
    state = {f"module.{k}": v + 1 for k, v in src.state_dict().items()}  # DDP prefix is stripped
    state["fc.weight"] = torch.zeros(1000, 512)
    path = tmp_path / "r18.pt"
    torch.save(state, path)
    dst = create_backbone("resnet18")  # one stage: layer2 keys are simply not used
    loaded = dst.load_pretrained(path)
    assert "layer1.1.conv2.weight" in loaded and not any(k.startswith("layer2") for k in loaded)


def test_bad_pretrained_files(tmp_path):
    b = create_backbone("alexnet")
    with pytest.raises(InputError, match="not found"):
        b.load_pretrained(tmp_path / "missing.pt")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="not a readable torch backbone weights file"):
        b.load_pretrained(bad)
    wrong = tmp_path / "wrong.pt"
    torch.save({"features.0.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(InputError, match="shape"):
        b.load_pretrained(wrong)
    other = tmp_path / "other.pt"
    torch.save({"something.else": torch.zeros(3)}, other)
    with pytest.raises(InputError, match="no parameter"):
        b.load_pretrained(other)
