"""Compiled steps (TorchScript, ONNX Runtime) give the eager model's tracks, for every object
count they meet."""

import numpy as np
import pytest
import torch

from attentrack.tracker.attention import ImagePyramid
from attentrack.tracker.hart.model import HART, HARTConfig
from attentrack.tracker.hart.traced import TracedSteps, onnx_runtime_available
from attentrack.tracker.trackers.hart import HARTTracker

TINY = dict(glimpse_size=24, backbone_width=8, rnn_units=32)


def _frames(n=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 120, 160, 3), dtype=np.uint8)


ORT = pytest.mark.skipif(not onnx_runtime_available(),
                         reason="onnx/onnxruntime not installed (pip install 'attentrack[fast]')")
ENGINES = ["jit", pytest.param("onnx", marks=ORT), pytest.param("auto", marks=ORT)]


#: the two architectures, and the original code's layers (issue 28: the appearance code into the
#: heads, the filter generators' hidden layer, element dropout)
CONFIGS = {"corr": dict(arch="corr"), "paper": dict(arch="paper"),
           "original-layers": dict(mask_code=10, dfn_hidden=32, dropout_mode="elements")}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("engine", ENGINES)
def test_traced_steps_equal_eager_steps_for_several_object_counts(engine, config):
    torch.manual_seed(0)
    model = HART(HARTConfig(**CONFIGS[config], **TINY)).eval().fold_batchnorm_()
    traced = TracedSteps(model, max_graphs=2, trace_after=2, engine=engine)
    frames = _frames()
    for boxes in (torch.tensor([[0.3, 0.4, 0.1, 0.3]]),
                  torch.tensor([[0.3, 0.4, 0.1, 0.3], [0.6, 0.5, 0.2, 0.2], [0.8, 0.2, 0.05, 0.1]])):
        with torch.no_grad():
            state, _ = model.init(ImagePyramid.from_numpy(frames[0]), boxes)
            eager = traced_state = state
            for frame in frames[1:]:
                pyr = ImagePyramid.from_numpy(frame)
                eager, out_e = model.step(pyr, eager)
                traced_state, out_t = traced.step(pyr, traced_state)
                assert torch.allclose(out_e.box, out_t.box, atol=1e-5)
                assert torch.allclose(out_e.score, out_t.score, atol=1e-5)
                assert torch.allclose(out_e.mask_logit, out_t.mask_logit, atol=1e-4)
                for a, b in zip(eager, traced_state):
                    assert torch.allclose(a, b, atol=1e-5)
    assert set(traced._graphs) == {1, 3}  # built on the second step of each count
    assert all(fn is not traced.after_glimpse for fn in traced._graphs.values())  # both compiled
    expected = {"jit"} if engine == "jit" else {"onnx"} if engine == "onnx" else {"jit", "onnx"}
    assert set(traced.chosen.values()) <= expected and len(traced.chosen) == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_tracker_with_and_without_a_compiled_graph_agree(engine):
    frames = _frames(6, seed=1)
    boxes = np.array([[30.0, 20, 20, 40], [90, 50, 30, 30]])
    runs = []
    for name in (engine, "eager"):
        t = HARTTracker(device="cpu", engine=name)
        t._steps.trace_after = 1  # a graph from the first step on
        t.start(frames[0], boxes)
        runs.append(np.stack([[tr.box for tr in t.update(f)] for f in frames[1:]]))
        assert set(t._steps._graphs) == (set() if name == "eager" else {2})
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-3)


def test_unknown_or_unavailable_engine_is_a_one_line_error():
    from attentrack.tracker.errors import InputError

    model = HART(HARTConfig(**TINY)).eval()
    with pytest.raises(InputError, match="unknown HART engine"):
        TracedSteps(model, engine="tensorrt")


def test_graphs_are_shared_by_steps_of_equal_models():
    torch.manual_seed(3)
    model = HART(HARTConfig(**TINY)).eval().fold_batchnorm_()
    twin = HART(HARTConfig(**TINY)).eval().fold_batchnorm_()
    twin.load_state_dict(model.state_dict())
    first, second = TracedSteps(model, trace_after=2, engine="jit"), TracedSteps(twin, trace_after=2, engine="jit")
    frames = _frames(3, seed=4)
    with torch.no_grad():
        state, _ = model.init(ImagePyramid.from_numpy(frames[0]), torch.tensor([[0.4, 0.5, 0.1, 0.2]]))
        for frame in frames[1:]:
            first.step(ImagePyramid.from_numpy(frame), state)
        assert 1 in first._graphs  # built on the second step
        second.step(ImagePyramid.from_numpy(frames[1]), state)
        assert second._graphs.get(1) is first._graphs[1]  # the twin uses it from its first step
        other = HART(HARTConfig(**TINY)).eval().fold_batchnorm_()  # other weights: a graph of its own later
        third = TracedSteps(other, trace_after=2, engine="jit")
        third.step(ImagePyramid.from_numpy(frames[1]), state)
        assert 1 not in third._graphs


def test_onnx_engine_without_onnx_runtime_is_a_one_line_error(monkeypatch):
    import attentrack.tracker.hart.traced as traced
    from attentrack.tracker.errors import InputError

    monkeypatch.setattr(traced, "onnx_runtime_available", lambda: False)
    model = HART(HARTConfig(**TINY)).eval()
    with pytest.raises(InputError, match="attentrack\\[fast\\]"):
        traced.TracedSteps(model, engine="onnx")
    assert traced.TracedSteps(model, engine="auto")._use_onnx is False  # auto falls back to TorchScript


@ORT
def test_auto_times_both_engines_only_between_the_counts_each_has_won():
    model = HART(HARTConfig(**TINY)).eval()
    steps = TracedSteps(model, engine="auto")
    assert steps._engines_to_try(5) == ["jit", "onnx"]  # nothing timed yet
    steps._won = {"onnx": 3, "jit": 12}
    assert steps._engines_to_try(2) == ["onnx"] and steps._engines_to_try(3) == ["onnx"]
    assert steps._engines_to_try(12) == ["jit"] and steps._engines_to_try(20) == ["jit"]
    assert steps._engines_to_try(7) == ["jit", "onnx"]
    assert TracedSteps(model, engine="jit")._engines_to_try(2) == ["jit"]
