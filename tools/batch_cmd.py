"""``attentrack batch``: track many videos, locally or on a Ray cluster; resumable."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from attentrack.tools.options import (
    BACKEND_CHOICE,
    PROPOSER_CHOICE,
    TRACKER_CHOICE,
    config_option,
    model_options,
    param_option,
    parse_params,
    read_config,
)
from attentrack.tracker.device import DEVICE_CHOICES

_FORMAT_CHOICES = ("mot", "json", "video")


def _result_line(result, done: int, total: int) -> str:
    head = f"[{done}/{total}] {result.name}: {result.status}"
    if result.status == "failed":
        details = [f"  | {line}" for line in result.details.rstrip().splitlines()]
        return "\n".join([f"{head}: {result.error}", *details])
    line = f"{head}, {result.frames} frames, {result.fps:.1f} frames/s, {result.tracks} tracks"
    return "\n".join([line, *(f"  warning: {w}" for w in result.warnings)])


@click.command(
    "batch",
    help=(
        "Track every video of a collection with one model: video files, folders of videos, "
        "sequence folders, a MOTChallenge benchmark root (every SEQ/img1), globs, "
        "synthetic:frames=N,size=WxH clips, or a manifest (CSV or JSON lines with source, "
        "and optionally name, init boxes 'x,y,w,h;...', gt).\n\n"
        "One video per worker, frames in order. Writes OUT/NAME.txt (MOTChallenge), "
        "OUT/NAME.jsonl, optionally OUT/NAME.mp4, and OUT/summary.csv, OUT/summary.json "
        "(video, frames, frames/s, tracks, status, error, warnings) and, for videos with ground truth, "
        "OUT/metrics.json (MOT metrics per video and COMBINED, as `eval mot`).\n\n"
        "A rerun skips videos whose outputs are complete for the same inputs and options, "
        "and redoes the rest. Exit status 1 when some video failed (the others finish). "
        "Ctrl-C or SIGTERM stops every worker and writes the summary so far.\n\n"
        "The ray backend needs the inputs and the output folder on storage every node sees; "
        "docs/batch.md explains it, retries, fractional GPUs and the time limit.\n\n"
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
@click.option("-m", "--model", default="hart", show_default=True, type=TRACKER_CHOICE,
              help="Registered tracker (see `attentrack models`), applied to every video.")
@param_option("A model option (see `attentrack models`).")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True,
              help="Where the model runs; auto = CUDA when present.")
@click.option("--weights", default=None, type=click.Path(dir_okay=False), help="Model weights file.")
@click.option("--proposals", default="mog2", show_default=True, type=PROPOSER_CHOICE,
              help="Where objects come from in videos without init boxes.")
@param_option("An option of the proposer (as `track -P`), e.g. -P open_height=60.", "-P", "--proposal-option",
              dest="proposal_params")
@click.option("--format", "formats", multiple=True, type=click.Choice(_FORMAT_CHOICES),
              help="Output formats besides mot (always written): json (default), video (annotated).")
@click.option("-o", "--output", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the outputs.")
@click.option("--backend", default="local", show_default=True, type=BACKEND_CHOICE,
              help="local: a process pool on this machine; ray: tasks on a Ray cluster.")
@click.option("--address", default="auto", show_default=True,
              help="Ray cluster: auto, ray://HOST:PORT, HOST:PORT, or local (start a private Ray).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Videos at once (default: the number of cores).")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop each video after this many frames.")
@click.option("--reconnect", type=click.IntRange(min=0), default=3, show_default=True,
              help="Cameras and stream URLs: reopen a stream that stops up to this many times in a row.")
@click.option("--no-resume", "no_resume", is_flag=True, help="Redo every video, even complete ones.")
@click.option("--video-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Stop a video that runs longer than this, and count it failed (default: no limit).")
@click.option("--retries", type=click.IntRange(min=0), default=None,
              help="Start a video again when its worker is lost (killed, crashed, node gone), up to this many "
                   "times [default: 0 local, 1 ray].")
@click.option("--cpus-per-video", type=click.FloatRange(min=0, min_open=True), default=None,
              help="CPUs (threads) each video uses; on Ray the CPUs each task reserves, fractions allowed [default: 1].")
@click.option("--gpus-per-video", type=click.FloatRange(min=0), default=None,
              help="Ray: GPUs each task reserves; fractions share a GPU, e.g. 0.25 [default: 1 when the model runs "
                   "on CUDA, else 0].")
@click.option("--ray-code", type=click.Choice(("auto", "ship", "installed")), default=None,
              help="Ray: ship this attentrack to the workers, or use the one installed on each node "
                   "[default: auto = installed for --address local, else ship].")
@click.option("-r", "--runner", "runner_params", multiple=True, metavar="NAME=VALUE",
              help="A setting of the multi-object runner, e.g. -r max_lost=60 (attentrack.tracker.runner.RunnerSettings).")
@click.option("--detections", type=click.Choice(("auto",)), default=None,
              help="Track each video without init boxes from its SEQ/det/det.txt (MOTChallenge) instead of proposals.")
@click.option("--det-threshold", type=float, default=None, metavar="SCORE",
              help="Detections scoring less are ignored (to keep weak ones for followed objects: -r start_score=SCORE).")
@config_option()
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or per-video lines (nor Ray worker logs).")
def batch_command(inputs, manifests, model, params, device, weights, proposals, proposal_params, formats, out_dir,
                  backend, address,
                  workers, max_frames, reconnect, no_resume, video_timeout, retries, cpus_per_video, gpus_per_video,
                  ray_code, runner_params, detections, det_threshold, config_file, quiet):
    """``attentrack batch``: track every video of a collection with one model."""
    from attentrack.tracker.atomic import check_folder
    from attentrack.tracker.batch import BatchOptions, collect_jobs, create_backend, run_batch
    from attentrack.tracker.batch.runner import check_ground_truth
    from attentrack.tracker.detections import check_follows_given_objects
    from attentrack.tracker.registry import BACKENDS, PROPOSERS, TRACKERS
    from attentrack.tracker.runner import RunnerSettings

    if detections:  # a model that finds its own objects would silently ignore them
        check_follows_given_objects(model, TRACKERS.get(model))
    config = read_config(config_file)
    options_dict = model_options(model, {**config["model"], **parse_params(params)}, device=device,
                                 weights=str(Path(weights).resolve()) if weights else None)
    if backend == "local":
        TRACKERS.create(model, options_dict)  # bad options and weights fail here, once, as one line
    fmts = ("mot",) + (tuple(dict.fromkeys(formats)) if formats else ("json",))
    options = BatchOptions(model=model, params=tuple(sorted((k, str(v)) for k, v in options_dict.items())),
                           proposals=proposals, formats=fmts, max_frames=max_frames,
                           reconnect=reconnect,
                           runner=tuple(sorted({**config["runner"], **parse_params(runner_params)}.items())),
                           detections=detections, det_threshold=det_threshold,
                           proposal_options=tuple(sorted({**config["proposals"],
                                                          **parse_params(proposal_params, "proposal option")}.items())))
    RunnerSettings.from_options(dict(options.runner))  # a bad runner setting fails here, as one line
    PROPOSERS.options(proposals, dict(options.proposal_options))  # and a bad proposal option
    jobs = collect_jobs(inputs, manifests)
    check_ground_truth(jobs)  # a malformed ground truth fails now, not after every video ran
    check_folder(out_dir)
    quiet_workers = {"worker_logs": False} if quiet and "worker_logs" in {p.name for p in BACKENDS.params(backend)} else {}
    runner = create_backend(backend, workers=workers, address=address, retries=retries, video_timeout=video_timeout,
                            cpus_per_video=cpus_per_video, gpus_per_video=gpus_per_video, code=ray_code,
                            **quiet_workers)
    if backend == "ray":
        runner.connect()  # a missing cluster is one line, before any progress bar
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


def _bench_jobs(tud: bool, clips: int, clip_frames: int) -> list[tuple[str, list]]:
    from attentrack.datasets.paths import data_root
    from attentrack.tracker.batch import VideoJob, collect_jobs
    from attentrack.tracker.errors import InputError

    sets = []
    if tud:
        root = data_root()
        if root is None:
            raise InputError("no data folder found for the TUD clips (set ATTENTRACK_DATA, or pass --no-tud)")
        sets.append(("TUD", collect_jobs(tuple(str(root / "mot15" / s) for s in ("TUD-Campus", "TUD-Stadtmitte")))))
    if clips:
        sets.append((f"generated x{clips}", [
            VideoJob(f"gen{k}", f"synthetic:frames={clip_frames},size=640x480,objects=3,seed={k}") for k in range(clips)]))
    if not sets:
        raise InputError("nothing to measure: give --tud or --clips N > 0")
    return sets


@click.command(
    "batch",
    help=(
        "Throughput of `attentrack batch`: frames/s of wall time over all videos, for each "
        "backend and number of workers, on the TUD clips (TUD-Campus, TUD-Stadtmitte) and on "
        "generated 640x480 clips, with the scaling efficiency per worker "
        "(frames/s / (workers x frames/s with 1 worker)). A warm-up batch runs first, so "
        "worker start-up is not counted. Videos start tracks from proposals (--model on "
        "every video).\n\n"
        "Example:\n\n  attentrack bench batch --model hart --workers 1 --workers 2 --backend local --backend ray"
    ),
)
@click.option("-m", "--model", default="hart", show_default=True, type=TRACKER_CHOICE)
@param_option("A model option (see `attentrack models`).")
@click.option("--workers", "workers_list", multiple=True, type=click.IntRange(min=1), default=(1, 2),
              show_default=True, help="Worker counts to measure (repeatable).")
@click.option("--backend", "backends", multiple=True, type=BACKEND_CHOICE, default=("local", "ray"),
              show_default=True, help="Backends to measure (repeatable); ray runs a private local Ray.")
@click.option("--tud/--no-tud", default=True, show_default=True, help="Measure on the TUD clips of the data folder.")
@click.option("--clips", default=4, show_default=True, type=click.IntRange(min=0), help="Generated clips.")
@click.option("--clip-frames", default=150, show_default=True, type=click.IntRange(min=1),
              help="Frames of each generated clip.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
def bench_batch_command(model, params, workers_list, backends, tud, clips, clip_frames, as_json):
    """``attentrack bench batch``: frames/s of ``attentrack batch`` per backend and worker count."""
    import json

    from attentrack.tracker.batch import BatchOptions
    from attentrack.tracker.batch.bench import add_efficiency, format_throughput, measure_throughput

    opts = model_options(model, parse_params(params), device="cpu")
    options = BatchOptions(model=model, params=tuple(sorted((k, str(v)) for k, v in opts.items())), formats=("mot",))
    rows = []
    for label, jobs in _bench_jobs(tud, clips, clip_frames):
        for backend in dict.fromkeys(backends):
            for workers in sorted(set(workers_list)):
                rows.append(measure_throughput(jobs, options, backend, workers, label))
    add_efficiency(rows)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], indent=1))
    else:
        import os

        click.echo(f"model {model}, {os.cpu_count()} cores; frames/s over all videos (wall time)")
        click.echo(format_throughput(rows))


def _parse_size(ctx, param, value):
    w, sep, h = value.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or int(w) < 32 or int(h) < 32:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT (at least 32x32)")
    return int(w), int(h)


@click.command(
    "stream",
    help=(
        "Peak memory of a long stream: tracks a synthetic clip generated on the fly (nothing "
        "stored) through the pipeline of `attentrack track` (MOTChallenge output, no video), "
        "each length in a fresh process, and reports its peak resident memory. Bounded "
        "memory means the peaks are about equal for every length.\n\n"
        "Example:\n\n  attentrack bench stream --frames 10000 --frames 100000"
    ),
)
@click.option("--frames", "frames_list", multiple=True, type=click.IntRange(min=1), default=(10_000, 100_000),
              show_default=True, help="Clip lengths to measure (repeatable).")
@click.option("--size", default="320x240", show_default=True, callback=_parse_size, help="Frame size WIDTHxHEIGHT.")
@click.option("--objects", default=2, show_default=True, type=click.IntRange(min=1), help="Objects tracked.")
@click.option("-m", "--model", default="static", show_default=True, type=TRACKER_CHOICE)
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
def bench_stream_command(frames_list, size, objects, model, as_json):
    """``attentrack bench stream``: peak memory of long synthetic streams."""
    import json

    from attentrack.tracker.batch.bench import measure_stream

    rows = [{"frames_asked": n, **measure_stream(n, size, objects, model)} for n in frames_list]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    click.echo(f"synthetic {size[0]}x{size[1]} clip, {objects} objects, model {model}, fresh process per row")
    head = f"{'frames':>8} {'seconds':>8} {'frames/s':>9} {'peak MB':>8}"
    click.echo(head + "\n" + "-" * len(head))
    for r in rows:
        click.echo(f"{r['frames']:>8} {r['seconds']:>8.1f} {r['fps']:>9.1f} {r['peak_mb']:>8.1f}")
