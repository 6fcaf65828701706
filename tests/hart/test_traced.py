"""TorchScript steps give the eager model's tracks, for every object count they meet."""

import numpy as np
import torch

from tracker.attention import ImagePyramid
from tracker.hart.model import HART, HARTConfig
from tracker.hart.traced import TracedSteps
from tracker.trackers.hart import HARTTracker

TINY = dict(glimpse_size=24, backbone_width=8, rnn_units=32)


def _frames(n=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 120, 160, 3), dtype=np.uint8)


def test_traced_steps_equal_eager_steps_for_several_object_counts():
    torch.manual_seed(0)
    model = HART(HARTConfig(**TINY)).eval().fold_batchnorm_()
    traced = TracedSteps(model, max_graphs=2, trace_after=2)
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
    assert all(fn is not traced.after_glimpse for fn in traced._graphs.values())  # both traced


def test_tracker_with_and_without_jit_agree():
    frames = _frames(6, seed=1)
    boxes = np.array([[30.0, 20, 20, 40], [90, 50, 30, 30]])
    runs = []
    for jit in (True, False):
        t = HARTTracker(device="cpu", jit=jit)
        if jit:
            t._steps.trace_after = 1  # a graph from the first step on
        t.start(frames[0], boxes)
        runs.append(np.stack([[tr.box for tr in t.update(f)] for f in frames[1:]]))
        if jit:
            assert set(t._steps._graphs) == {2}
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-3)
