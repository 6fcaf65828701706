"""Multi-object tracking metrics: CLEAR MOT, identity (IDF1) and HOTA.

CLEAR and identity metrics come from ``motmetrics`` (``MOTAccumulator`` and
``mm.metrics.create().compute_many`` with every metric of
``mm.metrics.motchallenge_metrics``), fed with our own IoU distances: motmetrics 1.4.0's
``distances.iou_matrix`` calls ``np.asfarray``, which NumPy 2 removed. The distance of a
ground-truth box and a predicted box is ``1 - IoU``, and NaN (they may not be matched)
where ``IoU < 0.5``, exactly as motmetrics' ``iou_matrix(max_iou=0.5)``.

HOTA and its sub-metrics come from :mod:`attentrack.tracker.metrics.hota` (TrackEval's definition).

Conventions (those of motmetrics' ``eval_motchallenge`` app):

* **MOTP** comes in both forms: ``motp_iou`` is TrackEval's and the MOTChallenge
  website's, the mean IoU of the matches (higher is better); ``motp`` is motmetrics' mean
  *distance* ``1 - IoU`` over the same matches (lower is better).
* Ratios (MOTA, IDF1, recall, ..., HOTA) are fractions in ``[0, 1]`` (MOTA can be
  negative); counts (FP, FN, ID switches, ...) are integers.
* Frames are the union of the frames present in the ground truth or the prediction.
* The combined row, named ``COMBINED`` as TrackEval names it, pools the CLEAR and
  identity counts of all sequences (motmetrics' ``generate_overall``) and combines HOTA as
  TrackEval does.
* Ground truth goes through TrackEval's preprocessing first
  (:mod:`attentrack.tracker.metrics.motchallenge`): rows of confidence 0 are dropped, and
  for MOT16/17/20 ground truth (which has classes) predictions matched to distractors
  (static people, reflections, people on vehicles ...) are removed and only pedestrians
  are scored. 2D MOT 2015 ground truth has no classes and keeps every other row.
* Only frames that were run count: ``frames_run`` limits a sequence to its first frames
  (a run stopped early by ``--max-frames``, or a video shorter than its ground truth).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from attentrack.datasets.mot import MotRows, read_mot
from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.boxes import iou_matrix
from attentrack.tracker.errors import InputError
from attentrack.tracker.metrics.hota import HotaResult, combine_hota, hota_from_frames
from attentrack.tracker.metrics.motchallenge import apply_ground_truth_rules, detect_benchmark
from attentrack.tracker.tables import write_csv

#: IoU below which a ground-truth box and a prediction may not be matched (CLEAR/ID)
MIN_IOU = 0.5
#: the name of the combined row, as TrackEval names it
COMBINED = "COMBINED"
_MM_COMBINED = "OVERALL"  # motmetrics' name of its combined row

# our field name -> motmetrics metric name
_MM_NAMES = {
    "mota": "mota",
    "motp": "motp",
    "idf1": "idf1",
    "idp": "idp",
    "idr": "idr",
    "precision": "precision",
    "recall": "recall",
    "gt_ids": "num_unique_objects",
    "mt": "mostly_tracked",
    "pt": "partially_tracked",
    "ml": "mostly_lost",
    "fp": "num_false_positives",
    "fn": "num_misses",
    "idsw": "num_switches",
    "frag": "num_fragmentations",
    "transfer": "num_transfer",
    "ascend": "num_ascend",
    "migrate": "num_migrate",
    "frames": "num_frames",
    "gt_dets": "num_objects",
    "pred_dets": "num_predictions",
    "matches": "num_matches",
}
_INT_FIELDS = {"gt_ids", "mt", "pt", "ml", "fp", "fn", "idsw", "frag", "transfer", "ascend",
               "migrate", "frames", "gt_dets", "pred_dets", "matches"}


@dataclass
class MotMetrics:
    """The metrics of one sequence (or of the combination, ``sequence == "COMBINED"``).

    Attributes:
        sequence: the sequence name.
        benchmark: the ground-truth rules applied (``MOT15``, ``MOT17``, ``MOT20``; see
            :mod:`attentrack.tracker.metrics.motchallenge`), ``mixed`` for a combination of
            several.
        mota: multiple object tracking accuracy ``1 - (FN + FP + IDSW) / GT``.
        motp_iou: mean IoU of the matches (TrackEval's MOTP; higher is better).
        motp: mean ``1 - IoU`` of the matches (motmetrics' MOTP; lower is better).
        idf1, idp, idr: identity F1, precision and recall.
        precision, recall: detection precision and recall (matches at IoU >= 0.5).
        gt_ids: number of distinct ground-truth ids.
        mt, pt, ml: ground-truth tracks mostly tracked (>= 80 %), partially tracked,
            mostly lost (< 20 %).
        fp, fn: false positives and misses (boxes).
        idsw: identity switches.
        frag: fragmentations (a tracked ground-truth track becomes untracked).
        transfer, ascend, migrate: motmetrics' switch breakdown.
        frames: frames evaluated.
        gt_dets, pred_dets: ground-truth and predicted boxes.
        matches: matched boxes.
        hota, deta, assa, loca, detre, detpr, assre, asspr: HOTA and its sub-metrics
            (means over the 19 thresholds).
    """

    sequence: str
    benchmark: str = ""
    mota: float = math.nan
    motp_iou: float = math.nan
    motp: float = math.nan
    idf1: float = math.nan
    idp: float = math.nan
    idr: float = math.nan
    precision: float = math.nan
    recall: float = math.nan
    gt_ids: int = 0
    mt: int = 0
    pt: int = 0
    ml: int = 0
    fp: int = 0
    fn: int = 0
    idsw: int = 0
    frag: int = 0
    transfer: int = 0
    ascend: int = 0
    migrate: int = 0
    frames: int = 0
    gt_dets: int = 0
    pred_dets: int = 0
    matches: int = 0
    hota: float = math.nan
    deta: float = math.nan
    assa: float = math.nan
    loca: float = math.nan
    detre: float = math.nan
    detpr: float = math.nan
    assre: float = math.nan
    asspr: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """``{field: value}`` with lower-case metric names; NaN and infinities become
        ``None`` (JSON has no such numbers)."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MotMetrics":
        """Inverse of :meth:`to_dict` (``None`` becomes NaN; unknown keys are an error)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise InputError(f"unknown MOT metric(s): {', '.join(sorted(unknown))}")
        kwargs = {k: (math.nan if v is None else v) for k, v in data.items()}
        return cls(**kwargs)


def _json_value(v):
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


@dataclass
class MotEvaluation:
    """The result of :func:`evaluate_mot`.

    Attributes:
        sequences: one :class:`MotMetrics` per sequence, in input order.
        overall: the combined row (``sequence == "COMBINED"``; also :attr:`combined`).
    """

    sequences: list[MotMetrics] = field(default_factory=list)
    overall: MotMetrics = field(default_factory=lambda: MotMetrics(COMBINED))

    @property
    def combined(self) -> MotMetrics:
        """The combined row (the same as :attr:`overall`)."""
        return self.overall

    @property
    def rows(self) -> list[MotMetrics]:
        """Per-sequence rows followed by the combined row."""
        return [*self.sequences, self.overall]

    def __getitem__(self, name: str) -> MotMetrics:
        """The row of sequence ``name`` (``"COMBINED"`` for the combined row)."""
        for row in self.rows:
            if row.sequence == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """``{"sequences": [row, ...], "overall": row}`` of :meth:`MotMetrics.to_dict`."""
        return {"sequences": [r.to_dict() for r in self.sequences], "overall": self.overall.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MotEvaluation":
        """Inverse of :meth:`to_dict`."""
        return cls([MotMetrics.from_dict(r) for r in data["sequences"]],
                   MotMetrics.from_dict(data["overall"]))

    def to_rows(self) -> list[dict[str, Any]]:
        """Every row (sequences, then ``COMBINED``) as a flat dict, for ``--json``."""
        return [r.to_dict() for r in self.rows]

    def to_json(self, indent: int | None = 1) -> str:
        """:meth:`to_dict` as JSON text (NaN written as ``null``)."""
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_json` to ``path`` (atomically)."""
        with atomic_write(path) as fh:
            fh.write(self.to_json())

    def save_csv(self, path: str | os.PathLike) -> None:
        """Write every row (sequences, then ``COMBINED``) as CSV to ``path`` (atomically):
        one column per :class:`MotMetrics` field, ratios as fractions, NaN as an empty cell."""
        write_csv(path, self.to_rows(), [f.name for f in fields(MotMetrics)])

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MotEvaluation":
        """Read a file written by :meth:`save`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"cannot read MOT evaluation {path}: {exc}") from None

    def format_table(self) -> str:
        """A text table, one line per sequence plus ``COMBINED``.

        Ratios are shown in percent; ``MOTP`` is TrackEval's mean IoU of the matches (in
        percent, higher is better), ``MOTPd`` motmetrics' mean ``1 - IoU`` (lower is better).
        """
        cols = [  # header, field, kind
            ("IDF1", "idf1", "%"), ("IDP", "idp", "%"), ("IDR", "idr", "%"),
            ("Rcll", "recall", "%"), ("Prcn", "precision", "%"), ("GT", "gt_ids", "d"),
            ("MT", "mt", "d"), ("PT", "pt", "d"), ("ML", "ml", "d"), ("FP", "fp", "d"),
            ("FN", "fn", "d"), ("IDs", "idsw", "d"), ("FM", "frag", "d"),
            ("MOTA", "mota", "%"), ("MOTP", "motp_iou", "%"), ("MOTPd", "motp", "f"),
            ("HOTA", "hota", "%"), ("DetA", "deta", "%"), ("AssA", "assa", "%"), ("LocA", "loca", "%"),
        ]
        name_w = max(8, *(len(r.sequence) for r in self.rows))
        widths = [max(len(h), 6) for h, _, _ in cols]
        head = f"{'sequence':<{name_w}} " + " ".join(f"{h:>{w}}" for (h, _, _), w in zip(cols, widths))
        lines = [head, "-" * len(head)]
        for r in self.rows:
            cells = []
            for (_, name, kind), w in zip(cols, widths):
                v = getattr(r, name)
                if kind == "d":
                    cells.append(f"{int(v):>{w}d}")
                elif isinstance(v, float) and math.isnan(v):
                    cells.append(f"{'-':>{w}}")
                elif kind == "%":
                    cells.append(f"{100 * v:>{w}.1f}")
                else:
                    cells.append(f"{v:>{w}.3f}")
            lines.append(f"{r.sequence:<{name_w}} " + " ".join(cells))
        rules = ", ".join(dict.fromkeys(r.benchmark for r in self.sequences if r.benchmark)) or "-"
        lines.append(f"ratios in %; MOTP = mean IoU of matches (TrackEval), MOTPd = mean 1-IoU (motmetrics); "
                     f"HOTA/DetA/AssA/LocA as TrackEval; ground-truth rules: {rules}")
        return "\n".join(lines)


def iou_distance(gt_boxes, pred_boxes, min_iou: float = MIN_IOU) -> np.ndarray:
    """Distances for motmetrics: ``1 - IoU``, NaN where ``IoU < min_iou``.

    Args:
        gt_boxes: ``(n, 4)`` ``x, y, w, h`` in pixels.
        pred_boxes: ``(m, 4)`` ``x, y, w, h`` in pixels.
        min_iou: the least IoU of a possible match.

    Returns:
        ``(n, m)`` float distances in ``[0, 1 - min_iou]`` or NaN.
    """
    return _distance(iou_matrix(gt_boxes, pred_boxes), min_iou)


def _distance(iou: np.ndarray, min_iou: float = MIN_IOU) -> np.ndarray:
    return np.where(iou >= min_iou, 1.0 - iou, np.nan)


def _check_unique(rows: MotRows, what: str) -> None:
    if len(rows) == 0:
        return
    pairs = np.stack([rows.frames, rows.ids], axis=1)
    uni, counts = np.unique(pairs, axis=0, return_counts=True)
    if np.any(counts > 1):
        f, i = uni[np.argmax(counts > 1)]
        raise InputError(f"{what}: track id {int(i)} appears more than once in frame {int(f)}")


def frame_pairs(gt: MotRows, pred: MotRows) -> Iterator[tuple[int, MotRows, MotRows, np.ndarray]]:
    """Walk the frames present in either table.

    Yields:
        ``(frame, gt_rows, pred_rows, iou)``: the 1-based frame number, the rows of that
        frame (possibly empty) and their ``(n, m)`` IoU matrix.
    """
    gt_by = gt.by_frame()
    pred_by = pred.by_frame()
    empty = MotRows.empty()
    for f in sorted(set(gt_by) | set(pred_by)):
        g = gt_by.get(f, empty)
        p = pred_by.get(f, empty)
        yield f, g, p, iou_matrix(g.boxes, p.boxes)


@dataclass
class _SequenceData:
    name: str
    benchmark: str
    accumulator: Any
    hota: HotaResult


def _evaluate_sequence(name: str, gt: MotRows, pred: MotRows, benchmark: str,
                       frames_run: int | None, min_confidence: float | None) -> _SequenceData:
    import motmetrics as mm

    _check_unique(gt, f"ground truth of {name}")
    _check_unique(pred, f"prediction for {name}")
    if frames_run is not None:
        gt, pred = gt.select(gt.frames <= frames_run), pred.select(pred.frames <= frames_run)
    rules = detect_benchmark(name, gt, benchmark)
    gt, pred = apply_ground_truth_rules(name, gt, pred, rules)
    if min_confidence is not None:
        gt = gt.select(gt.conf >= min_confidence)
    acc = mm.MOTAccumulator(auto_id=False)
    hota_frames = []
    for f, g, p, iou in frame_pairs(gt, pred):
        acc.update(g.ids.tolist(), p.ids.tolist(), _distance(iou), frameid=int(f))
        hota_frames.append((g.ids, p.ids, iou))
    return _SequenceData(name, rules, acc, hota_from_frames(hota_frames))


def _row_from(summary, name: str, key: str, hota: HotaResult, benchmark: str) -> MotMetrics:
    row = MotMetrics(name, benchmark)
    for ours, theirs in _MM_NAMES.items():
        v = summary.loc[key, theirs]
        setattr(row, ours, int(v) if ours in _INT_FIELDS else float(v))
    row.motp_iou = 1.0 - row.motp  # the same matches; NaN stays NaN
    for k, v in hota.summary().items():
        setattr(row, k, v)
    return row


def evaluate_mot(gt: Mapping[str, MotRows], pred: Mapping[str, MotRows], *, benchmark: str = "auto",
                 frames_run: Mapping[str, int] | None = None,
                 min_confidence: float | None = None) -> MotEvaluation:
    """CLEAR, identity and HOTA metrics of tracking results.

    Args:
        gt: ``{sequence: ground truth}``; rows with 1-based frames, ``x, y, w, h``
            pixel boxes; every row of the file (TrackEval's rules drop what is not
            scored, see :mod:`attentrack.tracker.metrics.motchallenge`).
        pred: ``{sequence: prediction}`` with the same keys.
        benchmark: the ground-truth rules, one of
            :data:`~attentrack.tracker.metrics.motchallenge.BENCHMARKS` (``auto``: from
            each file's format and the sequence name).
        frames_run: ``{sequence: n}``: score only frames ``1..n`` of those sequences (the
            frames a run that stopped early did process).
        min_confidence: besides TrackEval's rules, drop ground-truth rows whose confidence
            is below this (``None``: none).

    Returns:
        one row per sequence (in the order of ``gt``) and the combined ``COMBINED`` row.

    Raises:
        InputError: a sequence without prediction, an id repeated within a frame, or
            ground truth or predictions the rules reject (a class outside MOTChallenge's).
    """
    import motmetrics as mm

    missing = [name for name in gt if name not in pred]
    if missing:
        raise InputError(f"no prediction for sequence(s): {', '.join(missing)}")
    if not gt:
        raise InputError("nothing to evaluate: no sequences given")
    empty = [name for name, rows in gt.items() if len(rows) == 0]
    if empty:
        raise InputError(f"the ground truth of {', '.join(empty)} has no boxes: nothing to score against "
                         "(MOTA and IDF1 are undefined)")
    for reserved in (COMBINED, _MM_COMBINED):
        if reserved in gt:
            raise InputError(f"a sequence may not be called {reserved}")
    limits = dict(frames_run or {})
    data = [_evaluate_sequence(name, rows, pred[name], benchmark, limits.get(name), min_confidence)
            for name, rows in gt.items()]
    mh = mm.metrics.create()
    summary = mh.compute_many(
        [d.accumulator for d in data], metrics=list(_MM_NAMES.values()), names=[d.name for d in data],
        generate_overall=True,
    )
    rows = [_row_from(summary, d.name, d.name, d.hota, d.benchmark) for d in data]
    used = set(d.benchmark for d in data)
    combined = _row_from(summary, COMBINED, _MM_COMBINED, combine_hota([d.hota for d in data]),
                         used.pop() if len(used) == 1 else "mixed")
    return MotEvaluation(rows, combined)


# -- files ---------------------------------------------------------------------------------


def _gt_files(gt_path: Path) -> dict[str, Path]:
    """``{sequence: gt file}`` for a file, a sequence folder or a folder of either."""
    if gt_path.is_file():
        if gt_path.name == "gt.txt" and gt_path.parent.name == "gt":
            return {gt_path.parent.parent.name: gt_path}
        return {gt_path.stem: gt_path}
    if not gt_path.is_dir():
        raise InputError(f"ground truth not found: {gt_path}")
    if (gt_path / "gt" / "gt.txt").is_file():
        return {gt_path.name: gt_path / "gt" / "gt.txt"}
    out = {c.name: c / "gt" / "gt.txt" for c in sorted(gt_path.iterdir())
           if c.is_dir() and (c / "gt" / "gt.txt").is_file()}
    if not out:
        out = {c.stem: c for c in sorted(gt_path.iterdir()) if c.is_file() and c.suffix == ".txt"}
    if not out:
        raise InputError(
            f"no ground truth in {gt_path}: expected SEQ/gt/gt.txt folders or SEQ.txt files"
        )
    return out


def pair_mot_files(gt_path: str | os.PathLike, pred_path: str | os.PathLike) -> list[tuple[str, Path, Path]]:
    """Pair ground-truth files with prediction files by sequence name.

    Args:
        gt_path: a ground-truth file (``SEQ/gt/gt.txt`` is named ``SEQ``, any other file
            by its stem), a sequence folder holding ``gt/gt.txt``, a folder of such
            sequence folders (a MOTChallenge ``train/``), or a folder of ``SEQ.txt``
            files.
        pred_path: a prediction file (only with a single ground-truth sequence) or a
            folder holding ``SEQ.txt`` for every sequence (what ``attentrack track -o``
            writes). Extra files are ignored.

    Returns:
        ``[(sequence, gt_file, pred_file), ...]`` sorted by sequence name.

    Raises:
        InputError: a missing path, no ground truth found, or sequences without a
            prediction file (all of them are listed).
    """
    gt_p, pred_p = Path(gt_path), Path(pred_path)
    gts = _gt_files(gt_p)
    if not pred_p.exists():
        raise InputError(f"prediction not found: {pred_p}")
    if pred_p.is_file():
        if len(gts) != 1:
            raise InputError(
                f"prediction {pred_p} is one file but the ground truth has {len(gts)} sequences;"
                " give a folder of SEQ.txt files"
            )
        (name, gt_file), = gts.items()
        return [(name, gt_file, pred_p)]
    pairs, missing = [], []
    for name, gt_file in sorted(gts.items()):
        cand = pred_p / f"{name}.txt"
        if cand.is_file():
            pairs.append((name, gt_file, cand))
        else:
            missing.append(name)
    if missing:
        raise InputError(
            f"no prediction file in {pred_p} for {len(missing)} sequence(s): "
            + ", ".join(f"{m}.txt" for m in missing)
        )
    return pairs


def evaluate_mot_files(gt_path: str | os.PathLike, pred_path: str | os.PathLike,
                       min_confidence: float | None = None, *, benchmark: str = "auto",
                       max_frames: int | None = None) -> MotEvaluation:
    """Read and pair files with :func:`pair_mot_files`, then :func:`evaluate_mot`.

    Args:
        gt_path: ground truth (see :func:`pair_mot_files`).
        pred_path: predictions (see :func:`pair_mot_files`).
        min_confidence: see :func:`evaluate_mot` (TrackEval's rules already drop the
            ground truth of confidence 0).
        benchmark: see :func:`evaluate_mot`.
        max_frames: score only frames ``1..max_frames`` of every sequence (results of a
            run stopped early, e.g. ``track --max-frames``).
    """
    gt, pred = {}, {}
    for name, gt_file, pred_file in pair_mot_files(gt_path, pred_path):
        gt[name] = read_ground_truth(gt_file)
        pred[name] = read_mot(pred_file)
    frames_run = None if max_frames is None else {name: int(max_frames) for name in gt}
    return evaluate_mot(gt, pred, benchmark=benchmark, frames_run=frames_run, min_confidence=min_confidence)


def read_ground_truth(path: str | os.PathLike, min_confidence: float | None = None) -> MotRows:
    """A MOTChallenge ground-truth file's rows (those with confidence >= ``min_confidence``
    when given; :func:`evaluate_mot` applies the benchmark's own rules to the rest).

    Raises:
        InputError: a missing or malformed file, or one with no boxes to score against.
    """
    rows = read_mot(path, min_confidence=min_confidence)
    if len(rows) == 0:
        kept = "" if min_confidence is None else f" with confidence >= {min_confidence:g}"
        raise InputError(f"ground truth {path} has no boxes{kept}: nothing to score against")
    return rows
