"""HART inference with the per-step network compiled, one graph per object count.

Python and dispatcher overhead dominate a HART step on a CPU when few objects are tracked
(hundreds of small tensor operations). :class:`TracedSteps` runs everything after the glimpse
read (backbone, ventral and dorsal streams, template correlation, LSTM, heads) as one
compiled graph, built by one of two engines:

- ``jit``: a traced and frozen TorchScript graph (always available);
- ``onnx``: the same module exported to ONNX and run by ONNX Runtime (the optional
  ``attentrack[fast]`` extra: ``onnx`` and ``onnxruntime``); faster than TorchScript with
  few objects on a CPU (measurements in ``tracker/weights/HART_MODEL_CARD.md``).

``engine="auto"``, when ONNX Runtime is installed, builds both for an object count, times
them on its first input and keeps the faster (with many objects the backbone's convolutions
dominate and TorchScript can win); counts at or below one ONNX Runtime has won, or at or
above one TorchScript has won, get that engine without a timing. The glimpse read stays
outside the graph (its crop geometry depends on the data); on the CPU it runs in NumPy
(:meth:`attentrack.tracker.attention.GlimpseReader.read_numpy`).

A graph specialises on the number of objects ``N`` (grouped convolutions take ``N`` as a
constant), so graphs are cached per ``N``; an object count gets its graph once it has been
seen on ``trace_after`` steps (building one takes 0.1-0.6 s, more than a few eager steps),
and each new graph is checked against the eager model on its first input and replaced by the
eager model if they disagree. Graphs are also shared by every :class:`TracedSteps` of the
process whose model has the same weights (an evaluation that starts one tracker per
sequence builds each graph once).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import warnings
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from attentrack.tracker.attention import ImagePyramid
from attentrack.tracker.errors import InputError
from attentrack.tracker.hart.model import HART, HARTOutput, HARTState

#: graphs kept (one per object count, least recently used dropped first)
MAX_GRAPHS = 12
#: steps an object count runs eagerly before it gets a graph
TRACE_AFTER = 10
#: largest difference tolerated between a new graph and the eager model
TRACE_TOLERANCE = 1e-3
#: the engines :class:`TracedSteps` accepts
ENGINES = ("auto", "onnx", "jit", "eager")
#: names of the graph's inputs, in :class:`_AfterGlimpse` argument order
INPUT_NAMES = ("glimpse", "att", "h", "c", "template", "size0", "motion")
#: graphs kept for the whole process: (model fingerprint, engine, device, N) -> (engine used, graph)
_SHARED: OrderedDict[tuple, tuple[str, object]] = OrderedDict()
#: most graphs kept in :data:`_SHARED`
MAX_SHARED_GRAPHS = 48


def model_fingerprint(model: nn.Module) -> str:
    """A hash of a model's configuration and weights (equal models share compiled graphs)."""
    digest = hashlib.sha1(json.dumps(getattr(model, "config").to_dict(), sort_keys=True).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def onnx_runtime_available() -> bool:
    """Whether the ``onnx`` exporter's package and ONNX Runtime are importable."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class _AfterGlimpse(nn.Module):
    """Glimpses and state in, new state and outputs out, as one module (for tracing)."""

    def __init__(self, model: HART) -> None:
        super().__init__()
        self.model = model

    def forward(self, glimpse, att, h, c, template, size0, motion):
        feats = self.model._features(glimpse)
        state, out = self.model._advance(feats, glimpse, HARTState(att, h, c, template, size0, motion))
        return (*state, out.box, out.mask_logit, out.score)


class OnnxGraph:
    """:class:`_AfterGlimpse` for one object count, exported to ONNX and run by ONNX Runtime.

    Called like the module (CPU tensors in, a tuple of CPU tensors out).

    Args:
        module: the module to export (evaluation mode).
        args: example inputs (they fix the object count).
        threads: ONNX Runtime intra-op threads.
    """

    def __init__(self, module: nn.Module, args: tuple[torch.Tensor, ...], threads: int = 1) -> None:
        import onnxruntime as ort

        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, buffer, input_names=list(INPUT_NAMES), dynamo=False, opset_version=17)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in self._session.get_inputs()]  # inputs the graph does not use are dropped
        self._feeds = [(name, INPUT_NAMES.index(name)) for name in names]

    def __call__(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Run the graph on CPU tensors; returns its outputs as CPU tensors."""
        feed = {name: np.ascontiguousarray(args[i].numpy()) for name, i in self._feeds}
        return tuple(torch.from_numpy(o) for o in self._session.run(None, feed))


def _seconds_per_call(fn, args, calls: int = 5, rounds: int = 3) -> float:
    """The fastest of ``rounds`` mean times of ``calls`` calls of ``fn(*args)``."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


class TracedSteps:
    """:meth:`HART.step` for inference, with cached compiled graphs.

    Args:
        model: a HART model in evaluation mode (batch norms folded or not).
        max_graphs: graphs kept in the cache.
        trace_after: steps an object count runs eagerly before its graph is built.
        engine: ``auto`` (the faster of ONNX Runtime and TorchScript per object count; just
            TorchScript when ONNX Runtime is not installed or the model is not on the CPU),
            ``onnx``, ``jit`` or ``eager`` (no graphs: the model's own step).
    """

    def __init__(self, model: HART, max_graphs: int = MAX_GRAPHS, trace_after: int = TRACE_AFTER,
                 engine: str = "auto") -> None:
        if model.training:
            raise RuntimeError("TracedSteps needs a model in evaluation mode")
        if engine not in ENGINES:
            raise InputError(f"unknown HART engine {engine!r}; use one of {', '.join(ENGINES)}")
        device = next(model.parameters()).device
        on_cpu = device.type == "cpu"
        if engine == "onnx" and not (on_cpu and onnx_runtime_available()):
            raise InputError("engine=onnx needs the model on the CPU and the optional packages onnx and "
                             "onnxruntime (pip install 'attentrack[fast]')")
        self.engine = engine
        self.model = model
        self.after_glimpse = _AfterGlimpse(model).eval()
        self.max_graphs = int(max_graphs)
        self.trace_after = int(trace_after)
        self._use_onnx = engine == "onnx" or (engine == "auto" and on_cpu and onnx_runtime_available())
        self._graphs: OrderedDict[int, object] = OrderedDict()
        self._seen: dict[int, int] = {}
        self._key = (model_fingerprint(model), engine, str(device)) if engine != "eager" else None
        #: per object count, the engine its graph came from (``jit``, ``onnx`` or ``eager``)
        self.chosen: dict[int, str] = {}
        #: ``auto``: the largest object count ONNX Runtime won a timing at, the smallest TorchScript won at
        self._won = {"onnx": 0, "jit": 1 << 30}

    def _engines_to_try(self, n: int) -> list[str]:
        """The engines worth building for ``n`` objects. With ``auto``, ONNX Runtime's lead
        shrinks as ``n`` grows (its per-call overhead is lower, its convolutions are not
        faster), so once one engine has won at some count it is assumed to win beyond it:
        ONNX Runtime below the largest count it won, TorchScript above the smallest count
        it won, both (and a timing) only in between."""
        if self.engine != "auto":
            return [self.engine]
        if not self._use_onnx:
            return ["jit"]
        if n <= self._won["onnx"]:
            return ["onnx"]
        if n >= self._won["jit"]:
            return ["jit"]
        return ["jit", "onnx"]

    def _candidates(self, args: tuple[torch.Tensor, ...]) -> dict[str, object]:
        """Graphs for ``args``' object count from the engines worth trying, each checked
        against the eager model; engines that fail or disagree are left out."""
        want = self.after_glimpse(*args)
        found = {}
        for name in self._engines_to_try(int(args[0].shape[0])):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if name == "jit":
                        fn = torch.jit.freeze(torch.jit.trace(self.after_glimpse, args, check_trace=False))
                    else:
                        fn = OnnxGraph(self.after_glimpse, args, threads=torch.get_num_threads())
                    got = fn(*args)
            except Exception:  # an operation the engine cannot compile: leave it out
                continue
            if len(got) == len(want) and all(
                    a.shape == b.shape and (not a.numel() or float((a - b).abs().max()) <= TRACE_TOLERANCE)
                    for a, b in zip(got, want)):
                found[name] = fn
        return found

    def _graph(self, args: tuple[torch.Tensor, ...]):
        n = int(args[0].shape[0])
        fn = self._graphs.get(n)
        if fn is not None:
            self._graphs.move_to_end(n)
            return fn
        if self.engine == "eager":
            return self.after_glimpse
        shared = _SHARED.get((*self._key, n))
        if shared is not None:
            name, fn = shared
        else:
            self._seen[n] = self._seen.get(n, 0) + 1
            if self._seen[n] < self.trace_after:
                return self.after_glimpse
            del self._seen[n]
            found = self._candidates(args)
            if len(found) > 1:  # keep the faster on this machine and object count
                name = min(found, key=lambda k: _seconds_per_call(found[k], args))
                self._won[name] = max(self._won[name], n) if name == "onnx" else min(self._won[name], n)
            else:
                name = next(iter(found), "eager")
            fn = found.get(name, self.after_glimpse)
            _SHARED[(*self._key, n)] = (name, fn)
            if len(_SHARED) > MAX_SHARED_GRAPHS:
                _SHARED.popitem(last=False)
        self._graphs[n] = fn
        self.chosen[n] = name
        if len(self._graphs) > self.max_graphs:
            old, _ = self._graphs.popitem(last=False)
            self.chosen.pop(old, None)
        return fn

    def read(self, pyramid: ImagePyramid, att: torch.Tensor) -> torch.Tensor:
        """The glimpses ``(N, 3, G, G)`` of normalised windows ``att`` ``(N, 4)`` (NumPy on the CPU)."""
        if att.device.type == "cpu":  # read_numpy declines (None) pyramids it cannot read
            w, h = pyramid.frame_size
            window = att.numpy() * np.array([w, h, w, h], np.float32)
            glimpse = self.model.reader.read_numpy(pyramid, window)
            if glimpse is not None:
                return torch.from_numpy(glimpse)
        return self.model.read(pyramid, att)

    @torch.no_grad()
    def step(self, pyramid: ImagePyramid, state: HARTState) -> tuple[HARTState, HARTOutput]:
        """As :meth:`HART.step` (``dfn_decay`` of the output is zeros: a training term)."""
        return self.advance(self.read(pyramid, state.att), state)

    @torch.no_grad()
    def advance(self, glimpse: torch.Tensor, state: HARTState) -> tuple[HARTState, HARTOutput]:
        """The network part of :meth:`step`: from the glimpses ``(N, 3, G, G)`` read at
        ``state.att`` to the next state and the output."""
        args = (glimpse, *state)
        res = self._graph(args)(*args)
        n = glimpse.shape[0]
        out = HARTOutput(res[6], state.att, res[7], glimpse.new_zeros(n), glimpse, res[8])
        return HARTState(*res[:6]), out
