"""The one training loop on a tiny model: a run cut into pieces ends where an uninterrupted one
does, the time budget stops it, checkpoints are written atomically, validation keeps the best
weights without changing training, and bad checkpoints are one-line errors."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from torch import nn

from attentrack.tracker.errors import InputError
from attentrack.tracker.training import LoopOptions, TrainingTask, train
from attentrack.tracker.weights_file import load_weights


class Regression(TrainingTask):
    """Noisy linear regression through a dropout layer: the loss draws from the loop's numpy
    generator and the dropout from torch's, so both must be checkpointed for an exact resume."""

    model_id = "regression"

    def __init__(self, hidden: int = 8, pause: float = 0.0, scores=None) -> None:
        torch.manual_seed(0)
        self.module = nn.Sequential(nn.Linear(3, hidden), nn.Dropout(0.3), nn.Linear(hidden, 1))
        self.config = {"hidden": hidden}
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=0.05)
        self.pause, self.scores = pause, scores
        self.truth = torch.tensor([[1.0], [-2.0], [0.5]])
        self.seen = 0
        self.progress: list[float] = []

    def loss(self, step, rng):
        time.sleep(self.pause)
        x = torch.from_numpy(rng.normal(size=(16, 3)).astype(np.float32))
        loss = ((self.module(x) - x @ self.truth) ** 2).mean()
        return loss, {"mse": float(loss.detach())}

    def learning_rate(self, step, progress):
        self.progress.append(progress)
        return 0.05 * (1.0 - 0.9 * step / 12)

    def after_step(self, step, terms):
        self.seen += 1

    def status(self):
        return {"seen": self.seen}

    def state(self):
        return {"seen": self.seen}

    def load_state(self, state):
        self.seen = state["seen"]


class Validated(Regression):
    """Validation scores from a list, the best kept."""

    best_by = "score"

    def validate(self):
        assert not self.module.training and not torch.is_grad_enabled()
        torch.rand(5)  # draws from torch's generator: training must not notice
        return {"score": self.scores.pop(0)}


def _opts(out, **kw):
    return LoopOptions(out=str(out), steps=12, checkpoint_every=5, progress=False, threads=0, **kw)


def _weights(path):
    return load_weights(path, expect="regression").state_dict


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    straight = train(Regression(), _opts(tmp_path / "a"))
    assert straight["steps"] == 12 and straight["finished"] and straight["seen"] == 12
    first = train(Regression(), _opts(tmp_path / "b", stop_after=5))
    assert first["steps"] == 5 and not first["finished"]
    assert (tmp_path / "b" / "regression.pt").is_file()  # a stopped run leaves usable weights
    second = train(Regression(), _opts(tmp_path / "b", stop_after=4, resume=True))
    assert second["steps"] == 9
    last = train(Regression(), _opts(tmp_path / "b", resume=True))
    assert last["steps"] == 12 and last["finished"] and last["seen"] == 12  # the task's own state came back
    assert last["mse"] == straight["mse"]
    _assert_same(_weights(tmp_path / "a" / "regression.pt"), _weights(tmp_path / "b" / "regression.pt"))
    meta = load_weights(tmp_path / "a" / "regression.pt").metadata["training"]
    assert meta["steps"] == 12 and meta["seed"] == 0
    with pytest.raises(InputError, match=r"checkpoint.pt is a training checkpoint, not weights; .*\(regression.pt\)"):
        load_weights(tmp_path / "a" / "checkpoint.pt")


def test_the_time_budget_stops_the_run_and_resume_finishes_it(tmp_path):
    opts = _opts(tmp_path / "t", max_minutes=0.2 / 60)  # 0.2 s; each step sleeps 0.05 s
    task = Regression(pause=0.05)
    stopped = train(task, opts)
    assert 1 <= stopped["steps"] < 12 and not stopped["finished"]
    # the schedule's progress is the share of the budget spent, further along than the steps'
    assert task.progress[-1] > (stopped["steps"] - 1) / 12 and task.progress == sorted(task.progress)
    ck = torch.load(tmp_path / "t" / "checkpoint.pt", weights_only=True)
    assert ck["step"] == stopped["steps"]
    done = train(Regression(), _opts(tmp_path / "t", resume=True))  # no budget now
    assert done["finished"]
    train(Regression(), _opts(tmp_path / "u"))
    _assert_same(_weights(tmp_path / "t" / "regression.pt"), _weights(tmp_path / "u" / "regression.pt"))


def test_a_checkpoint_is_replaced_atomically(tmp_path, monkeypatch):
    train(Regression(), _opts(tmp_path, stop_after=5))
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def dies_half_way(obj, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        train(Regression(), _opts(tmp_path, resume=True))  # interrupted while writing the step-10 checkpoint
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "log.jsonl", "regression.pt"]


def test_validation_keeps_the_best_weights_and_leaves_training_alone(tmp_path):
    plain = train(Regression(), _opts(tmp_path / "plain"))
    scores = [0.1, 0.5, 0.9, 0.3, 0.2]  # before the first step, then steps 4, 8, 12 (the end)
    checked = train(Validated(scores=scores), _opts(tmp_path / "val", val_every=4))
    assert not scores[1:]  # four validations
    assert checked["best_step"] == 8 and checked["best_score"] == 0.9 and checked["val_score"] == 0.3
    _assert_same(_weights(tmp_path / "plain" / "regression.pt"), _weights(tmp_path / "val" / "regression.pt"))
    best = load_weights(tmp_path / "val" / "best.pt")
    assert best.metadata["training"]["steps"] == 8 and best.metadata["training"]["score"] == 0.9
    logged = [json.loads(line) for line in (tmp_path / "val" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "step" in r] == [0, 4, 8, 12]
    assert plain["steps"] == checked["steps"]


def test_gradients_are_clipped(tmp_path):
    class Plain(Regression):
        def __init__(self):
            super().__init__()
            self.module = nn.Linear(3, 1)
            self.optimizer = torch.optim.SGD(self.module.parameters(), lr=1.0)

        def learning_rate(self, step, progress):
            return None

    task = Plain()
    before = torch.cat([p.detach().flatten() for p in task.module.parameters()])
    train(task, LoopOptions(out=str(tmp_path), steps=1, clip=1e-3, progress=False, threads=0))
    after = torch.cat([p.detach().flatten() for p in task.module.parameters()])
    assert 0 < float((after - before).norm()) <= 1e-3 + 1e-7  # SGD, lr 1: the step is the clipped gradient


def test_a_batch_with_a_non_finite_gradient_is_skipped_not_learnt(tmp_path):
    """Step 3's loss is NaN: its update is skipped and counted, the weights stay finite, the
    running terms ignore it and training goes on."""

    class OneBadBatch(Regression):
        def loss(self, step, rng):
            loss, terms = super().loss(step, rng)
            if step == 2:
                loss = loss * float("nan")
                terms = {"mse": float("nan")}
            return loss, terms

    task = OneBadBatch()
    with pytest.warns(UserWarning, match="step 3: the gradient is not finite"):
        summary = train(task, _opts(tmp_path, clip=5.0))
    assert summary["skipped"] == 1 and summary["steps"] == 12
    assert task.seen == 11  # after_step runs for the updates that happened
    assert np.isfinite(summary["mse"])
    assert all(bool(torch.isfinite(v).all()) for v in _weights(tmp_path / "regression.pt").values())


def test_a_setting_added_since_the_checkpoint_resumes_at_its_default(tmp_path):
    """A checkpoint written before a setting existed resumes when the run leaves that setting at
    its default, and is refused when the run changes it."""
    train(Regression(), _opts(tmp_path, stop_after=2))

    class Newer(Regression):
        def __init__(self, dropout_mode: str = "maps") -> None:
            super().__init__()
            self.config = {"hidden": 8, "dropout_mode": dropout_mode}
            self.config_defaults = {"hidden": 8, "dropout_mode": "maps"}

    train(Newer(), _opts(tmp_path, resume=True, stop_after=3))
    with pytest.raises(InputError, match=r"settings differ .*\(dropout_mode\)"):
        train(Newer("elements"), _opts(tmp_path, resume=True))


def test_checkpoints_that_cannot_be_resumed_are_one_line_errors(tmp_path):
    train(Regression(), _opts(tmp_path, stop_after=2))
    with pytest.raises(InputError, match=r"cannot resume from .*checkpoint.pt: .*settings differ .*\(hidden\)"):
        train(Regression(hidden=4), _opts(tmp_path, resume=True))

    class Other(Regression):
        model_id = "other"

    with pytest.raises(InputError, match="checkpoint of regression, not of other"):
        train(Other(), _opts(tmp_path, resume=True))
    (tmp_path / "checkpoint.pt").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a readable torch checkpoint file") as err:
        train(Regression(), _opts(tmp_path, resume=True))
    assert "\n" not in str(err.value)


def test_progress_bar_and_validation_lines(tmp_path, capsys):
    train(Validated(scores=[0.1, 0.2, 0.3]), LoopOptions(out=str(tmp_path), steps=4, val_every=2, progress=True,
                                                        threads=0))
    err = capsys.readouterr().err
    assert "train regression" in err and "step 2: val_score 0.2" in err


def test_loop_options_are_picked_from_a_models_options():
    class ModelOptions:
        out, steps, seed, lr, clip = "runs/x", 7, 3, 0.1, 2.0

    opts = LoopOptions.pick(ModelOptions(), clip=5.0)
    assert (opts.out, opts.steps, opts.seed, opts.clip, opts.checkpoint_every) == ("runs/x", 7, 3, 5.0, 250)
