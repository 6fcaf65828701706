"""``attentrack batch``: track many videos, locally or on a Ray cluster; resumable."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tools.options import model_choice_callback, model_options, parse_params
from tracker.device import DEVICE_CHOICES
from tracker.proposals import PROPOSERS

_FORMAT_CHOICES = ("mot", "json", "video")


def _result_line(result, done: int, total: int) -> str:
    head = f"[{done}/{total}] {result.name}: {result.status}"
    if result.status == "failed":
        return f"{head}: {result.error}"
    return f"{head}, {result.frames} frames, {result.fps:.1f} frames/s, {result.tracks} tracks"


@click.command(
    "batch",
    help=(
        "Track every video of a collection with one model: video files, folders of videos, "
        "sequence folders, a MOTChallenge benchmark root (every SEQ/img1), globs, "
        "synthetic:frames=N,size=WxH clips, or a manifest (CSV or JSON lines with source, "
        "and optionally name, init boxes 'x,y,w,h;...', gt).\n\n"
        "One video per worker, frames in order. Writes OUT/NAME.txt (MOTChallenge), "
        "OUT/NAME.jsonl, optionally OUT/NAME.mp4, and OUT/summary.csv, OUT/summary.json "
        "(video, frames, frames/s, tracks, status, error) and, for videos with ground truth, "
        "OUT/metrics.json (MOT metrics per video and OVERALL, as `eval mot`).\n\n"
        "A rerun skips videos whose outputs are complete for the same inputs and options, "
        "and redoes the rest. Exit status 1 when some video failed (the others finish).\n\n"
        "Examples:\n\n"
        "\b\n"
        "  attentrack batch ../shared/data/mot15 -m hart -o out/mot15\n"
        "  attentrack batch cctv/*.mp4 --workers 4 --format video -o out/cctv\n"
        "  attentrack batch --manifest jobs.csv --backend ray --address auto -o /shared/out\n"
    ),
)
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option("--manifest", "manifests", multiple=True, type=click.Path(dir_okay=False),
              help="CSV or JSON-lines list of videos (repeatable).")
@click.option("-m", "--model", default="hart", show_default=True, callback=model_choice_callback,
              help="Registered tracker (see `attentrack models`), applied to every video.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A model option.")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True,
              help="Where the model runs; auto = CUDA when present.")
@click.option("--weights", default=None, type=click.Path(dir_okay=False), help="Model weights file.")
@click.option("--proposals", default="mog2", show_default=True, type=click.Choice(sorted(PROPOSERS)),
              help="Where objects come from in videos without init boxes.")
@click.option("--format", "formats", multiple=True, type=click.Choice(_FORMAT_CHOICES),
              help="Output formats besides mot (always written): json (default), video (annotated).")
@click.option("-o", "--output", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the outputs.")
@click.option("--backend", default="local", show_default=True, type=click.Choice(["local", "ray"]),
              help="local: a process pool on this machine; ray: tasks on a Ray cluster.")
@click.option("--address", default="auto", show_default=True,
              help="Ray cluster: auto, ray://HOST:PORT, HOST:PORT, or local (start a private Ray).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Videos at once (default: the number of cores).")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop each video after this many frames.")
@click.option("--no-resume", "no_resume", is_flag=True, help="Redo every video, even complete ones.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or per-video lines.")
def batch_command(inputs, manifests, model, params, device, weights, proposals, formats, out_dir, backend, address,
                  workers, max_frames, no_resume, quiet):
    from tracker.base import create_tracker
    from tracker.batch import BatchOptions, collect_jobs, create_backend, run_batch

    options_dict = model_options(model, parse_params(params), device=device, weights=str(Path(weights).resolve())
                                 if weights else None)
    if backend == "local":
        create_tracker(model, options_dict)  # bad options and weights fail here, once, as one line
    fmts = ("mot",) + (tuple(dict.fromkeys(formats)) if formats else ("json",))
    options = BatchOptions(model=model, params=tuple(sorted((k, str(v)) for k, v in options_dict.items())),
                           proposals=proposals, formats=fmts, max_frames=max_frames)
    jobs = collect_jobs(inputs, manifests)
    runner = create_backend(backend, workers=workers, address=address)
    bar, count = None, [0]
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="video", desc="batch", dynamic_ncols=True, file=sys.stderr)

    def on_result(result):
        count[0] += 1
        if bar is not None:
            bar.update(1)
            bar.write(_result_line(result, count[0], len(jobs)), file=sys.stdout)

    try:
        summary = run_batch(jobs, options, Path(out_dir).resolve(), runner, resume=not no_resume, on_result=on_result)
    finally:
        if bar is not None:
            bar.close()
    if not quiet:
        click.echo(summary.format_table())
        if summary.metrics is not None:
            click.echo(summary.metrics.format_table())
        click.echo(f"{summary.frames_run} frames tracked in {summary.wall_seconds:.1f} s "
                   f"({summary.throughput:.1f} frames/s over all videos) -> {Path(out_dir) / 'summary.csv'}")
    if summary.failed:
        click.echo(f"{len(summary.failed)} of {len(jobs)} videos failed: "
                   + ", ".join(r.name for r in summary.failed), err=True)
        return 1
    return 0
