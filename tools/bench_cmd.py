"""``attentrack bench``: throughput and peak memory of decoding, the pipeline and models.

Each row runs in a fresh process so that its peak memory (max resident set size) is its
own. Frames/s counts the whole loop (decoding, tracking and writing the MOTChallenge output)
after the first ``--warmup`` frames, whose time (start-up: the first frame, building the
compiled graphs) is shown on its own. ``bench startup`` times the command line's own start-up
(``attentrack --help``, ``track --help``) in fresh interpreters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field, replace

import click
import numpy as np

from attentrack.tools.lazy_group import DefaultGroup
from attentrack.tools.options import TRACKER_CHOICE, parse_params
from attentrack.tracker.device import DEVICE_CHOICES
from attentrack.tracker.errors import InputError


@dataclass
class BenchRow:
    """One measured configuration."""

    what: str
    objects: int
    frames: int
    seconds: float
    peak_mb: float
    warmup_seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames per second (NaN when no time was measured)."""
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


def measure(job: dict) -> tuple[int, float, float, float, dict]:
    """Run ``job`` in a fresh interpreter (``python -m attentrack.tools.bench_worker``); return the frames
    timed, their seconds, the peak MB, the seconds of the warm-up frames and the timed frames'
    seconds per stage of the tracker (empty when it times none)."""
    proc = subprocess.run([sys.executable, "-m", "attentrack.tools.bench_worker"], input=json.dumps(job),
                          capture_output=True, text=True)
    what = job["model"] or "decode"
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise InputError(f"benchmark of {what} failed: {last}") from None
    if "error" in result:
        raise InputError(f"benchmark of {what} failed: {result['error']}")
    return (int(result["frames"]), float(result["seconds"]), float(result["peak_mb"]), float(result["warmup_seconds"]),
            dict(result.get("stage_seconds", {})))


def format_rows(rows: list[BenchRow], decode_fps: float) -> str:
    """The benchmark table as text."""
    head = (f"{'configuration':<28} {'objects':>7} {'frames':>7} {'frames/s':>9} {'x decode':>9} {'peak MB':>8} "
            f"{'warm-up s':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.what:<28} {r.objects:>7} {r.frames:>7} {r.fps:>9.1f} {r.fps / decode_fps:>9.2f} "
                     f"{r.peak_mb:>8.0f} {r.warmup_seconds:>9.2f}")
    return "\n".join(lines)


def format_stages(rows: list[BenchRow]) -> str:
    """Milliseconds per timed frame in each stage the trackers time (``Tracker.stage_seconds``),
    and the rest of the frame (decoding, the pipeline, writing the output); empty when no row
    has stages."""
    timed = [r for r in rows if r.stage_seconds and r.frames]
    if not timed:
        return ""
    names = list(dict.fromkeys(k for r in timed for k in r.stage_seconds))
    head = f"{'configuration':<28} {'objects':>7} " + " ".join(f"{n:>13}" for n in names) + f" {'rest':>8} {'frame':>8}"
    lines = ["milliseconds per frame by stage:", head, "-" * len(head)]
    for r in timed:
        per = {k: 1000.0 * v / r.frames for k, v in r.stage_seconds.items()}
        frame = 1000.0 * r.seconds / r.frames
        cells = " ".join(f"{per.get(n, 0.0):>13.3f}" for n in names)
        lines.append(f"{r.what:<28} {r.objects:>7} {cells} {frame - sum(per.values()):>8.3f} {frame:>8.3f}")
    return "\n".join(lines)


@click.group("bench", cls=DefaultGroup, invoke_without_command=False, lazy_commands={
    "batch": "attentrack.tools.batch_cmd:bench_batch_command",
    "faults": "attentrack.tools.faults:bench_faults_command",
    "saliency": "attentrack.tools.saliency_cmd:bench_saliency_command",
    "sqair": "attentrack.tools.sqair_cmd:bench_sqair_command",
    "stream": "attentrack.tools.batch_cmd:bench_stream_command",
},
             help="Measure speed and memory. `attentrack bench CLIP ...` runs `bench track`.")
def bench_group():
    """``attentrack bench``: speed and memory measurements."""


@bench_group.command(
    "track",
    help=(
        "Frames/s and peak memory: decode only, the pipeline with the `static` tracker (its "
        "own overhead), and each --model with each --objects count, on one clip; for trackers "
        "that time their stages (HART), also milliseconds per frame in each stage.\n\n"
        "Example:\n\n  attentrack bench ../shared/data/mot15/TUD-Campus/TUD-Campus.mp4 --model hart --objects 1 --objects 20"
    ),
)
@click.argument("clip", required=False)
@click.option("-m", "--model", "models", multiple=True, type=TRACKER_CHOICE, help="Model to time (repeatable).")
@click.option("--objects", multiple=True, type=click.IntRange(min=1), default=(1,), show_default=True,
              help="Objects tracked at once (repeatable).")
@click.option("--min-frames", default=500, show_default=True, type=click.IntRange(min=1),
              help="The clip is replayed until at least this many frames are timed.")
@click.option("--warmup", default=30, show_default=True, type=click.IntRange(min=0),
              help="Frames run before timing starts (their time is shown as 'warm-up s').")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="cpu", show_default=True)
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1), help="torch threads.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Option for the models.")
@click.option("--best-of", default=1, show_default=True, type=click.IntRange(min=1),
              help="Time every row this many times (each in a fresh process), rows interleaved; keep the fastest.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
def bench_track_command(clip, models, objects, min_frames, warmup, device, threads, params, best_of, as_json):
    """``attentrack bench track``: frames/s and peak memory of decoding, the pipeline and each model on one clip."""
    from attentrack.datasets.paths import data_root
    from attentrack.tracker.sources import open_source

    if clip is None:
        root = data_root()
        if root is None:
            raise InputError("no CLIP given and no data folder found")
        clip = str(root / "mot15" / "TUD-Campus" / "TUD-Campus.mp4")
    source = open_source(clip)
    if source.live or not source.frame_count:
        raise InputError("bench needs a file or folder with a known number of frames")
    repeats = max(1, int(np.ceil((min_frames + warmup) / source.frame_count)))
    base = {"clip": clip, "repeats": repeats, "device": device, "threads": threads, "params": {}, "warmup": warmup}
    configs = [(None, 0)] + [("static", n) for n in objects] + [(m, n) for m in models if m != "static" for n in objects]
    rows: list[BenchRow | None] = [None] * len(configs)
    for _ in range(best_of):  # rounds over all rows, so slow spells of the machine hit every row alike
        for i, (model, n) in enumerate(configs):
            job = {**base, "model": model, "objects": n,
                   "params": parse_params(params) if model not in (None, "static") else {}}
            frames, seconds, peak, warm, stages = measure(job)
            what = "decode only" if model is None else f"pipeline + {model}" if model == "static" else model
            row, old = BenchRow(what, n, frames, seconds, peak, warm, stages), rows[i]
            if old is not None:  # keep the fastest time and the highest peak memory
                row = row if row.fps > old.fps else old
                row = replace(row, peak_mb=max(peak, old.peak_mb))
            rows[i] = row
    decode_fps = rows[0].fps
    if as_json:
        click.echo(json.dumps([{**asdict(r), "fps": round(r.fps, 2), "ratio_to_decode": round(r.fps / decode_fps, 3)}
                               for r in rows], indent=1))
    else:
        best = f", best of {best_of} runs" if best_of > 1 else ""
        click.echo(f"clip: {clip} ({source.size[0]}x{source.size[1]}, {source.frame_count} frames x {repeats}), "
                   f"device {device}, {threads} threads{best}; frames/s after {warmup} warm-up frames")
        click.echo(format_rows(rows, decode_fps))
        stages = format_stages(rows)
        if stages:
            click.echo("\n" + stages)


bench_command = bench_group


#: the start-ups `bench startup` times: (row name, arguments after the interpreter)
STARTUP_COMMANDS = (
    ("python (bare interpreter)", ["-c", "pass"]),
    ("attentrack --help", ["-m", "attentrack", "--help"]),
    ("track --help", ["-c", "from attentrack.tools.cli import track_main; track_main(['--help'])"]),
)


def time_startup(args: list[str], runs: int) -> list[float]:
    """Wall seconds of ``runs`` fresh interpreters running ``python ARGS`` (each must exit 0).

    Raises:
        InputError: a run failed (its last line of stderr).
    """
    import time

    seconds = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, *args], capture_output=True, text=True)
        seconds.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            raise InputError(f"start-up run {' '.join(args)} failed: {last}")
    return seconds


@bench_group.command(
    "startup",
    help=(
        "Start-up time of the command line: `attentrack --help` and `track --help`, each in a fresh "
        "interpreter (median, fastest and slowest of --runs), beside a bare interpreter. The CLI "
        "imports subcommands, trackers, torch and OpenCV only when they run, so help stays fast.\n\n"
        "Example:\n\n  attentrack bench startup --runs 7"
    ),
)
@click.option("--runs", default=5, show_default=True, type=click.IntRange(min=1), help="Runs of each command.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
def bench_startup_command(runs, as_json):
    """``attentrack bench startup``: start-up time of the command line in fresh interpreters."""
    import statistics

    rows = []
    for what, args in STARTUP_COMMANDS:
        seconds = time_startup(args, runs)
        rows.append({"command": what, "runs": runs, "median_s": round(statistics.median(seconds), 3),
                     "min_s": round(min(seconds), 3), "max_s": round(max(seconds), 3)})
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    from attentrack.tracker.tables import markdown_lines

    click.echo("\n".join(markdown_lines(["command", "runs", "median s", "fastest s", "slowest s"],
                                        [(r["command"], str(r["runs"]), f"{r['median_s']:.3f}", f"{r['min_s']:.3f}",
                                          f"{r['max_s']:.3f}") for r in rows])))
