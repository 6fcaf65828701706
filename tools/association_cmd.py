"""``attentrack eval association``: identity keeping on degraded ground truth (issue 27's protocol)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from attentrack.tools.options import config_option
from attentrack.tracker.errors import InputError

if TYPE_CHECKING:  # (datasets.mot is imported when a command runs, not for --help)
    from attentrack.datasets.mot import MotRows

#: the sequences scored when none are given (folders of the data folder)
DEFAULT_SEQUENCES = ("mot15/TUD-Campus", "mot15/TUD-Stadtmitte")


def _video_in(folder: Path) -> Path:
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mp4", ".avi", ".mkv", ".mov"))
    if videos:
        return videos[0]
    for frames in ("img1", "img"):
        if (folder / frames).is_dir():
            return folder / frames
    raise InputError(f"{folder}: no video file and no img1/ or img/ folder")


def labelled_sequences(folders) -> list[tuple[str, Path, MotRows]]:
    """``(name, video or image folder, ground truth)`` of MOTChallenge sequence folders (each with
    ``gt/gt.txt`` and a video or ``img1/``; the data folder's TUD-Campus and TUD-Stadtmitte when
    ``folders`` is empty), the ground truth without its "ignore" rows.

    Raises:
        InputError: a folder without ground truth, frames, or ground-truth rows.
    """
    from attentrack.datasets.mot import read_mot
    from attentrack.datasets.paths import data_root

    if not folders:
        root = data_root(required=True)
        folders = tuple(str(root / s) for s in DEFAULT_SEQUENCES)
    seqs = []
    for folder in map(Path, folders):
        gt_file = folder / "gt" / "gt.txt"
        if not gt_file.is_file():
            raise InputError(f"{folder}: no gt/gt.txt")
        gt = read_mot(gt_file, min_confidence=1)
        if not len(gt):
            raise InputError(f"{gt_file}: no ground-truth rows")
        seqs.append((folder.name, _video_in(folder), gt))
    return seqs


@click.command(
    "association",
    help=(
        "Identity keeping apart from detection: each sequence's ground truth is degraded as a real "
        "detector would see it (a seeded share of boxes dropped, boxes jittered, false positives added) "
        "and fed to the multi-object runner (attentrack.tracker.runner) and to a plain IoU tracker "
        "(Hungarian matching at IoU >= 0.3, no motion, no memory); prints IDF1, MOTA, HOTA, AssA and ID "
        "switches of both, per view and seed, and their mean.\n\n"
        "SEQ is a MOTChallenge folder with gt/gt.txt and a video or img1/ (default: TUD-Campus and "
        "TUD-Stadtmitte from the data folder). --zoom-out F also scores an F-times wider view (people F "
        "times smaller).\n\n"
        "Example:\n\n  attentrack eval association --zoom-out 1 --zoom-out 2 --zoom-out 3 --seeds 3"
    ),
)
@click.argument("sequences", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--zoom-out", "zooms", multiple=True, type=click.FloatRange(min=1.0),
              help="View(s) to score (repeatable; default 1).")
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(min=1), help="Draws of degraded detections.")
@click.option("--drop", default=0.2, show_default=True, type=click.FloatRange(0, 1), help="Share of boxes missed.")
@click.option("--jitter", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="Noise on position and size, as a fraction of the box's size.")
@click.option("--false-positives", default=0.1, show_default=True, type=click.FloatRange(0, 10),
              help="False boxes added, as a fraction of the kept true ones.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A runner setting (attentrack.tracker.runner.RunnerSettings), e.g. -p max_lost=60.")
@click.option("--frame-step", default=1, show_default=True, type=click.IntRange(min=1),
              help="Use every N-th frame only, as a camera recording N times fewer frames a second.")
@config_option({"runner": "-p"})
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def association_command(sequences, zooms, seeds, drop, jitter, false_positives, params, frame_step, config_file,
                        as_json):
    """``attentrack eval association``: identity keeping on degraded ground-truth detections."""
    from attentrack.tools.options import parse_params, read_config
    from attentrack.tracker.protocols.association import IOU_TRACKER, DegradeOptions, association_protocol
    from attentrack.tracker.runner import RunnerSettings
    from attentrack.tracker.tables import markdown_lines

    settings = RunnerSettings.from_options({**read_config(config_file, tables=("runner",))["runner"],
                                            **parse_params(params)})
    seqs = [(name, str(video), gt) for name, video, gt in labelled_sequences(sequences)]
    results = association_protocol(seqs, {"runner": settings, "iou": RunnerSettings(**IOU_TRACKER)},
                                   zooms=tuple(zooms) or (1.0,), seeds=tuple(range(seeds)),
                                   degrade=DegradeOptions(drop, jitter, false_positives), frame_step=frame_step)
    rows = [{"pipeline": r.pipeline, "zoom": r.zoom, "seed": r.seed, "fps": r.fps,
             **{k: getattr(r.evaluation.overall, k) for k in ("idf1", "mota", "hota", "assa", "idsw")},
             "sequences": {m.sequence: {"idf1": m.idf1, "mota": m.mota, "idsw": m.idsw} for m in r.evaluation.sequences}}
            for r in results]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    names = [s[0] for s in seqs]
    head = ["pipeline", "view", "seed", *[f"{n} IDF1" for n in names], "IDF1", "MOTA", "HOTA", "AssA", "IDsw", "frames/s"]
    cells = []
    for row in rows:
        cells.append([row["pipeline"], f"{row['zoom']:g}x", str(row["seed"]),
                      *[f"{row['sequences'][n]['idf1']:.3f}" for n in names],
                      *[f"{row[k]:.3f}" for k in ("idf1", "mota", "hota", "assa")], str(int(row["idsw"])),
                      f"{row['fps']:.0f}"])
    for pipeline in ("runner", "iou"):
        for zoom in tuple(zooms) or (1.0,):
            sel = [r for r in rows if r["pipeline"] == pipeline and r["zoom"] == zoom]
            cells.append([pipeline, f"{zoom:g}x", "mean", *[f"{sum(r['sequences'][n]['idf1'] for r in sel) / len(sel):.3f}"
                                                            for n in names],
                          *[f"{sum(r[k] for r in sel) / len(sel):.3f}" for k in ("idf1", "mota", "hota", "assa")],
                          f"{sum(r['idsw'] for r in sel) / len(sel):.1f}", f"{sum(r['fps'] for r in sel) / len(sel):.0f}"])
    click.echo("\n".join(markdown_lines(head, cells)))
    rate = f"; 1 frame in {frame_step}" if frame_step > 1 else ""
    click.echo(f"detections: ground truth with {drop:.0%} dropped, {jitter:.0%} jitter, "
               f"{false_positives:.0%} false positives{rate}; COMBINED over {', '.join(names)}")
