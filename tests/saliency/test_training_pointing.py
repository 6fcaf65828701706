"""The classifiers learn on real data, training resumes exactly, the pointing game scores
hits as the protocol says, and saliency maps become proposals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attentrack.saliency.data import digits_evaluation, pedestrian_evaluation
from attentrack.saliency.models import load_classifier
from attentrack.saliency.pointing import PointingResult, is_hit, point_of, pointing_game
from attentrack.saliency.prior import SaliencyProposer, map_to_proposals
from attentrack.saliency.train import TrainOptions, train_classifier


@pytest.mark.slow
def test_pedestrian_classifier_learns_on_real_tud_patches(data_dir, tmp_path):
    r = train_classifier(TrainOptions(task="pedestrian", data=str(data_dir), out=str(tmp_path), steps=30, batch=16,
                                      lr=1e-3, val_every=0, progress=False))
    assert r["finished"] and r["val_accuracy"] > 0.75  # chance: 0.5 (balanced patches)
    assert r["val_loss"] < np.log(2)
    assert load_classifier(tmp_path / "pedestrian.pt").config.classes == ["background", "pedestrian"]


@pytest.mark.slow
def test_training_resumes_exactly(data_dir, tmp_path):
    kw = dict(task="digits", data=str(data_dir), steps=4, batch=4, val_every=0, checkpoint_every=2, progress=False)
    train_classifier(TrainOptions(out=str(tmp_path / "a"), **kw))
    first = train_classifier(TrainOptions(out=str(tmp_path / "b"), stop_after=1, **kw))
    assert not first["finished"] and first["steps"] == 1
    train_classifier(TrainOptions(out=str(tmp_path / "b"), resume=True, **kw))
    a = torch.load(tmp_path / "a" / "digits.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b" / "digits.pt", weights_only=True)["state_dict"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_hit_rule_uses_15_pixels_around_the_box():
    boxes = np.array([[100.0, 100.0, 20.0, 40.0]])
    assert is_hit((110, 120), boxes)           # inside
    assert is_hit((134.9, 120), boxes)         # 14.9 px right of the box
    assert not is_hit((135.5, 120), boxes)     # 15.5 px
    assert not is_hit((131, 152), boxes)       # diagonal: hypot(11, 12) > 15
    heat = np.zeros((50, 60))
    heat[10, 40] = 1.0
    assert point_of(heat) == (40.0, 10.0)
    r = PointingResult("d", "m", ["a", "b", "c"], [3, 1, 0], [4, 2, 0])
    assert r.accuracy == pytest.approx((0.75 + 0.5) / 2)  # classes that never occur do not count
    assert PointingResult.from_dict(r.to_dict()).hits == r.hits


def test_map_to_proposals_finds_two_blobs():
    yy, xx = np.mgrid[0:120, 0:160]
    heat = np.exp(-((xx - 40) ** 2 / 50 + (yy - 60) ** 2 / 200)) + 0.8 * np.exp(-((xx - 120) ** 2 / 50 + (yy - 50) ** 2 / 200))
    p = map_to_proposals(heat, threshold=0.3, peak_distance=10)
    assert len(p.boxes) == 2
    np.testing.assert_allclose(p.peaks, [[40, 60], [120, 50]])
    assert p.scores[0] == pytest.approx(1.0) and 0.7 < p.scores[1] < 0.9
    cx = p.boxes[:, 0] + p.boxes[:, 2] / 2
    np.testing.assert_allclose(cx, [40, 120], atol=1.5)
    assert len(map_to_proposals(np.zeros((10, 10))).boxes) == 0


@pytest.mark.slow
def test_shipped_classifiers_beat_the_centre_baseline_on_held_out_data(data_dir):
    ped = load_classifier("pedestrian")
    items = pedestrian_evaluation(data_dir, every=10)
    res = pointing_game(ped, items, ["centre", "ceb"], "tud")
    assert res["ceb"].accuracy >= max(res["centre"].accuracy, 0.8)  # crowded scene: the centre is strong
    digits = load_classifier("digits")
    res = pointing_game(digits, digits_evaluation(data_dir, n=25), ["centre", "eb", "ceb"], "mnist")
    assert res["ceb"].accuracy > res["centre"].accuracy + 0.2
    assert res["eb"].accuracy > res["centre"].accuracy


def test_contrastive_eb_suppresses_the_other_digit(data_dir):
    """On canvases with two different digits, c-EB of one puts less of its map on the other than EB does."""
    model = load_classifier("digits")
    items = [it for it in digits_evaluation(data_dir, n=40, seed=3) if len(set(it.labels.tolist())) >= 2][:8]
    from attentrack.saliency import saliency

    fractions = {"eb": [], "ceb": []}
    for it in items:
        a = int(it.labels[0])
        x = model.prepare(it.image)
        for m in fractions:
            heat = saliency(model, x, a, method=m).resized(it.image.shape)[0]
            heat = np.clip(heat, 0, None)
            bx = it.boxes[1].astype(int)
            inside = heat[bx[1]:bx[1] + bx[3], bx[0]:bx[0] + bx[2]].sum()
            fractions[m].append(inside / max(heat.sum(), 1e-12))
    assert np.mean(fractions["ceb"]) < np.mean(fractions["eb"])


def test_saliency_proposer_finds_pedestrians_on_a_held_out_frame(data_dir):
    proposer = SaliencyProposer("pedestrian", device="cpu")
    item = pedestrian_evaluation(data_dir, every=20)[1]
    boxes, scores = proposer.propose(item.image)
    assert len(boxes) >= 1 and scores.max() <= 1.0
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    assert any(is_hit(tuple(c), item.boxes) for c in centres)
