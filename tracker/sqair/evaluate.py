"""Scoring SQAIR on held-out Moving MNIST: counting accuracy, IWAE bound, MOT metrics.

Two read-outs of the ``K`` particles of each sequence are scored side by side:

- ``raw``: the particle with the largest importance weight. Its presences give the count per
  frame, its rendered objects give pixel boxes
  (:func:`attentrack.tracker.sqair.readout.object_boxes`) and its object slots give identities
  (a slot keeps its identity while propagation keeps the object; a discovery in the slot
  starts a new identity).
- ``weighted``: the original's read-out (akosiorek/sqair reports its counting accuracy this
  way): every particle's per-frame counting accuracy averaged with the self-normalised
  importance weights ``softmax_k(log w_k)`` of the sequence; its confusion table holds the
  weighted frames (fractions). Its tracks are those of one particle drawn in proportion to the
  weights (the original's resampled particle), with a random stream seeded by the data seed.

The boxes are scored against the generator's ground-truth ink boxes with
:func:`attentrack.tracker.metrics.mot.evaluate_mot`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from attentrack.datasets.mot import MotRows
from attentrack.tracker.sqair.losses import iwae_bound
from attentrack.tracker.sqair.model import SQAIR, SQAIROutput
from attentrack.tracker.sqair.readout import object_boxes
from attentrack.tracker.tables import markdown_lines


@dataclass
class ReadoutScores:
    """Counting and tracking scores of one read-out of the inferred objects.

    Attributes:
        readout: ``raw`` (every present object) or ``merged`` (objects whose pixel boxes
            mostly overlap are merged, see :func:`merge_overlapping`) of the best of ``K``
            particles, ``weighted`` (counts averaged over the particles by importance weight,
            tracks of a particle drawn by weight; see the module docstring), or ``online`` (what
            ``track --model sqair`` reports frame by frame:
            :class:`attentrack.tracker.sqair.cctv.tracking.CanvasTracker` with the same ``K``,
            see :func:`online_tracks`).
        count_accuracy: share of frames whose object count equals the true count.
        count_accuracy_seq: share of sequences counted right in every frame.
        mota, idf1, idsw, hota: MOT metrics of the tracks against the ground-truth boxes
            (IoU >= 0.5).
        precision, recall: detection precision and recall of the boxes.
        count_confusion: ``count_confusion[t][p]`` frames with ``t`` true objects in which
            ``p`` were counted (``t`` up to the generator's most digits, ``p`` up to the
            model's slots; importance-weighted frames, fractional, for ``weighted``).
        errors_from_start: wrongly counted frames of sequences not yet counted right in any
            frame (the first frames' objects were never found, or were split, from the start).
        errors_later: wrongly counted frames of sequences counted right in an earlier frame
            (an object dropped, split or added after the count had been right).
    """

    readout: str
    count_accuracy: float
    count_accuracy_seq: float
    mota: float
    idf1: float
    idsw: int
    hota: float
    precision: float
    recall: float
    count_confusion: list[list[float]]
    errors_from_start: float = 0
    errors_later: float = 0


def count_error_onset(counted: np.ndarray, true: np.ndarray, weights: np.ndarray | None = None):
    """Split the wrongly counted frames by whether their sequence had been counted right before.

    Args:
        counted: ``(B, T)`` counted objects per frame.
        true: ``(B, T)`` true objects per frame.
        weights: ``(B,)`` weight of each sequence's frames (default: 1 each).

    Returns:
        ``(from_start, later)``: wrong frames with no right frame before them in their
        sequence, and wrong frames after a right one (ints without ``weights``, weighted sums
        with them).
    """
    wrong = counted != true
    right_before = np.cumsum(~wrong, axis=1) > 0  # some frame up to this one was counted right
    if weights is None:
        return int((wrong & ~right_before).sum()), int((wrong & right_before).sum())
    return (float(((wrong & ~right_before).sum(1) * weights).sum()),
            float(((wrong & right_before).sum(1) * weights).sum()))


def importance_weights(log_weights: torch.Tensor) -> np.ndarray:
    """``(B, K)`` importance log-weights -> ``(B, K)`` self-normalised weights (each row sums to 1)."""
    return torch.softmax(log_weights.double(), -1).numpy()


def weighted_count_tally(counts: np.ndarray, true: np.ndarray, weights: np.ndarray, slots: int,
                         max_true: int) -> dict:
    """The ``weighted`` read-out's counting scores on one batch.

    Args:
        counts: ``(B, K, T)`` objects each particle counts per frame.
        true: ``(B, T)`` true objects per frame.
        weights: ``(B, K)`` self-normalised importance weights (see :func:`importance_weights`).
        slots: the model's object slots (columns of the confusion table: ``0..slots``).
        max_true: the most true objects (rows of the confusion table: ``0..max_true``).

    Returns:
        ``correct`` (weighted right frames), ``seq_ok`` (weighted sequences right in every
        frame), ``confusion`` (``(max_true + 1, slots + 1)`` weighted frames) and ``onset``
        (weighted :func:`count_error_onset`).
    """
    b_n, k_n, t_n = counts.shape
    ok = counts == true[:, None, :]
    confusion = np.zeros((max_true + 1, slots + 1))
    rows = np.broadcast_to(true[:, None, :], counts.shape)
    np.add.at(confusion, (rows, np.minimum(counts, slots)), np.broadcast_to(weights[..., None], counts.shape))
    onset = count_error_onset(counts.reshape(b_n * k_n, t_n), np.repeat(true, k_n, 0), weights.reshape(-1))
    return {"correct": float((weights * ok.sum(-1)).sum()), "seq_ok": float((weights * ok.all(-1)).sum()),
            "confusion": confusion, "onset": np.array(onset)}


@dataclass
class MovingMnistEvaluation:
    """Scores on held-out Moving MNIST.

    Attributes:
        sequences, frames: how much was scored.
        iwae_per_sequence: mean IWAE bound ``log p(x)`` per sequence (nats, ``particles``
            samples).
        iwae_per_frame: the same divided by the frames per sequence.
        particles: ``K`` of the bound.
        readouts: the scores of the ``raw``, ``merged`` and ``weighted`` read-outs (and
            ``online`` when asked for).
    """

    sequences: int
    frames: int
    iwae_per_sequence: float
    iwae_per_frame: float
    particles: int
    readouts: list[ReadoutScores]

    def to_dict(self) -> dict:
        """The evaluation as a JSON-ready dict (non-finite numbers as ``None``)."""
        clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v  # noqa: E731
        d = asdict(self)
        d["readouts"] = [{k: clean(v) for k, v in r.items()} for r in d["readouts"]]
        return {k: clean(v) if k != "readouts" else v for k, v in d.items()}

    def to_json(self) -> str:
        """The evaluation as indented JSON text."""
        return json.dumps(self.to_dict(), indent=1)

    def format_table(self) -> str:
        """One row per read-out."""
        head = ["readout", "sequences", "frames", "count acc", "seq count acc", f"IWAE/seq (K={self.particles})",
                "IWAE/frame", "MOTA", "IDF1", "IDSW", "HOTA", "prec", "recall"]
        rows = [[r.readout, str(self.sequences), str(self.frames), f"{r.count_accuracy:.4f}",
                 f"{r.count_accuracy_seq:.4f}", f"{self.iwae_per_sequence:.1f}", f"{self.iwae_per_frame:.1f}",
                 f"{r.mota:.3f}", f"{r.idf1:.3f}", str(r.idsw), f"{r.hota:.3f}", f"{r.precision:.3f}",
                 f"{r.recall:.3f}"] for r in self.readouts]
        lines = markdown_lines(head, rows)
        for r in self.readouts:  # where the counting errors are
            conf = r.count_confusion
            lines += ["", f"{r.readout}: frames by true count (rows) and counted objects (columns)"]
            lines += markdown_lines(["true \\ counted", *map(str, range(len(conf[0])))],
                                    [[str(t), *map(_frames, row)] for t, row in enumerate(conf)])
            lines += [f"{r.readout}: wrongly counted frames: {_frames(r.errors_from_start)} from a sequence's first "
                      f"frame on (before any right count), {_frames(r.errors_later)} after a right count"]
        return "\n".join(lines)


def _frames(v: float) -> str:
    """A number of frames: whole ones as an integer, weighted ones with one decimal."""
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def merge_overlapping(pres: np.ndarray, boxes: np.ndarray, ids: np.ndarray, min_overlap: float = 0.5):
    """Merge objects of one frame whose pixel boxes mostly overlap (a post-processing of the
    read-out, for models that split one object into parts).

    Two present objects are merged when their intersection covers at least ``min_overlap``
    of the smaller box: the larger keeps its identity and takes the union box; the smaller
    is dropped.

    Args:
        pres: ``(B, T, N)`` bool, whether each object is present.
        boxes: ``(B, T, N, 4)`` ``x, y, w, h`` in pixels.
        ids: ``(B, T, N)`` identities.
        min_overlap: least share of the smaller box's area covered by the intersection.

    Returns:
        new ``(pres, boxes, ids)`` (copies).
    """
    pres, boxes, ids = pres.copy(), boxes.copy(), ids.copy()
    area = boxes[..., 2] * boxes[..., 3]
    for b, t in zip(*np.nonzero(pres.sum(-1) > 1)):
        order = np.argsort(-area[b, t])
        for i_pos, i in enumerate(order):
            if not pres[b, t, i]:
                continue
            for j in order[i_pos + 1:]:
                if not pres[b, t, j]:
                    continue
                bi, bj = boxes[b, t, i], boxes[b, t, j]
                iw = min(bi[0] + bi[2], bj[0] + bj[2]) - max(bi[0], bj[0])
                ih = min(bi[1] + bi[3], bj[1] + bj[3]) - max(bi[1], bj[1])
                inter = max(iw, 0) * max(ih, 0)
                if inter >= min_overlap * max(min(bi[2] * bi[3], bj[2] * bj[3]), 1e-9):
                    x0, y0 = min(bi[0], bj[0]), min(bi[1], bj[1])
                    x1, y1 = max(bi[0] + bi[2], bj[0] + bj[2]), max(bi[1] + bi[3], bj[1] + bj[3])
                    boxes[b, t, i] = (x0, y0, x1 - x0, y1 - y0)
                    pres[b, t, j] = False
                    ids[b, t, j] = 0
    return pres, boxes, ids


def best_particle_tracks(out: SQAIROutput, threshold: float = 0.3, particle: torch.Tensor | None = None):
    """Read out the best particle of each sequence (or the given one).

    Args:
        out: inference with ``keep_objects=True``.
        threshold: rendered intensity that counts as the object, for the boxes.
        particle: ``(B,)`` the particle to read out of each sequence (default: the one with
            the largest importance weight).

    Returns:
        ``(pres, boxes, ids)``: ``(B, T, N)`` bool, ``(B, T, N, 4)`` ``x, y, w, h`` pixel
        boxes and ``(B, T, N)`` int identities (1-based within a sequence; 0 where absent).
    """
    best = out.best_particle() if particle is None else particle
    rows = torch.arange(len(best))
    pres = out.pres[rows, best].bool().numpy()
    boxes = object_boxes(out, threshold)[rows, best].numpy()
    found = out.discovered[rows, best].bool().numpy()
    b_n, t_n, m_n = pres.shape
    ids = np.zeros((b_n, t_n, m_n), np.int64)
    for b in range(b_n):
        next_id, current = 1, np.zeros(m_n, np.int64)
        for t in range(t_n):
            for m in range(m_n):
                if found[b, t, m] or (pres[b, t, m] and current[m] == 0):
                    current[m], next_id = next_id, next_id + 1
                elif not pres[b, t, m]:
                    current[m] = 0
            ids[b, t] = current * pres[b, t]
    return pres, boxes, ids


def online_tracks(model: SQAIR, frames: np.ndarray, particles: int, seed: int = 0):
    """What the streaming tracker reports on each sequence, as ``(pres, boxes, ids)`` arrays
    like :func:`best_particle_tracks` (``(B, T, N)``, ``(B, T, N, 4)`` ``x, y, w, h``, ``(B, T, N)``).

    Args:
        model: the trained SQAIR the tracker runs.
        frames: ``(B, T, H, W)`` in ``[0, 1]``.
        particles: ``K`` of :class:`attentrack.tracker.sqair.cctv.tracking.CanvasTracker` (1: posterior means).
        seed: sequence ``b`` is followed with the tracker's random stream seeded ``seed + b``.
    """
    from attentrack.tracker.sqair.cctv.tracking import CanvasTracker

    b_n, t_n = frames.shape[:2]
    m_n = model.config.max_objects
    pres, boxes, ids = np.zeros((b_n, t_n, m_n), bool), np.zeros((b_n, t_n, m_n, 4)), np.zeros((b_n, t_n, m_n), np.int64)
    for b in range(b_n):
        runner = CanvasTracker(model, particles=particles, seed=seed + b)
        for t in range(t_n):
            for j, track in enumerate(runner.step(frames[b, t])):
                pres[b, t, j], boxes[b, t, j], ids[b, t, j] = True, track.box, track.track_id
        seen = np.unique(ids[b][pres[b]])  # renumbered 1, 2, ... within the sequence (0: none)
        ids[b][pres[b]] = np.searchsorted(seen, ids[b][pres[b]]) + 1
    return pres, boxes, ids


def tracks_to_mot(pres: np.ndarray, boxes: np.ndarray, ids: np.ndarray, frame_offset: int = 0,
                  id_offset: int = 0) -> MotRows:
    """``(B, T, N)`` tracks (see :func:`best_particle_tracks`) as MOT rows, sequences laid end
    to end like :meth:`attentrack.datasets.moving_mnist.MovingMnistBatch.to_mot`."""
    b_n, t_n, m_n = pres.shape
    b, t, m = np.nonzero(pres)
    return MotRows(frames=(frame_offset + b * t_n + t + 1).astype(int),
                   ids=(id_offset + b * (t_n * m_n) + ids[b, t, m]).astype(int),
                   boxes=boxes[b, t, m].astype(np.float64), conf=np.ones(len(b)), extra=-np.ones((len(b), 3)))


def _concat(rows: list[MotRows]) -> MotRows:
    return MotRows(*(np.concatenate([getattr(r, f) for r in rows]) for f in ("frames", "ids", "boxes", "conf", "extra")))


@torch.no_grad()
def evaluate_moving_mnist(model: SQAIR, digits: np.ndarray, sequences: int = 500, n_frames: int = 10,
                          particles: int = 5, batch: int = 25, seed: int = 1234, max_digits: int = 2,
                          progress: bool = False, online: bool = False) -> MovingMnistEvaluation:
    """Score ``model`` on Moving MNIST sequences drawn (with ``seed``) from ``digits``.

    Args:
        model: a trained model (its canvas must be square, the generator's side).
        digits: ``(N, 28, 28)`` digits, normally the MNIST test set.
        sequences: number of sequences.
        n_frames: frames per sequence.
        particles: ``K`` for the bound and the particle choice.
        batch: sequences per forward pass.
        seed: the data seed (same seed, same sequences).
        max_digits: most digits per sequence.
        progress: show a progress bar.
        online: also score the ``online`` read-out (the streaming tracker; slower).
    """
    from attentrack.datasets.moving_mnist import MovingMnist
    from attentrack.tracker.metrics.mot import evaluate_mot

    model.eval()
    gen = MovingMnist(digits, canvas=model.config.width, n_frames=n_frames, max_digits=max_digits)
    rng = np.random.default_rng(seed)
    names = ("raw", "merged", "weighted", "online") if online else ("raw", "merged", "weighted")
    slots = model.config.max_objects
    tallies = {k: {"correct": 0, "seq_ok": 0, "preds": [], "confusion": np.zeros((max_digits + 1, slots + 1), int),
                   "onset": np.zeros(2, int)} for k in names}
    tallies["weighted"].update(confusion=np.zeros((max_digits + 1, slots + 1)), onset=np.zeros(2))
    draw = np.random.default_rng(seed)  # the weighted read-out's particles drawn by weight
    frames = 0
    bounds, gts = [], []
    f_off = gt_id = pred_id = 0
    todo = range(0, sequences, batch)
    if progress:
        from tqdm import tqdm

        todo = tqdm(todo, desc="eval sqair", dynamic_ncols=True)
    for start in todo:
        n = min(batch, sequences - start)
        data = gen.sample(rng, n)
        out = model(torch.from_numpy(data.frames), particles, keep_objects=True)
        bounds.append(iwae_bound(out.log_weights))
        raw = best_particle_tracks(out)
        gt_rows, f_next, gt_id_next = data.to_mot(f_off, gt_id)
        gts.append(gt_rows)
        weights = importance_weights(out.log_weights)
        drawn = torch.from_numpy(np.array([draw.choice(particles, p=w / w.sum()) for w in weights]))
        readouts_now = [raw, merge_overlapping(*raw), best_particle_tracks(out, particle=drawn)]
        if online:  # its own random streams: the other read-outs' stays as it was
            readouts_now.append(online_tracks(model, data.frames, particles, seed=seed + start))
        for name, (pres, boxes, ids) in zip(names, readouts_now):
            tallies[name]["preds"].append(tracks_to_mot(pres, boxes, ids, f_off, pred_id))
            if name == "weighted":  # counts averaged over every particle, not the drawn one's
                w_tally = weighted_count_tally(out.counts.numpy().astype(int), data.counts, weights, slots, max_digits)
                for key in ("correct", "seq_ok", "confusion", "onset"):
                    tallies[name][key] += w_tally[key]
                continue
            counted = pres.sum(-1)
            ok = counted == data.counts
            tallies[name]["correct"] += int(ok.sum())
            tallies[name]["seq_ok"] += int(ok.all(1).sum())
            np.add.at(tallies[name]["confusion"], (data.counts, np.minimum(counted, slots)), 1)
            tallies[name]["onset"] += count_error_onset(counted, data.counts)
        frames += data.counts.size
        pred_id += n * n_frames * raw[0].shape[-1]
        f_off, gt_id = f_next, gt_id_next
    bound = float(torch.cat(bounds).mean())
    readouts = []
    for name in names:
        tally = tallies[name]
        row = evaluate_mot({"moving-mnist": _concat(gts)}, {"moving-mnist": _concat(tally["preds"])}).rows[0]
        readouts.append(ReadoutScores(name, tally["correct"] / max(frames, 1), tally["seq_ok"] / max(sequences, 1),
                                      row.mota, row.idf1, row.idsw, row.hota, row.precision, row.recall,
                                      tally["confusion"].tolist(), *(v.item() for v in tally["onset"])))
    return MovingMnistEvaluation(sequences=sequences, frames=frames, iwae_per_sequence=bound,
                                 iwae_per_frame=bound / n_frames, particles=particles, readouts=readouts)
