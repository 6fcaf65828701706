"""HART inference with the per-step network compiled by TorchScript, one graph per object count.

Python and dispatcher overhead dominate a HART step on a CPU when few objects are tracked
(hundreds of small tensor operations). :class:`TracedSteps` runs everything after the glimpse
read (backbone, ventral and dorsal streams, template correlation, LSTM, heads) as a traced
and frozen TorchScript graph. The glimpse read stays eager (its crop geometry depends on the
data). A trace specialises on the number of objects ``N`` (grouped convolutions take
``N`` as a constant), so graphs are cached per ``N``; an object count gets its graph once it
has been seen on ``trace_after`` steps (building one takes 0.1-0.3 s, more than a few
eager steps), and each new graph is checked against the eager model on its first input and
replaced by the eager model if they disagree.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import torch
from torch import nn

from tracker.attention import ImagePyramid
from tracker.hart.model import HART, HARTOutput, HARTState

#: graphs kept (one per object count, least recently used dropped first)
MAX_GRAPHS = 12
#: steps an object count runs eagerly before it gets a graph
TRACE_AFTER = 10
#: largest difference tolerated between a new graph and the eager model
TRACE_TOLERANCE = 1e-3


class _AfterGlimpse(nn.Module):
    """Glimpses and state in, new state and outputs out, as one module (for tracing)."""

    def __init__(self, model: HART) -> None:
        super().__init__()
        self.model = model

    def forward(self, glimpse, att, h, c, template, size0, motion):
        feats = self.model._features(glimpse)
        state, out = self.model._advance(feats, glimpse, HARTState(att, h, c, template, size0, motion))
        return (*state, out.box, out.mask_logit, out.score)


class TracedSteps:
    """:meth:`HART.step` for inference, with cached TorchScript graphs.

    Args:
        model: a HART model in evaluation mode (batch norms folded or not).
        max_graphs: graphs kept in the cache.
        trace_after: steps an object count runs eagerly before its graph is built.
    """

    def __init__(self, model: HART, max_graphs: int = MAX_GRAPHS, trace_after: int = TRACE_AFTER) -> None:
        if model.training:
            raise RuntimeError("TracedSteps needs a model in evaluation mode")
        self.model = model
        self.after_glimpse = _AfterGlimpse(model).eval()
        self.max_graphs = int(max_graphs)
        self.trace_after = int(trace_after)
        self._graphs: OrderedDict[int, object] = OrderedDict()
        self._seen: dict[int, int] = {}

    def _graph(self, args: tuple[torch.Tensor, ...]):
        n = int(args[0].shape[0])
        fn = self._graphs.get(n)
        if fn is not None:
            self._graphs.move_to_end(n)
            return fn
        self._seen[n] = self._seen.get(n, 0) + 1
        if self._seen[n] < self.trace_after:
            return self.after_glimpse
        del self._seen[n]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn = torch.jit.freeze(torch.jit.trace(self.after_glimpse, args, check_trace=False))
                got, want = fn(*args), self.after_glimpse(*args)
            if any(float((a - b).abs().max()) > TRACE_TOLERANCE for a, b in zip(got, want) if a.numel()):
                fn = self.after_glimpse
        except Exception:  # an operation TorchScript cannot trace: stay eager
            fn = self.after_glimpse
        self._graphs[n] = fn
        if len(self._graphs) > self.max_graphs:
            self._graphs.popitem(last=False)
        return fn

    @torch.no_grad()
    def step(self, pyramid: ImagePyramid, state: HARTState) -> tuple[HARTState, HARTOutput]:
        """As :meth:`HART.step` (``dfn_decay`` of the output is zeros: a training term)."""
        glimpse = self.model.read(pyramid, state.att)
        args = (glimpse, *state)
        res = self._graph(args)(*args)
        n = glimpse.shape[0]
        out = HARTOutput(res[6], state.att, res[7], glimpse.new_zeros(n), glimpse, res[8])
        return HARTState(*res[:6]), out
