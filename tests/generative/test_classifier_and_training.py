"""The digit classifier learns on real digits; training resumes exactly; weights round-trip."""

import numpy as np
import pytest
import torch

from attentrack.generative.classifier import ClassifierConfig, DigitClassifier, classifier_task, place_in_cells
from attentrack.generative.data import official_test_digits
from attentrack.generative.registry import load_weights, save_weights
from attentrack.generative.train import TrainOptions, train
from attentrack.tracker.errors import InputError

torch.set_num_threads(1)


@pytest.mark.slow
def test_classifier_learns_on_real_digits(data_dir):
    torch.manual_seed(0)
    x, y = official_test_digits(data_dir, 2000)
    train_x, train_y, val_x, val_y = x[:1500], y[:1500], x[1500:], y[1500:]
    rng = np.random.default_rng(0)
    model = DigitClassifier(ClassifierConfig(channels1=8, channels2=16, hidden=32))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        idx = rng.integers(0, len(train_x), 32)
        xb = torch.from_numpy(place_in_cells(train_x[idx], rng.integers(0, 5, (32, 2))))
        loss = torch.nn.functional.cross_entropy(model(xb), torch.from_numpy(train_y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    cells = torch.from_numpy(place_in_cells(val_x, np.full((len(val_x), 2), 2)))
    acc = float((model.predict(cells) == torch.from_numpy(val_y)).float().mean())
    assert acc > 0.6, acc  # chance is 0.1


@pytest.mark.slow
def test_training_resumes_where_it_stopped(data_dir, tmp_path):
    cfg = ClassifierConfig(channels1=4, channels2=4, hidden=8)

    def run(out, **kw):
        opts = TrainOptions(out=str(out), steps=6, batch=8, val_every=0, progress=False, checkpoint_every=2, **kw)
        torch.manual_seed(0)  # the initial weights
        task = classifier_task(cfg, data_dir)
        task.validate = None
        train(task, opts)
        return load_weights(out / "digit-classifier.pt").state_dict()

    straight = run(tmp_path / "a")
    run(tmp_path / "b", stop_after=3)
    resumed = run(tmp_path / "b", resume=True)
    for k in straight:
        assert torch.allclose(straight[k], resumed[k], atol=1e-6), k
    with pytest.raises(InputError, match="cannot resume"):
        other = classifier_task(ClassifierConfig(channels1=5, channels2=4, hidden=8), data_dir)
        train(other, TrainOptions(out=str(tmp_path / "b"), steps=7, resume=True, progress=False))


def test_weights_round_trip_and_bad_files(tmp_path):
    m = DigitClassifier(ClassifierConfig(channels1=4, channels2=4, hidden=8))
    save_weights(m, tmp_path / "w.pt")
    blob = torch.load(tmp_path / "w.pt", weights_only=True)
    assert blob["model_id"] == "digit-classifier"
    back = load_weights(tmp_path / "w.pt", expect="digit-classifier")
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), back.state_dict().values()))
    with pytest.raises(InputError, match="holds digit classifier weights .digit-classifier., not draw"):
        load_weights(tmp_path / "w.pt", expect="draw")
    with pytest.raises(InputError, match="not found"):
        load_weights(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable torch weights file"):
        load_weights(tmp_path / "bad.pt")
