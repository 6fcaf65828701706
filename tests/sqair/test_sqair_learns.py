"""SQAIR learns on real digits: the IWAE bound rises within ~50 small steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attentrack.datasets.moving_mnist import MovingMnist, load_digits
from attentrack.tracker.sqair.config import SQAIRConfig
from attentrack.tracker.sqair.losses import SQAIRLoss, iwae_bound
from attentrack.tracker.sqair.model import SQAIR
from attentrack.tracker.sqair.train import TrainOptions, curriculum_length, train


def _tiny():
    return SQAIRConfig(height=32, width=32, max_objects=1, glimpse=10, what_dim=8, hidden=32, scale_prior=0.8)


@pytest.mark.slow
def test_bound_rises_on_real_digits(data_dir):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest, and the machine is shared
    try:
        _learn(data_dir)
    finally:
        torch.set_num_threads(threads)


def _learn(data_dir):
    torch.manual_seed(0)
    gen = MovingMnist(load_digits("train", data_dir), canvas=32, n_frames=2, max_digits=1)
    held = torch.from_numpy(gen.sample(np.random.default_rng(99), 16, n_digits=np.ones(16, int)).frames)
    model = SQAIR(_tiny())
    loss_fn = SQAIRLoss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def score():
        with torch.no_grad():
            return float(iwae_bound(model(held, 2).log_weights).mean())

    before = score()
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = torch.from_numpy(gen.sample(rng, 8, n_digits=np.ones(8, int)).frames)
        out = model(x, 2)
        terms = loss_fn(out.log_weights, out.log_q_pres, 2)
        opt.zero_grad()
        terms.total.backward()
        opt.step()
    after = score()
    assert after > before + 50, (before, after)  # nats per 2-frame sequence


def test_training_resumes_exactly(tmp_path, data_dir):
    gen = MovingMnist(load_digits("train", data_dir), canvas=32, max_digits=1)

    def draw(rng, n, length):
        return gen.sample(rng, n, length).frames

    cfg = _tiny().to_dict()
    base = dict(batch=2, particles=2, min_length=2, max_length=3, grow_every=2, checkpoint_every=2,
                progress=False, config=cfg, steps=4)
    full = train(TrainOptions(out=str(tmp_path / "a"), **base), draw)
    train(TrainOptions(out=str(tmp_path / "b"), stop_after=2, **base), draw)
    resumed = train(TrainOptions(out=str(tmp_path / "b"), resume=True, **base), draw)
    assert full["steps"] == resumed["steps"] == 4
    a = torch.load(tmp_path / "a" / "sqair.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b" / "sqair.pt", weights_only=True)["state_dict"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    assert curriculum_length(0, TrainOptions(out="x", **{**base, "steps": 1})) == 2
    assert curriculum_length(100, TrainOptions(out="x", **{**base, "steps": 1})) == 3


@pytest.mark.slow
def test_validation_keeps_the_best_weights_and_leaves_training_unchanged(tmp_path, data_dir):
    import json

    from attentrack.tracker.sqair.model import load_weights
    from attentrack.tracker.sqair.train import moving_mnist_validator

    digits = load_digits("train", data_dir)
    gen = MovingMnist(digits[:-50], canvas=32, max_digits=1)

    def draw(rng, n, length):
        return gen.sample(rng, n, length).frames

    base = dict(batch=2, particles=2, min_length=2, max_length=2, checkpoint_every=2, progress=False,
                config=_tiny().to_dict(), steps=4)
    plain = train(TrainOptions(out=str(tmp_path / "plain"), **base), draw)
    scores = []
    validator = moving_mnist_validator(digits[-50:], sequences=4, particles=2, canvas=32, max_digits=1)

    def validate(model):
        assert not model.training and not torch.is_grad_enabled()
        scores.append(validator(model))
        return scores[-1] if len(scores) != 3 else 2.0  # the third validation (step 2) is the best

    checked = train(TrainOptions(out=str(tmp_path / "val"), validate_every=1, **base), draw, validate=validate)
    assert len(scores) == 5 and all(0.0 <= s <= 1.0 for s in scores)  # steps 0 (the start) to 4
    assert checked["best_step"] == 2 and checked["best_score"] == 2.0
    assert torch.load(tmp_path / "val" / "best.pt", weights_only=True)["metadata"]["training"]["steps"] == 2
    assert load_weights(tmp_path / "val" / "best.pt").config.hidden == _tiny().hidden
    logged = [json.loads(ln) for ln in (tmp_path / "val" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "step" in r and "val_score" in r] == [0, 1, 2, 3, 4]
    a = torch.load(tmp_path / "plain" / "sqair.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "val" / "sqair.pt", weights_only=True)["state_dict"]
    for k in a:  # validating draws no random numbers from training's streams
        assert torch.equal(a[k], b[k]), k
    assert plain["steps"] == checked["steps"] == 4 and "best_step" not in plain
    # a resumed run remembers the best score so far
    first = train(TrainOptions(out=str(tmp_path / "res"), validate_every=1, stop_after=2, **base), draw,
                  validate=lambda m: 1.0)  # best at the start (step 0): later equal scores do not replace it
    again = train(TrainOptions(out=str(tmp_path / "res"), validate_every=1, resume=True, **base), draw,
                  validate=lambda m: 0.5)
    assert first["best_step"] == again["best_step"] == 0 and again["best_score"] == 1.0


@pytest.mark.parametrize("setting, rate, probe, prefix", [
    ({"disc_prior": "categorical"}, {"prior_lr": 0.1}, "disc_count_logits", "disc_count"),
    ({"glimpse_mask": True}, {"added_lr": 0.1}, "prop_glimpse_mask.2.bias", "prop_glimpse_mask."),
])
def test_the_learned_prior_and_the_added_parts_train_at_their_own_rates(tmp_path, data_dir, setting, rate, probe,
                                                                        prefix):
    """With ``prior_lr`` the categorical prior's parameters, with ``added_lr`` the glimpse mask's
    (whose last layer starts at zero weights, so its bias moves first), take Adam steps of that
    size while every other parameter keeps ``lr`` (Adam moves each by about its rate per step)."""
    gen = MovingMnist(load_digits("train", data_dir), canvas=32, max_digits=1)

    def draw(rng, n, length):
        return gen.sample(rng, n, length).frames

    cfg = {**_tiny().to_dict(), **setting}
    torch.manual_seed(0)
    model = SQAIR(SQAIRConfig.from_dict(cfg))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opts = TrainOptions(out=str(tmp_path), batch=2, particles=2, min_length=2, max_length=2, progress=False,
                        config=cfg, steps=3, lr=1e-5, **rate)
    train(opts, draw, model=model)
    moved = {n: float((p.detach() - before[n]).abs().max()) for n, p in model.named_parameters()}
    assert 0.1 < moved[probe] <= 0.31  # three steps of about 0.1, not of 1e-5
    assert max(v for n, v in moved.items() if not n.startswith(prefix)) <= 3.5e-5
