"""``attentrack eval pipelines``: whole multi-object pipelines side by side (issue 27's table)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from attentrack.tools.association_cmd import labelled_sequences
from attentrack.tools.options import PROPOSER_CHOICE, config_option, read_config
from attentrack.tracker.errors import InputError

#: the models compared when none are given: HART started by MOG2, the blobs baseline, SQAIR fitted
DEFAULT_MODELS = ("hart", "blobs", "sqair")


@click.command(
    "pipelines",
    help=(
        "Multi-object tracking with no labels and no --init, as `track VIDEO -m MODEL` runs it: each "
        "model through the one multi-object runner (models that fit, such as sqair, are fitted on each "
        "video first, as with --fit), scored against the ground truth: IDF1, MOTA, HOTA, AssA, ID "
        "switches and frames/s, per view, side by side.\n\n"
        "SEQ is a MOTChallenge folder with gt/gt.txt and a video or img1/ (default: TUD-Campus and "
        "TUD-Stadtmitte from the data folder). --zoom-out F scores the F-times wider view (people F times "
        "smaller; datasets.wide_view). --detections auto uses each sequence's public detections "
        "(SEQ/det/det.txt, moved with the frames in a wider view) instead of proposals.\n\n"
        "Example:\n\n  attentrack eval pipelines -m hart -m blobs -m sqair --zoom-out 1 --zoom-out 2 --zoom-out 3"
    ),
)
@click.argument("sequences", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("-m", "--model", "models", multiple=True, help="A registered tracker (repeatable; default hart, blobs, sqair).")
@click.option("--zoom-out", "zooms", multiple=True, type=click.FloatRange(min=1.0),
              help="View(s) to score (repeatable; default 1).")
@click.option("-p", "--param", "params", multiple=True, metavar="MODEL.NAME=VALUE",
              help="A model's option, prefixed with its name, e.g. -p sqair.fit_steps=300.")
@click.option("-r", "--runner", "runner_params", multiple=True, metavar="NAME=VALUE",
              help="A runner setting (attentrack.tracker.runner.RunnerSettings) for every model, e.g. -r max_lost=60.")
@click.option("--out", default="runs/pipelines", show_default=True, type=click.Path(file_okay=False),
              help="Wide views, fits (resumable) and each model's MOTChallenge results.")
@click.option("--proposals", default="mog2", show_default=True, type=PROPOSER_CHOICE,
              help="Where new objects come from, for models that do not find their own (as `track --proposals`).")
@click.option("-P", "--proposal-option", "proposal_params", multiple=True, metavar="NAME=VALUE",
              help="An option of the proposer (as `track -P`), e.g. -P open_height=60.")
@click.option("--detections", default=None, metavar="PATH|auto",
              help="Per-frame detections (MOTChallenge det.txt) that start and support tracks instead of proposals, "
                   "as `track --detections`; `auto`: each sequence's SEQ/det/det.txt (a PATH needs one sequence). "
                   "Every model must follow given objects (not blobs or sqair).")
@click.option("--det-threshold", default=None, type=float, metavar="SCORE",
              help="Detections scoring less are ignored (default: all).")
@click.option("--frame-step", default=1, show_default=True, type=click.IntRange(min=1),
              help="Use every N-th frame only (and of --detections), as a camera recording N times fewer "
                   "frames a second.")
@click.option("--view-noise", is_flag=True,
              help="Wider views keep the recording's sensor noise on every pixel, as a camera further away "
                   "does (shrinking a frame averages it away).")
@click.option("--as-live", is_flag=True,
              help="Run each video as a camera delivers it: the background model learns the scene from its "
                   "first seconds only, not from the recording's median.")
@config_option({"runner": "-r", "proposals": "-P"})
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1), help="Torch threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def pipelines_command(sequences, models, zooms, params, runner_params, out, proposals, proposal_params, detections,
                       det_threshold, frame_step, view_noise, as_live, config_file, threads, as_json):
    """``attentrack eval pipelines``: label-free multi-object tracking of each model, scored."""
    import torch

    from attentrack.tools.options import parse_params
    from attentrack.tracker.base import create_tracker
    from attentrack.tracker.detections import check_follows_given_objects, find_detections
    from attentrack.tracker.protocols.pipelines import compare_pipelines
    from attentrack.tracker.registry import PROPOSERS
    from attentrack.tracker.runner import RunnerSettings
    from attentrack.tracker.tables import markdown_lines

    torch.set_num_threads(threads)
    models = tuple(models) or DEFAULT_MODELS
    options: dict[str, dict] = {m: {} for m in models}
    by_key = {m.replace("-", "_"): m for m in models}  # parse_params writes dashes as underscores
    for key, value in parse_params(params).items():
        prefix, _, name = key.partition(".")
        model = by_key.get(prefix)
        if model is None or not name:
            raise InputError(f"-p {key}={value}: prefix the option with one of the models ({', '.join(models)}), "
                             f"e.g. -p {models[0]}.NAME=VALUE")
        options[model][name] = value
    for model, opts in options.items():
        tracker = create_tracker(model, dict(opts))  # an unknown model or option fails here, as one line
        if detections is not None:
            check_follows_given_objects(model, tracker)
    config = read_config(config_file, tables=("runner", "proposals"))
    settings = RunnerSettings.from_options({**config["runner"], **parse_params(runner_params)})
    proposal_options = {**config["proposals"], **parse_params(proposal_params, "proposal option")}
    PROPOSERS.options(proposals, dict(proposal_options))  # an unknown option fails here, before any run
    seqs = labelled_sequences(sequences)
    det_files = None
    if detections is not None:
        if detections != "auto" and len(seqs) != 1:
            raise InputError("--detections PATH is one sequence's; for several give --detections auto")
        det_files = {name: find_detections(detections, str(video)) for name, video, _ in seqs}
    results = compare_pipelines(seqs, options, zooms=tuple(zooms) or (1.0,), work_dir=Path(out), settings=settings,
                                progress=lambda line: click.echo(line, err=True), proposals=proposals,
                                proposal_options=proposal_options, detections=det_files, det_threshold=det_threshold,
                                frame_step=frame_step, view_noise=view_noise, as_live=as_live)
    rows = [{"model": r.model, "zoom": r.zoom, "fps": r.fps, "fit_seconds": r.fit_seconds,
             **{k: getattr(r.evaluation.overall, k) for k in ("idf1", "mota", "hota", "assa", "idsw", "recall", "precision")},
             "sequences": {m.sequence: {"idf1": m.idf1, "mota": m.mota, "idsw": m.idsw} for m in r.evaluation.sequences}}
            for r in results]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    names = [s[0] for s in seqs]
    head = ["model", "view", *[f"{n} IDF1" for n in names], "IDF1", "MOTA", "HOTA", "AssA", "recall", "precision",
            "IDsw", "frames/s", "fit s"]
    cells = [[r["model"], f"{r['zoom']:g}x", *[f"{r['sequences'][n]['idf1']:.3f}" for n in names],
              *[f"{r[k]:.3f}" for k in ("idf1", "mota", "hota", "assa", "recall", "precision")], str(int(r["idsw"])),
              f"{r['fps']:.1f}", f"{r['fit_seconds']:.0f}"] for r in rows]
    click.echo("\n".join(markdown_lines(head, cells)))
    started = ("given detections (det.txt" + (f", scores >= {det_threshold:g}" if det_threshold is not None else "")
               + ")") if detections is not None else "no --init, no labels"
    if frame_step > 1:
        started += f"; 1 frame in {frame_step}"
    if as_live:
        started += "; run as live"
    if view_noise and any(z != 1 for z in zooms):
        started += "; wider views with the recording's noise"
    click.echo(f"{started}; COMBINED over {', '.join(names)}; frames/s of the whole run (the fit excluded)")
