"""The HART model: per-step functions, batching over objects, the loss and weights files."""

import numpy as np
import pytest
import torch

from attentrack.tracker.attention import ImagePyramid
from attentrack.tracker.errors import InputError
from attentrack.tracker.hart.losses import HARTLoss, balanced_bce, box_mask, cxcywh_iou, intersection_fraction
from attentrack.tracker.hart.model import HART, HARTConfig, HARTOutput, HARTState, boxes_in_window, load_weights, save_weights

torch.set_num_threads(2)
TINY = dict(glimpse_size=24, backbone_width=8, rnn_units=32)


def _frames(n=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 120, 160, 3), dtype=np.uint8)


BOXES = torch.tensor([[0.3, 0.4, 0.1, 0.3], [0.6, 0.5, 0.2, 0.2], [0.8, 0.2, 0.05, 0.1]])


@pytest.mark.parametrize("arch", ["corr", "paper"])
def test_step_shapes_and_state(arch):
    model = HART(HARTConfig(arch=arch, **TINY)).eval()
    frames = _frames(2)
    with torch.no_grad():
        state, out = model.init(ImagePyramid.from_numpy(frames[0]), BOXES)
        assert isinstance(state, HARTState) and isinstance(out, HARTOutput)
        assert torch.equal(out.box, BOXES)  # the first frame's box is the given one
        state, out = model.step(ImagePyramid.from_numpy(frames[1]), state)
    fs = model.feature_size
    assert out.box.shape == (3, 4) and out.att.shape == (3, 4)
    assert out.mask_logit.shape == (3, 1, fs, fs) and out.glimpse.shape == (3, 3, 24, 24)
    assert state.h.shape == (3, 32) and state.c.shape == (3, 32)
    assert (state.template.shape[1] > 0) == (arch == "corr")
    assert torch.isfinite(out.box).all() and (out.box[:, 2:] > 0).all()


@pytest.mark.parametrize("arch", ["corr", "paper"])
def test_objects_batched_equal_one_at_a_time(arch):
    torch.manual_seed(0)
    model = HART(HARTConfig(arch=arch, **TINY)).eval()
    frames = _frames(3, seed=1)

    def run(boxes):
        state, _ = model.init(ImagePyramid.from_numpy(frames[0]), boxes)
        outs = []
        for f in frames[1:]:
            state, out = model.step(ImagePyramid.from_numpy(f), state)
            outs.append(out.box)
        return torch.stack(outs, 1)

    with torch.no_grad():
        together = run(BOXES)
        alone = torch.cat([run(BOXES[i:i + 1]) for i in range(len(BOXES))])
    assert torch.allclose(together, alone, atol=1e-5)


def test_first_attention_is_the_box_enlarged():
    model = HART(HARTConfig(context=2.0, **TINY))
    att = model.first_attention(BOXES)
    assert torch.allclose(att[:, :2], BOXES[:, :2]) and torch.allclose(att[:, 2:], 2 * BOXES[:, 2:])


def test_unroll_and_loss_backward():
    model = HART(HARTConfig(**TINY))
    loss = HARTLoss()
    frames = np.random.default_rng(2).integers(0, 256, (2, 4, 96, 128, 3), dtype=np.uint8)
    pyr = ImagePyramid.from_numpy(frames.reshape(8, 96, 128, 3))
    levels = [lv.reshape(2, 4, *lv.shape[1:]) for lv in pyr.levels]
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.4]]).repeat(2, 4, 1)
    boxes[:, :, 0] += torch.linspace(0, 0.1, 4)
    out = model(levels, boxes[:, 0])
    assert out["box"].shape == (2, 4, 4)
    terms = loss(out, boxes, model=model)
    assert torch.isfinite(terms.total)
    terms.total.backward()
    assert model.fc.weight.grad is not None and loss.log_vars.grad is not None
    assert model.att_gain.grad is not None  # gradients flow through the attention
    assert 0 <= float(terms.iou) <= 1


def test_box_geometry():
    a = torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    assert torch.allclose(cxcywh_iou(a, a), torch.ones(1))
    b = torch.tensor([[0.6, 0.5, 0.2, 0.2]])
    assert torch.allclose(cxcywh_iou(a, b), torch.tensor([1 / 3]), atol=1e-6)
    big = torch.tensor([[0.5, 0.5, 1.0, 1.0]])
    assert torch.allclose(intersection_fraction(big, a), torch.ones(1))
    inside = boxes_in_window(a, big)
    assert torch.allclose(inside, torch.tensor([[0.0, 0.0, 0.4, 0.4]]))
    m = box_mask(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), 4)
    assert m.shape == (1, 1, 4, 4) and m.sum() == 4 and m[0, 0, 1:3, 1:3].sum() == 4


def test_balanced_bce_weighs_classes_equally():
    target = torch.zeros(1, 1, 10, 10)
    target[..., :1, :1] = 1  # 1 positive, 99 negatives
    all_neg = torch.full_like(target, -5.0)
    perfect = torch.where(target > 0, torch.tensor(5.0), torch.tensor(-5.0))
    assert balanced_bce(all_neg, target) > 5 * balanced_bce(perfect, target)


def test_weights_round_trip_and_errors(tmp_path):
    model = HART(HARTConfig(arch="paper", **TINY))
    path = tmp_path / "w.pt"
    save_weights(model, path)
    payload = torch.load(path, weights_only=True)
    assert payload["config"]["arch"] == "paper"
    loaded = load_weights(str(path))
    assert loaded.config == model.config
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    with pytest.raises(InputError, match="not found"):
        load_weights(str(tmp_path / "missing.pt"))
    (tmp_path / "corrupt.pt").write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="not a readable torch weights file"):
        load_weights(str(tmp_path / "corrupt.pt"))
    payload["state_dict"]["fc.weight"] = torch.zeros(3, 3)
    torch.save(payload, tmp_path / "shape.pt")
    with pytest.raises(InputError, match="shape"):
        load_weights(str(tmp_path / "shape.pt"))
    torch.save({"a": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not an attentrack weights file"):
        load_weights(str(tmp_path / "other.pt"))
    payload["state_dict"] = model.state_dict()
    payload["config"]["colour"] = "red"
    torch.save(payload, tmp_path / "newer.pt")
    with pytest.raises(InputError, match="cannot build its hart config .unknown HART config keys: colour"):
        load_weights(str(tmp_path / "newer.pt"))
    with pytest.raises(InputError):
        HARTConfig.from_dict({"arch": "nope"})
    with pytest.raises(InputError):
        HARTConfig.from_dict({"colour": 1})
