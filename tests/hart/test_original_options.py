"""The original code's behaviours as HART config values (issue 28): the area term, the
appearance code, the filter generators' hidden layer, element dropout, the curriculum, the
ImageNet conversion of glimpses, and fine-tuning that grows the shipped weights."""

import math

import numpy as np
import pytest
import torch

from attentrack.tracker.attention import ImagePyramid
from attentrack.tracker.errors import InputError
from attentrack.tracker.hart.losses import HARTLoss
from attentrack.tracker.hart.model import HART, HARTConfig, grow_from
from attentrack.tracker.hart.modules import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DynamicConv,
    VentralStream,
    imagenet_normalise,
)

TINY = dict(glimpse_size=24, backbone_width=8, rnn_units=32)
BOXES = torch.tensor([[0.3, 0.4, 0.1, 0.3], [0.6, 0.5, 0.2, 0.2]])


def _levels(t=4, seed=0):
    frames = np.random.default_rng(seed).integers(0, 256, (2 * t, 96, 128, 3), dtype=np.uint8)
    pyr = ImagePyramid.from_numpy(frames)
    return [lv.reshape(2, t, *lv.shape[1:]) for lv in pyr.levels]


def test_image_area_term_is_minus_log_of_the_free_share_weighted_beyond_the_image():
    hinge, image = HARTLoss(area_loss="hinge"), HARTLoss(area_loss="image")
    gt = torch.tensor([[0.5, 0.5, 0.1, 0.1]]).repeat(4, 1)  # 1 % of the image
    att = torch.tensor([[0.5, 0.5, 0.2, 0.2],    # 4 x the object (free under the hinge)
                        [0.5, 0.5, 0.5, 0.5],    # 25 x the object, a quarter of the image
                        [0.5, 0.5, 0.9, 0.9],    # 81 % of the image
                        [0.5, 0.5, 2.0, 2.0]])   # 4 x the image: clipped, weight 4
    h, i = hinge.area_term(att, gt), image.area_term(att, gt)
    assert float(h[0]) == 0.0 and float(h[1]) == pytest.approx(math.log(25 / 9), rel=1e-5)
    want = [-math.log(1 - 0.04 + 1e-4), -math.log(1 - 0.25 + 1e-4), -math.log(1 - 0.81 + 1e-4), -4 * math.log(1e-4)]
    assert i.tolist() == pytest.approx(want, rel=1e-5)
    assert float(i[0]) > 0  # the original penalises every window, the hinge lets this one go
    assert (i[1:] > i[:-1]).all()  # and more the larger it is
    att.requires_grad_(True)
    image.area_term(att, gt)[3].backward()  # beyond the image the weight still pushes it back
    assert (att.grad[3, 2:] > 0).all()
    with pytest.raises(ValueError):
        HARTLoss(area_loss="box")


def test_dynamic_filter_generator_with_a_hidden_elu_layer():
    torch.manual_seed(0)
    conv = DynamicConv(6, 3, 2, 3, hidden=6)
    assert isinstance(conv.hidden[1], torch.nn.ELU) and conv.hidden[0].out_features == 6
    x, cond = torch.randn(2, 3, 5, 5), torch.randn(2, 6)
    out, params = conv(x, cond)
    assert torch.allclose(params, conv.generator(torch.nn.functional.elu(conv.hidden[0](cond))))
    # each object's output is the convolution with its own generated filters
    n_w = 2 * 3 * 9
    for i in range(2):
        w, b = params[i, :n_w].reshape(2, 3, 3, 3), params[i, n_w:]
        assert torch.allclose(out[i:i + 1], torch.nn.functional.conv2d(x[i:i + 1], w, b, padding=1), atol=1e-5)
    assert DynamicConv(6, 3, 2, 3).hidden is None


def test_element_dropout_zeroes_cells_not_whole_maps():
    torch.manual_seed(0)
    feats = torch.ones(64, 4, 6, 6)
    for mode, whole_maps in (("maps", True), ("elements", False)):
        stream = VentralStream(4, 5, dropout=0.5, dropout_mode=mode).train()
        dropped = stream.dropout(torch.ones(64, 5, 6, 6)) == 0
        per_map = dropped.reshape(64, 5, -1)
        uniform = (per_map.all(-1) | (~per_map).all(-1)).all()
        assert bool(uniform) == whole_maps
        assert 0.4 < float(dropped.float().mean()) < 0.6
        assert stream(feats).shape == (64, 5, 6, 6)
    with pytest.raises(ValueError):
        VentralStream(4, dropout_mode="channels")


def test_appearance_code_feeds_the_box_and_attention_heads():
    torch.manual_seed(0)
    model = HART(HARTConfig(mask_code=10, **TINY)).eval()
    fs = model.feature_size
    assert model.mask_code.in_features == fs * fs and model.mask_code.out_features == 10
    plain = HART(HARTConfig(**TINY))
    assert model.box_head[0].in_features == plain.box_head[0].in_features + 10
    assert model.att_head[0].in_features == plain.att_head[0].in_features + 10
    levels = _levels()
    with torch.no_grad():
        before = model(levels, BOXES)
        model.mask_code.bias.add_(1.0)  # the code changes, nothing else does
        after = model(levels, BOXES)
    assert torch.equal(before["box"][:, 0], after["box"][:, 0])
    assert not torch.allclose(before["box"][:, 1:], after["box"][:, 1:])
    assert torch.equal(before["mask_logit"][:, 0], after["mask_logit"][:, 0])  # the mask comes before the code
    assert not torch.allclose(before["att"][:, 1], after["att"][:, 1])  # the next window reads the code too


@pytest.mark.parametrize("arch", ["corr", "paper"])
def test_grown_model_computes_what_the_loaded_one_did(arch):
    torch.manual_seed(0)
    cfg = dict(arch=arch, att_input=arch == "paper", **TINY)
    small = HART(HARTConfig(**cfg)).eval()
    with torch.no_grad():  # generators far from their initialisation, as after training
        for p in small.dorsal.parameters():
            p.add_(0.05 * torch.randn_like(p))
    grown = HART(HARTConfig(mask_code=10, dfn_hidden=32, dropout_mode="elements", **cfg)).eval()
    fresh = grow_from(grown, small.state_dict())
    assert fresh == ["mask_code.bias", "mask_code.weight"]
    levels = _levels(5, seed=3)
    with torch.no_grad():
        a, b = small(levels, BOXES), grown(levels, BOXES)
    for key in ("box", "att", "mask_logit", "score"):
        assert torch.allclose(a[key], b[key], atol=1e-5), key
    with pytest.raises(InputError, match="shape"):
        grow_from(HART(HARTConfig(arch=arch, att_input=arch == "paper", glimpse_size=24, backbone_width=4,
                                  rnn_units=32)), small.state_dict())


def test_imagenet_conversion_of_bgr_glimpses():
    g = torch.zeros(1, 3, 2, 2)
    g[0, 0], g[0, 1], g[0, 2] = 10.0, 128.0, 250.0  # B, G, R
    out = imagenet_normalise(g)
    for c, value in enumerate((250.0, 128.0, 10.0)):  # R, G, B in torchvision's order
        assert torch.allclose(out[0, c], torch.full((2, 2), (value / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]))
    model = HART(HARTConfig(glimpse_norm="imagenet", **TINY)).eval()
    with torch.no_grad():
        assert torch.allclose(model._features(g.repeat(1, 1, 12, 12)), model.backbone(out.repeat(1, 1, 12, 12)))


def test_config_values_are_checked():
    for bad in (dict(area_loss="box"), dict(dropout_mode="x"), dict(glimpse_norm="rgb"), dict(mask_code=-1),
                dict(curriculum_step=0), dict(curriculum_min_steps=-2)):
        with pytest.raises(InputError):
            HARTConfig.from_dict(bad)
    old = HARTConfig().to_dict()  # weights written before these fields load with today's behaviour
    for key in ("dropout_mode", "dfn_hidden", "mask_code", "glimpse_norm", "area_loss", "curriculum_step",
                "curriculum_min_steps"):
        old.pop(key)
    assert HARTConfig.from_dict(old) == HARTConfig()


def _task(seq, tmp_path, **config):
    from attentrack.tracker.hart.train import HARTTask, TrainOptions

    opts = TrainOptions(data=[str(seq)], out=str(tmp_path / "run"), assets="none", steps=50, tokens=8, min_length=4,
                        max_length=12, workers=0, threads=1, val_every=0, val_split=0.0, progress=False,
                        config={"glimpse_size": 16, "backbone_width": 4, "rnn_units": 16, **config})
    return HARTTask(opts)


def _lengths(task, steps, iou=0.9):
    """The sequence length after each of ``steps`` steps whose running IoU is ``iou``."""
    seen = []
    for step in range(1, steps + 1):
        task.batch_length = task.length  # the batch just trained had the current length
        task.ema_iou = iou  # the running IoU held at ``iou``
        task.after_step(step, {"iou": iou})
        seen.append(task.length)
    return seen


def test_curriculum_original_adds_one_frame_after_a_minimum_time(tmp_path, fake_mot_sequence):
    ours = _task(fake_mot_sequence, tmp_path)
    assert _lengths(ours, 3) == [9, 12, 12]  # +5 whenever the IoU passes, up to max_length
    original = _task(fake_mot_sequence, tmp_path, curriculum_step=1, curriculum_min_steps=3)
    seen = _lengths(original, 9)
    assert seen == [4, 4, 5, 5, 5, 6, 6, 6, 7]  # +1, never before 3 steps at a length
    assert original.state()["steps_at_length"] == 0
    low = _task(fake_mot_sequence, tmp_path, curriculum_step=1, curriculum_min_steps=3)
    assert _lengths(low, 6, iou=0.1) == [4] * 6  # the IoU threshold still rules


@pytest.mark.slow
def test_fine_tuning_grows_the_weights_and_stores_the_config(tmp_path, fake_mot_sequence):
    from attentrack.tracker.hart.model import load_weights, save_weights
    from attentrack.tracker.hart.train import TrainOptions, train

    small = {"glimpse_size": 16, "backbone_width": 4, "rnn_units": 16}
    torch.manual_seed(0)
    save_weights(HART(HARTConfig(**small)), tmp_path / "start.pt")
    grown = {**small, "mask_code": 10, "dfn_hidden": 16, "dropout_mode": "elements", "area_loss": "image"}
    opts = TrainOptions(data=[str(fake_mot_sequence)], out=str(tmp_path / "ft"), assets="none", steps=2, tokens=8,
                        min_length=4, max_length=4, workers=0, threads=1, val_every=0, val_split=0.0, progress=False,
                        config=grown, init_weights=str(tmp_path / "start.pt"))
    summary = train(opts)
    assert summary["steps"] == 2
    model = load_weights(tmp_path / "ft" / "hart.pt")
    assert model.config == HARTConfig(**grown)
    assert model.dorsal.dfn1.hidden is not None and model.mask_code.out_features == 10
    # the loss's learned uncertainty weights travel with the weights: a second fine-tune starts
    # from them instead of from zero
    from attentrack.tracker.hart.train import HARTTask
    from attentrack.tracker.weights_file import load_weights as read_weights

    log_vars = read_weights(tmp_path / "ft" / "hart.pt").metadata["training"]["loss_log_vars"]
    assert len(log_vars) == 3 and any(v != 0 for v in log_vars)
    again = HARTTask(TrainOptions(**{**opts.__dict__, "out": str(tmp_path / "ft2"),
                                     "init_weights": str(tmp_path / "ft" / "hart.pt")}))
    np.testing.assert_allclose(again.module.loss.log_vars.detach().numpy(), log_vars, atol=1e-6)
    again.close()
