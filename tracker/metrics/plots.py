"""Plots of evaluation results, as PNG files (matplotlib, the optional ``plot`` extra).

* :func:`plot_sot`: the OTB success plot (success rate against the IoU threshold) and the
  precision plot (precision against the centre-error threshold, 0-50 px) side by side, one
  curve per tracker, its AUC (success) or precision at 20 px in the legend, as the OTB
  toolkit and pytracking draw them.
* :func:`plot_mot`: HOTA, MOTA and IDF1 of every sequence and of ``COMBINED`` as grouped
  bars.

matplotlib is imported when a plot is drawn (with the non-interactive Agg backend);
:func:`require_matplotlib` (and :func:`check_plot_path`, which commands call before
they work) raises a one-line :class:`InputError` naming the extra to install when it is
missing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from attentrack.tracker.atomic import atomic_write
from attentrack.tracker.errors import InputError
from attentrack.tracker.metrics.mot import MotEvaluation
from attentrack.tracker.metrics.sot import ALL, PRECISION_PX, PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS, SotEvaluation

#: the scores of the MOT bar chart: (label, MotMetrics field)
MOT_BARS = (("HOTA", "hota"), ("MOTA", "mota"), ("IDF1", "idf1"))


def require_matplotlib():
    """Return ``matplotlib.pyplot`` (Agg backend).

    Raises:
        InputError: matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        raise InputError("plots need matplotlib: pip install 'attentrack[plot]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_plot_path(path: str | os.PathLike) -> Path:
    """Check, before any work, that a plot can be written to ``path``.

    Raises:
        InputError: ``path`` does not end in ``.png``, or matplotlib is missing.
    """
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise InputError(f"a plot is written as PNG: give a file ending in .png, not {p.name}")
    require_matplotlib()
    return p


def _save(fig, path: Path) -> Path:
    """Render ``fig`` and write it to ``path`` atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return path


def plot_sot(evaluation: SotEvaluation, path: str | os.PathLike, averaging: str = "target") -> Path:
    """Write the success and precision plots of every model to ``path`` (PNG).

    Each model's curve is that of its combined row (``all``), or of its only sequence.

    Args:
        evaluation: the result of :func:`attentrack.tracker.metrics.sot_runs.evaluate_sot`.
        path: the PNG file to write (atomically).
        averaging: ``"target"`` (OTB: each target's curves averaged) or ``"frame"`` (pooled).

    Returns:
        ``path``.
    """
    p = check_plot_path(path)
    plt = require_matplotlib()
    fig, (ax_s, ax_p) = plt.subplots(1, 2, figsize=(11, 4.5))
    targets = 0
    for model in evaluation.models:
        rows = [r for r in evaluation.results if r.model == model]
        row = next((r for r in rows if r.sequence == ALL), rows[0])
        scores = row.scores(averaging)
        targets = max(targets, scores.targets)
        ax_s.plot(SUCCESS_THRESHOLDS, scores.success, linewidth=2, label=f"{model} [AUC {scores.auc:.3f}]")
        ax_p.plot(PRECISION_THRESHOLDS, scores.precision, linewidth=2,
                  label=f"{model} [P@{PRECISION_PX:g} {scores.precision20:.3f}]")
    how = f"mean of {targets} targets" if averaging == "target" else "frames pooled"
    for ax, title, xlabel, xmax in ((ax_s, "Success plot", "IoU threshold", 1.0),
                                    (ax_p, "Precision plot", "centre error threshold (px)", 50.0)):
        ax.set_title(f"{title} ({how})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("success rate" if ax is ax_s else "precision")
        ax.set_xlim(0, xmax)
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right" if ax is ax_s else "lower right")
    fig.tight_layout()
    try:
        return _save(fig, p)
    finally:
        plt.close(fig)


def plot_mot(evaluation: MotEvaluation, path: str | os.PathLike) -> Path:
    """Write HOTA, MOTA and IDF1 (in %) of every sequence and of ``COMBINED`` as grouped
    bars to ``path`` (PNG).

    Args:
        evaluation: the result of :func:`attentrack.tracker.metrics.mot.evaluate_mot`.
        path: the PNG file to write (atomically).

    Returns:
        ``path``.
    """
    p = check_plot_path(path)
    plt = require_matplotlib()
    rows = evaluation.rows
    x = np.arange(len(rows))
    width = 0.8 / len(MOT_BARS)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) + 2), 4.5))
    for k, (label, name) in enumerate(MOT_BARS):
        values = np.array([100 * float(getattr(r, name)) for r in rows])
        ax.bar(x + (k - (len(MOT_BARS) - 1) / 2) * width, np.nan_to_num(values), width, label=label)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([r.sequence for r in rows], rotation=30 if len(rows) > 4 else 0, ha="right" if len(rows) > 4 else "center")
    ax.set_ylabel("%")
    ax.set_title("HOTA, MOTA and IDF1 per sequence")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        return _save(fig, p)
    finally:
        plt.close(fig)
