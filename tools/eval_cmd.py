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
        "pointing": "attentrack.tools.saliency_cmd:pointing_command",
        "sqair": "attentrack.tools.sqair_cmd:eval_sqair_command",
        "sqair-cctv": "attentrack.tools.sqair_cmd:eval_cctv_command",
    },
    help=(
        "Evaluate trackers.\n\n"
        "`eval mot` scores MOTChallenge result files against ground truth (MOTA, IDF1, "
        "HOTA, ...); `eval sot` runs trackers on the ground-truth tracks of sequences and "
        "scores them (mean IoU, success AUC, ...).\n\n"
        "Examples:\n\n"
        "\b\n"
        "  attentrack eval mot --gt ../shared/data/mot15 --pred out/\n"
        "  attentrack eval sot --model static --model mil ../shared/data/sot/Crossing\n"
    ),
)
def eval_group():
    pass


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
    from attentrack.tracker.metrics.mot import evaluate_mot_files

    if plot_path:
        from attentrack.tracker.metrics.plots import require_matplotlib

        require_matplotlib()  # before the work, not after it
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


@eval_group.command(
    "sot",
    help=(
        "Run trackers on the ground-truth tracks of sequences and score them: each track is "
        "started on its first ground-truth box and followed to its last frame (on MOT "
        "sequences all tracks at once, in one tracker). Reports mean IoU, success AUC "
        "(OTB: IoU > t for t = 0, 0.05, ..., 1), SR50 (IoU > 0.5), precision at 20 px, and "
        "tracker speed in object-frames/s, per sequence and pooled over all (frame-weighted), "
        "with the models side by side.\n\n"
        "SEQUENCE is a sequence folder (MOTChallenge, OTB, VOT, KITTI) or a folder of them.\n\n"
        "Example:\n\n\b\n"
        "  attentrack eval sot --model static --model mil ../shared/data/sot/Crossing ../shared/data/sot/bag"
    ),
)
@click.argument("sequences", nargs=-1, required=True, metavar="SEQUENCE...")
@click.option("-m", "--model", "models", multiple=True, required=True, type=TRACKER_CHOICE,
              help="Registered tracker (see `attentrack models`); repeat to compare several.")
@click.option("--max-tracks", type=click.IntRange(min=1), default=None,
              help="Follow only the first N tracks of each sequence (by first frame).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A model option, given to every model that takes it.")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True,
              help="Where the models run; auto = CUDA when present.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of rows with model, sequence ('all' = pooled), mean_iou, auc, "
                   "sr50, precision20, fps.")
def sot_command(sequences, models, max_tracks, params, device, as_json):
    from attentrack.tools.options import parse_params
    from attentrack.tracker.metrics.sot import evaluate_sot

    models = tuple(dict.fromkeys(models))
    options = _options_per_model(models, parse_params(params), device)
    seqs = _open_sequences(sequences)
    result = evaluate_sot(models, seqs, options, max_tracks=max_tracks)
    if as_json:
        click.echo(json.dumps(result.to_rows(), indent=1))
    else:
        click.echo(result.format_table())
