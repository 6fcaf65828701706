"""``attentrack eval``: score tracking results (``eval mot``) or run and score trackers on
ground-truth tracks (``eval sot``).

Metric definitions: :mod:`attentrack.tracker.metrics.mot`, :mod:`attentrack.tracker.metrics.hota` and
:mod:`attentrack.tracker.metrics.sot`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from attentrack.tools.lazy_group import LazyGroup
from attentrack.tools.options import TRACKER_CHOICE
from attentrack.tracker.device import DEVICE_CHOICES
from attentrack.tracker.errors import InputError

#: ``--benchmark`` choices: :data:`attentrack.tracker.metrics.motchallenge.BENCHMARKS`, spelt out here
#: so that ``--help`` does not import the metrics (and scipy)
BENCHMARK_CHOICES = ("auto", "MOT15", "MOT16", "MOT17", "MOT20")


@click.group(
    "eval",
    cls=LazyGroup,
    lazy_commands={
        "aligndraw": "attentrack.tools.generate_cmd:eval_aligndraw_command",
        "association": "attentrack.tools.association_cmd:association_command",
        "pipelines": "attentrack.tools.pipelines_cmd:pipelines_command",
        "draw": "attentrack.tools.generate_cmd:eval_draw_command",
        "face": "attentrack.tools.face_cmd:eval_face_command",
        "face-tracking": "attentrack.tools.face_cmd:eval_face_tracking_command",
        "face-score": "attentrack.tools.face_cmd:eval_face_score_command",
        "pointing": "attentrack.tools.saliency_cmd:pointing_command",
        "sqair": "attentrack.tools.sqair_cmd:eval_sqair_command",
        "sqair-cctv": "attentrack.tools.sqair_cmd:eval_cctv_command",
    },
    help=(
        "Evaluate trackers.\n\n"
        "`eval mot` scores MOTChallenge result files against ground truth (MOTA, IDF1, "
        "HOTA, ...); `eval sot` runs trackers on the ground-truth tracks of sequences, or reads "
        "their saved results, and scores them (success AUC, precision, ...).\n\n"
        "Examples:\n\n"
        "\b\n"
        "  attentrack eval mot --gt ../shared/data/mot15 --pred out/\n"
        "  attentrack eval sot --model static --model mil ../shared/data/sot/Crossing\n"
    ),
)
def eval_group():
    """``attentrack eval``: the evaluation commands."""


@eval_group.command(
    "mot",
    help=(
        "Score multi-object tracking results: CLEAR MOT (MOTA, MOTP, FP, FN, ID switches, "
        "fragmentations, MT/PT/ML), identity metrics (IDF1, IDP, IDR) and HOTA (DetA, "
        "AssA, LocA), per sequence and COMBINED, as TrackEval computes them.\n\n"
        "GT is a gt.txt file, a sequence folder holding gt/gt.txt, a folder of such "
        "sequence folders, or a folder of SEQ.txt files. PRED is a results file (for one "
        "sequence) or a folder with SEQ.txt for every sequence, as `attentrack track -o` "
        "writes. Ground truth follows TrackEval's rules: rows of confidence 0 are ignored; "
        "MOT16/17/20 ground truth (with classes) scores pedestrians only and drops the "
        "predictions that match distractors (static people, reflections, ...). Boxes match "
        "at IoU >= 0.5; MOTP is the mean IoU of the matches (TrackEval), MOTPd motmetrics' "
        "mean 1-IoU.\n\n"
        "Example:\n\n\b\n"
        "  attentrack eval mot --gt ../shared/data/mot15/TUD-Campus --pred out/TUD-Campus.txt --csv scores.csv"
    ),
)
@click.option("--gt", "gt_path", required=True, type=click.Path(), help="Ground-truth file or folder.")
@click.option("--pred", "pred_path", required=True, type=click.Path(), help="Results file or folder.")
@click.option("--benchmark", type=click.Choice(BENCHMARK_CHOICES), default="auto", show_default=True,
              help="Ground-truth rules: auto = MOT17's for ground truth with classes (MOT20's for "
                   "MOT20-* sequences), MOT15's (no classes) otherwise.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None,
              help="Score only frames 1..N (results of a run stopped early, e.g. `track --max-frames N`).")
@click.option("--min-confidence", default=None, type=float,
              help="Also drop ground-truth rows with confidence below this (TrackEval's rules already "
                   "drop confidence 0).")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of rows (sequences, then COMBINED) with lower-case metric names.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the rows (sequences, then COMBINED) to this CSV file.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw HOTA, MOTA and IDF1 per sequence as a bar chart into this PNG "
                   "(needs matplotlib: pip install 'attentrack[plot]').")
def mot_command(gt_path, pred_path, benchmark, max_frames, min_confidence, as_json, csv_path, plot_path):
    """``attentrack eval mot``: CLEAR MOT, identity and HOTA metrics of result files against ground truth."""
    from attentrack.tracker.metrics.mot import evaluate_mot_files

    if plot_path:
        from attentrack.tracker.metrics.plots import check_plot_path

        check_plot_path(plot_path)  # before the work, not after it
    result = evaluate_mot_files(gt_path, pred_path, min_confidence=min_confidence, benchmark=benchmark,
                                max_frames=max_frames)
    if as_json:
        click.echo(json.dumps(result.to_rows(), indent=1))
    else:
        click.echo(result.format_table())
    if csv_path:
        result.save_csv(csv_path)
    if plot_path:
        from attentrack.tracker.metrics.plots import plot_mot

        plot_mot(result, plot_path)


def _open_sequences(paths: tuple[str, ...]) -> list:
    """Open each path as a sequence, or search it for sequences when it is not one."""
    from attentrack.datasets.sequence import detect_kind, find_sequences, open_sequence

    seqs = []
    for p in paths:
        if not Path(p).exists():
            raise InputError(f"no such sequence: {p}")
        if detect_kind(p) is None and Path(p).is_dir():
            seqs += find_sequences(p)
        else:
            seqs.append(open_sequence(p))
    return seqs


def _options_per_model(models: tuple[str, ...], params: dict[str, str], device: str) -> dict[str, dict]:
    """Give each model the ``-p`` options it accepts; an option no model takes is an error."""
    from attentrack.tools.options import model_options
    from attentrack.tracker.registry import TRACKERS

    for m in models:
        TRACKERS.check(m)
    used: set[str] = set()
    out = {}
    for m in models:
        accepted = {p.name for p in TRACKERS.params(m)}
        mine = {k: v for k, v in params.items() if k in accepted}
        used |= set(mine)
        out[m] = model_options(m, mine, device=device)
    unused = sorted(set(params) - used)
    if unused:
        raise InputError(f"no given model takes the option {unused[0]!r}")
    return out


def _saved_results(specs: tuple[str, ...]) -> dict[str, Path]:
    """``{name: folder}`` from ``--pred`` values ``DIR`` (named after the folder) or ``NAME=DIR``."""
    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep:
            name, folder = Path(spec.rstrip("/\\")).name, spec
        if not Path(folder).is_dir():
            raise InputError(f"--pred {spec}: no such folder {folder}")
        if not name or name in out:
            raise InputError(f"--pred {spec}: give each results folder its own name, as NAME=DIR")
        out[name] = Path(folder)
    return out


@eval_group.command(
    "sot",
    help=(
        "Score single-object trackers on the ground-truth tracks of sequences: run the models "
        "given with -m (each track is started on its first ground-truth box and followed to "
        "its last frame; on MOT sequences all tracks at once, in one tracker), and/or read "
        "saved results given with --pred. Reports success AUC (OTB: IoU > t for t = 0, 0.05, "
        "..., 1), precision at 20 px, normalised precision (LaSOT/TrackingNet), mean IoU, SR50 "
        "and tracker speed in object-frames/s, per sequence and over all, models side by side. "
        "Scores are computed per target (ground-truth track) and averaged, as the OTB toolkit "
        "and pytracking average sequences; --pooled pools the frames instead.\n\n"
        "SEQUENCE is a sequence folder (MOTChallenge, OTB, VOT, KITTI) or a folder of them. "
        "--pred DIR (or NAME=DIR) is a folder of OTB-format results as the OTB toolkit, "
        "pytracking and `track --otb` write them: SEQ.txt (SEQ-ID.txt per target for sequences "
        "with several), one x,y,w,h line per frame.\n\n"
        "Example:\n\n\b\n"
        "  attentrack eval sot --model static --model mil ../shared/data/sot/Crossing ../shared/data/sot/bag "
        "--plot sot.png"
    ),
)
@click.argument("sequences", nargs=-1, required=True, metavar="SEQUENCE...")
@click.option("-m", "--model", "models", multiple=True, type=TRACKER_CHOICE,
              help="Registered tracker to run (see `attentrack models`); repeat to compare several.")
@click.option("--pred", "saved", multiple=True, metavar="[NAME=]DIR",
              help="Saved OTB-format results to score without running anything; repeatable.")
@click.option("--max-tracks", type=click.IntRange(min=1), default=None,
              help="Follow only the first N tracks of each sequence (by first frame).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A model option, given to every model that takes it.")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True,
              help="Where the models run; auto = CUDA when present.")
@click.option("--pooled", is_flag=True,
              help="Pool the scored frames of all targets (frame-weighted) instead of averaging per target.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of rows with model, sequence ('all' = combined), auc, precision20, "
                   "norm_precision, mean_iou, sr50 (averaged per target), the same with a pooled_ prefix, fps.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the rows of --json to this CSV file.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw the success and precision plots (one curve per tracker) into this PNG "
                   "(needs matplotlib: pip install 'attentrack[plot]').")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def sot_command(sequences, models, saved, max_tracks, params, device, pooled, as_json, csv_path, plot_path, quiet):
    """``attentrack eval sot``: single-object scores of trackers run on, or results saved for, ground-truth tracks."""
    from attentrack.tools.options import parse_params
    from attentrack.tracker.metrics.sot_runs import evaluate_sot

    if not models and not saved:
        raise InputError("give a model to run (-m) or saved results to score (--pred)")
    if plot_path:
        from attentrack.tracker.metrics.plots import check_plot_path

        check_plot_path(plot_path)
    models = tuple(dict.fromkeys(models))
    options = _options_per_model(models, parse_params(params), device)
    seqs = _open_sequences(sequences)
    result = evaluate_sot(models, seqs, options, max_tracks=max_tracks, saved=_saved_results(saved),
                          progress=not quiet)
    averaging = "frame" if pooled else "target"
    if as_json:
        click.echo(json.dumps(result.to_rows(), indent=1))
    else:
        click.echo(result.format_table(averaging))
    if csv_path:
        result.save_csv(csv_path)
    if plot_path:
        from attentrack.tracker.metrics.plots import plot_sot

        plot_sot(result, plot_path, averaging)
