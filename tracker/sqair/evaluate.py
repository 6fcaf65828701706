"""Scoring SQAIR on held-out Moving MNIST: counting accuracy, IWAE bound, MOT metrics.

For each sequence the particle with the largest importance weight is read out: its
presences give the count per frame, its rendered objects give pixel boxes
(:func:`tracker.sqair.model.object_boxes`) and its object slots give identities (a slot
keeps its identity while propagation keeps the object; a discovery in the slot starts a new
identity). The boxes are scored against the generator's ground-truth ink boxes with
:func:`tracker.metrics.mot.evaluate_mot`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from datasets.mot import MotRows
from tracker.sqair.losses import iwae_bound
from tracker.sqair.model import SQAIR, SQAIROutput, object_boxes


@dataclass
class MovingMnistEvaluation:
    """Scores on held-out Moving MNIST.

    Attributes:
        sequences, frames: how much was scored.
        count_accuracy: share of frames whose inferred object count equals the true count.
        count_accuracy_seq: share of sequences counted right in every frame.
        iwae_per_sequence: mean IWAE bound ``log p(x)`` per sequence (nats, ``particles``
            samples).
        iwae_per_frame: the same divided by the frames per sequence.
        particles: ``K`` of the bound.
        mota, idf1, idsw, hota: MOT metrics of the inferred tracks against the
            ground-truth boxes (IoU >= 0.5).
        precision, recall: detection precision and recall of the boxes.
    """

    sequences: int
    frames: int
    count_accuracy: float
    count_accuracy_seq: float
    iwae_per_sequence: float
    iwae_per_frame: float
    particles: int
    mota: float
    idf1: float
    idsw: int
    hota: float
    precision: float
    recall: float

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def format_table(self) -> str:
        """A one-row table of the scores."""
        head = ["sequences", "frames", "count acc", "seq count acc", f"IWAE/seq (K={self.particles})",
                "IWAE/frame", "MOTA", "IDF1", "IDSW", "HOTA", "prec", "recall"]
        row = [str(self.sequences), str(self.frames), f"{self.count_accuracy:.4f}", f"{self.count_accuracy_seq:.4f}",
               f"{self.iwae_per_sequence:.1f}", f"{self.iwae_per_frame:.1f}", f"{self.mota:.3f}",
               f"{self.idf1:.3f}", str(self.idsw), f"{self.hota:.3f}", f"{self.precision:.3f}",
               f"{self.recall:.3f}"]
        widths = [max(len(a), len(b)) for a, b in zip(head, row)]
        fmt = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
        return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", fmt(row)])


def best_particle_tracks(out: SQAIROutput, threshold: float = 0.3):
    """Read out the best particle of each sequence.

    Args:
        out: inference with ``keep_objects=True``.
        threshold: rendered intensity that counts as the object, for the boxes.

    Returns:
        ``(pres, boxes, ids)``: ``(B, T, N)`` bool, ``(B, T, N, 4)`` ``x, y, w, h`` pixel
        boxes and ``(B, T, N)`` int identities (1-based within a sequence; 0 where absent).
    """
    best = out.log_weights.argmax(1)
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


def tracks_to_mot(pres: np.ndarray, boxes: np.ndarray, ids: np.ndarray, frame_offset: int = 0,
                  id_offset: int = 0) -> MotRows:
    """``(B, T, N)`` tracks (see :func:`best_particle_tracks`) as MOT rows, sequences laid end
    to end like :meth:`datasets.moving_mnist.MovingMnistBatch.to_mot`."""
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
                          progress: bool = False) -> MovingMnistEvaluation:
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
    """
    from datasets.moving_mnist import MovingMnist
    from tracker.metrics.mot import evaluate_mot

    model.eval()
    gen = MovingMnist(digits, canvas=model.config.width, n_frames=n_frames, max_digits=max_digits)
    rng = np.random.default_rng(seed)
    correct = frames = seq_ok = 0
    bounds = []
    gts, preds = [], []
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
        pres, boxes, ids = best_particle_tracks(out)
        counts = pres.sum(-1)
        ok = counts == data.counts
        correct += int(ok.sum())
        frames += ok.size
        seq_ok += int(ok.all(1).sum())
        gt_rows, f_next, gt_id = data.to_mot(f_off, gt_id)
        gts.append(gt_rows)
        preds.append(tracks_to_mot(pres, boxes, ids, f_off, pred_id))
        pred_id += n * n_frames * pres.shape[-1]
        f_off = f_next
    bound = float(torch.cat(bounds).mean())
    ev = evaluate_mot({"moving-mnist": _concat(gts)}, {"moving-mnist": _concat(preds)})
    row = ev.rows[0]
    return MovingMnistEvaluation(
        sequences=sequences, frames=frames, count_accuracy=correct / max(frames, 1),
        count_accuracy_seq=seq_ok / max(sequences, 1), iwae_per_sequence=bound, iwae_per_frame=bound / n_frames,
        particles=particles, mota=row.mota, idf1=row.idf1, idsw=row.idsw, hota=row.hota,
        precision=row.precision, recall=row.recall)
