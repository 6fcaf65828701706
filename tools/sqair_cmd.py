"""SQAIR commands: ``train sqair``, ``eval sqair`` (Moving MNIST), ``eval sqair-cctv``
(TUD pedestrians, against the MOG2 + IoU baseline) and ``bench sqair`` (frames/s).

The ``train``, ``eval`` and ``bench`` groups import them by name when they are first needed
(:class:`attentrack.tools.lazy_group.LazyGroup`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from attentrack.tools.options import SEED_OPTION, THREADS_OPTION
from attentrack.tracker.errors import InputError

DEFAULT_CCTV = ("mot15/TUD-Campus", "mot15/TUD-Stadtmitte")


#: training digits held out for ``train sqair --validate``
VALIDATION_DIGITS = 500


def _held_out(digits):
    """``(training, validation)``: the training digits split as ``train sqair --validate``
    and ``eval sqair --digits validation`` split them (the last :data:`VALIDATION_DIGITS`
    are held out)."""
    return digits[:-VALIDATION_DIGITS], digits[-VALIDATION_DIGITS:]


def _parse_sets(sets: tuple[str, ...]) -> dict:
    from attentrack.tracker.base import coerce_option
    from attentrack.tracker.sqair.config import SQAIRConfig

    out: dict = {}
    fields = SQAIRConfig.__dataclass_fields__
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep or name not in fields:
            raise InputError(f"--set needs NAME=VALUE with NAME one of {', '.join(fields)}; got {item!r}")
        out[name] = coerce_option(value.strip(), type(fields[name].default).__name__, f"--set {name}")
    return out


def _fine_tuned_start(path: str, changes: dict, seed: int = 0):
    """The SQAIR model of the weights at ``path`` with ``changes`` (``--set``) applied to its
    settings. ``glimpse_hidden`` may grow (the appearance path is widened without changing what
    the model computes, :func:`attentrack.tracker.sqair.widen.widen_appearance`); a learned
    discovery prior (``disc_prior``), a glimpse mask (``glimpse_mask``), the relation between
    propagated objects (``relational``) or a conditioned where prior (``where_prior``) may be
    added (they start at their initial values); other settings that change a layer's shape are
    refused."""
    from attentrack.tracker.sqair.config import SQAIRConfig
    from attentrack.tracker.sqair.model import SQAIR, addable, load_weights
    from attentrack.tracker.sqair.widen import widen_appearance

    loaded = load_weights(path)
    changes = dict(changes)
    if "glimpse_hidden" in changes:
        loaded = widen_appearance(loaded, int(changes.pop("glimpse_hidden")) or loaded.config.hidden, seed=seed)
    settings = {**loaded.config.to_dict(), **changes}
    model = SQAIR(SQAIRConfig.from_dict(settings))
    try:
        missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
        # a new discovery prior's or optional part's parameters start at their initial values;
        # anything else must fit
        if unexpected or not all(addable(k) for k in missing):
            raise RuntimeError
    except RuntimeError:
        shaped = sorted(k for k in changes if getattr(loaded.config, k) != settings[k])
        raise InputError(f"--set {', '.join(shaped)} changes the shape of the model in {path}; "
                         "only settings that keep its layers (or grow glimpse_hidden) can be changed "
                         "when fine-tuning") from None
    return model


@click.command(
    "sqair",
    help=(
        "Train SQAIR on Moving MNIST made from the 5k MNIST training digits (IWAE bound with "
        "K particles, VIMCO for the presences, sequences growing from --min-length to "
        "--max-length frames). Writes OUT/checkpoint.pt every --checkpoint-every steps "
        "(atomically) and OUT/sqair.pt at the end; --resume continues.\n\n"
        "Example:\n\n\b\n  attentrack train sqair --out runs/sqair --max-minutes 25 --threads 1"
    ),
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--data", default=None, type=click.Path(), help="Data folder with digits/ (default: the attentrack data folder).")
@click.option("--steps", default=4000, show_default=True, type=click.IntRange(min=1))
@click.option("--batch", default=8, show_default=True, type=click.IntRange(min=1), help="Sequences per step.")
@click.option("--particles", default=5, show_default=True, type=click.IntRange(min=1),
              help="K of the IWAE bound (at least 2: VIMCO, which trains the presences, needs another particle).")
@click.option("--lr", default=4e-4, show_default=True, type=float)
@click.option("--prior-lr", default=0.0, show_default=True, type=click.FloatRange(min=0.0),
              help="Learning rate of the learned discovery prior (--set disc_prior=categorical); 0: --lr.")
@click.option("--added-lr", default=0.0, show_default=True, type=click.FloatRange(min=0.0),
              help="Learning rate of the optional parts (--set glimpse_mask=true, relational=true, "
                   "where_prior=conditioned); 0: --lr.")
@click.option("--min-length", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--max-length", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--grow-every", default=120, show_default=True, type=click.IntRange(min=1),
              help="Steps between one-frame increases of the sequence length.")
@click.option("--checkpoint-every", default=50, show_default=True, type=click.IntRange(min=1))
@SEED_OPTION
@THREADS_OPTION
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
@click.option("--max-minutes", default=0.0, show_default=True, type=float, help="Stop and save after this long (0: no limit).")
@click.option("--stop-after", default=0, show_default=True, type=click.IntRange(min=0),
              help="Stop (and save) after this many steps of this run.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="A SQAIRConfig field, e.g. --set hidden=64.")
@click.option("--pretrain-steps", default=3000, show_default=True, type=click.IntRange(min=0),
              help="Before a fresh run: steps of pre-training the glimpse decoder and discovery encoder as a "
                   "VAE on whole training digits (0: none; not repeated on --resume).")
@click.option("--discovery-warmup", default=600, show_default=True, type=click.IntRange(min=0),
              help="Steps during which discovery runs only on each sequence's first frame, so that "
                   "propagation learns to follow objects (0: none).")
@click.option("--init-weights", default=None, type=click.Path(dir_okay=False),
              help="Fine-tune: start from these SQAIR weights (their settings, changed by --set; no "
                   "glimpse pre-training) instead of a new model.")
@click.option("--validate", "val_sequences", default=0, show_default=True, type=click.IntRange(min=0),
              help="Before the first step and every --validate-every steps, count the objects of this many "
                   "Moving MNIST sequences made from the --validate-digits; OUT/best.pt keeps the weights that "
                   "counted best (0: no validation, all 5,000 digits train).")
@click.option("--validate-every", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--validate-digits", type=click.Choice(["held-out", "opencv"]), default="held-out", show_default=True,
              help="Digits of the --validate sequences: held-out (the last 500 training digits, kept out of "
                   "training) or opencv (the 5,000 digits of OpenCV's sample sheet; all training digits train). "
                   "Weights trained earlier on the held-out digits count them too well; opencv's were never "
                   "trained on.")
@click.option("--augment", is_flag=True,
              help="Change every training digit's shape at random (rotation, size, slant, stroke width; "
                   "attentrack.datasets.moving_mnist.DigitAugment) so the model sees more handwriting than 5,000 digits.")
@click.option("--overlap", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Probability that a sequence's second digit starts on top of its first (more occluded "
                   "digits to learn to tell apart; 0: independent starts, as in the original).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train_sqair_command(out, data, steps, batch, particles, lr, prior_lr, added_lr, min_length, max_length, grow_every,
                        checkpoint_every, seed, threads, resume, max_minutes, stop_after, sets, pretrain_steps,
                        discovery_warmup, init_weights, val_sequences, validate_every, validate_digits, augment,
                        overlap, no_progress):
    """``attentrack train sqair``: train SQAIR on Moving MNIST."""
    from attentrack.datasets.moving_mnist import DigitAugment, load_digits
    from attentrack.tracker.sqair.pretrain import GlimpsePretrainOptions, pretrain_glimpses
    from attentrack.tracker.sqair.train import (
        TrainOptions,
        check_particles,
        moving_mnist_batches,
        moving_mnist_validator,
        train,
    )

    check_particles(particles)  # before loading anything
    config = _parse_sets(sets)
    model = None
    if init_weights:
        model = _fine_tuned_start(init_weights, config, seed)
        config = model.config.to_dict()
        pretrain_steps = 0
    opts = TrainOptions(out=out, steps=steps, batch=batch, particles=particles, lr=lr, prior_lr=prior_lr,
                        added_lr=added_lr, min_length=min_length, max_length=max_length, grow_every=grow_every,
                        checkpoint_every=checkpoint_every,
                        log_every=10, seed=seed, threads=threads, resume=resume, max_minutes=max_minutes,
                        stop_after=stop_after, progress=not no_progress, config=config,
                        discovery_warmup=discovery_warmup, validate_every=validate_every)
    canvas = config.get("width", 50)
    if config.get("height", canvas) != canvas:
        raise InputError("Moving MNIST needs a square canvas (height = width)")
    digits = load_digits("train", data)
    validate = None
    if val_sequences:
        if validate_digits == "opencv":
            held_out = load_digits("opencv", data)
        else:
            digits, held_out = _held_out(digits)
        validate = moving_mnist_validator(held_out, val_sequences, canvas=canvas)
    pretraining: dict = {}

    def pretrain(model) -> None:  # a fresh run only: a resumed one has its checkpoint's weights
        pretraining.update(pretrain_glimpses(model, digits, GlimpsePretrainOptions(steps=pretrain_steps, seed=seed)))

    batches = moving_mnist_batches(canvas=canvas, digits=digits, augment=DigitAugment() if augment else None,
                                   overlap=overlap)
    summary = train(opts, batches, model=model,
                    fresh_start=pretrain if pretrain_steps else None, validate=validate)
    if init_weights:
        summary["init_weights"] = str(init_weights)
    summary["pretrain_steps"] = pretrain_steps
    if pretraining:
        summary["glimpse_pretraining"] = pretraining
    click.echo(json.dumps(summary))


@click.command(
    "sqair",
    help=(
        "Score SQAIR on held-out Moving MNIST made from the official MNIST test digits "
        "(never seen in training): counting accuracy (share of frames with the right number "
        "of objects), the IWAE log-likelihood bound, and MOTA / IDF1 / ID switches / HOTA of "
        "the inferred tracks against the generated boxes. --digits validation scores the 500 "
        "training digits that `train sqair --validate` holds out instead (for choosing among "
        "weights without looking at the test digits).\n\n"
        "Example:\n\n\b\n  attentrack eval sqair --sequences 500"
    ),
)
@click.option("--weights", default=None, type=click.Path(dir_okay=False), help="SQAIR weights (default: the shipped ones).")
@click.option("--data", default=None, type=click.Path(), help="Data folder with digits/ (default: the attentrack data folder).")
@click.option("--sequences", default=500, show_default=True, type=click.IntRange(min=1))
@click.option("--frames", "n_frames", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--particles", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=1234, show_default=True, type=int, help="Seed of the test sequences and of the samples.")
@THREADS_OPTION
@click.option("--digits", "digit_set", type=click.Choice(["test", "validation", "opencv"]), default="test",
              show_default=True,
              help="test: the official MNIST test digits; validation: the training digits held out by "
                   "`train sqair --validate`; opencv: the 5,000 digits of OpenCV's sample sheet (never trained on "
                   "by `train sqair`).")
@click.option("--online", is_flag=True,
              help="Also score what the streaming tracker (track --model sqair -p mode=intensity -p particles=K) "
                   "reports frame by frame, with the same --particles (1: posterior means).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def eval_sqair_command(weights, data, sequences, n_frames, particles, seed, threads, digit_set, online, as_json):
    """``attentrack eval sqair``: counting and tracking scores of SQAIR on held-out Moving MNIST."""
    import torch

    from attentrack.datasets.moving_mnist import load_digits
    from attentrack.tracker.sqair.evaluate import evaluate_moving_mnist
    from attentrack.tracker.sqair.model import load_weights
    from attentrack.tracker.trackers.sqair import SHIPPED_WEIGHTS

    torch.set_num_threads(threads)
    torch.manual_seed(seed)  # the particles' samples: same seed, same table
    model = load_weights(weights or SHIPPED_WEIGHTS)
    if model.config.height != model.config.width:
        raise InputError(f"{weights}: Moving MNIST needs a square canvas model")
    digits = _held_out(load_digits("train", data))[1] if digit_set == "validation" else load_digits(digit_set, data)
    result = evaluate_moving_mnist(model, digits, sequences=sequences, n_frames=n_frames,
                                   particles=particles, seed=seed, online=online)
    click.echo(result.to_json() if as_json else result.format_table())


def _track_sequence(tracker, video: Path, fit: bool, out_dir: Path, progress: bool):
    """Run one tracker over a video (after fitting it there when ``fit``); return (MOT rows,
    frames, seconds of tracking, the fitted weights' path or None)."""
    import numpy as np

    from attentrack.datasets.mot import MotRows
    from attentrack.tracker.sources import open_source

    fitted = tracker.fit(str(video), out_dir, progress=progress) if fit else None
    frames, ids, boxes = [], [], []
    n = 0
    t0 = time.perf_counter()
    for index, frame in open_source(str(video)):
        tracks = tracker.start(frame, np.zeros((0, 4))) if index == 0 else tracker.update(frame)
        tracks = tracks or []
        for t in tracks:
            frames.append(index + 1)
            ids.append(t.track_id)
            boxes.append(t.box)
        n += 1
    seconds = time.perf_counter() - t0
    if n == 0:
        raise InputError(f"{video}: the video has no frames")
    rows = MotRows(np.asarray(frames, int), np.asarray(ids, int), np.asarray(boxes, float).reshape(-1, 4),
                   np.ones(len(frames)), -np.ones((len(frames), 3)))
    return rows, n, seconds, fitted


def _find_video(seq: Path) -> Path:
    videos = sorted(p for p in seq.glob("*") if p.suffix.lower() in (".mp4", ".avi", ".mkv", ".mov"))
    if (seq / "img1").is_dir():
        return seq / "img1"
    if not videos:
        raise InputError(f"{seq}: no video file or img1/ folder")
    return videos[0]


@click.command(
    "sqair-cctv",
    help=(
        "Fit SQAIR without labels on each static-camera sequence (track --model sqair --fit) "
        "and score it against the ground truth (pedestrians; the labels are used only for "
        "scoring), side by side with the MOG2 blobs + IoU baseline (`blobs`): MOTA, IDF1, "
        "HOTA, ID switches, frames/s. `sqair-reuse` tracks the video again as `track --weights "
        "FITTED` would, streaming from the fitted weights and the camera background saved with "
        "them.\n\n"
        "SEQUENCE is a MOTChallenge folder with gt/gt.txt and a video (default: TUD-Campus "
        "and TUD-Stadtmitte from the data folder). --zoom-out F scores a wider view of each "
        "sequence instead: every frame shrunk F times into a static surround of the scene "
        "(datasets.wide_view; people F times smaller, as from a distant camera); the baseline "
        "sizes its blobs by the objects it sees, so it needs no change for a wider view.\n\n"
        "Example:\n\n\b\n  attentrack eval sqair-cctv --fit-steps 600 --out runs/sqair_cctv"
    ),
)
@click.argument("sequences", nargs=-1, type=click.Path(), metavar="[SEQUENCE...]")
@click.option("--out", default="runs/sqair_cctv", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the fitted weights (resumable) and the result files.")
@click.option("--fit-steps", default=600, show_default=True, type=click.IntRange(min=1))
@click.option("--fit-minutes", default=0.0, show_default=True, type=float, help="Stop each fit after this long (0: no limit).")
@THREADS_OPTION
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="An option of the sqair tracker.")
@click.option("-b", "--baseline-param", "baseline_params", multiple=True, metavar="NAME=VALUE",
              help="An option of the blobs baseline (e.g. max_age=5).")
@click.option("--zoom-out", default=1.0, show_default=True, type=click.FloatRange(min=1.0),
              help="Score a view of each sequence this many times wider (1: the video as recorded).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def eval_cctv_command(sequences, out, fit_steps, fit_minutes, threads, params, baseline_params, zoom_out, as_json,
                      no_progress):
    """``attentrack eval sqair-cctv``: SQAIR fitted without labels to static-camera sequences, scored."""
    import torch

    from attentrack.datasets.mot import read_mot, write_mot
    from attentrack.datasets.paths import data_root
    from attentrack.tools.options import parse_params
    from attentrack.tracker.base import create_tracker
    from attentrack.tracker.metrics.mot import evaluate_mot
    from attentrack.tracker.protocols.pipelines import wide_view_sequence

    torch.set_num_threads(threads)
    blob_opts = parse_params(baseline_params)
    create_tracker("blobs", blob_opts)  # a bad baseline option fails here, as one line
    if not sequences:
        root = data_root(required=True)
        sequences = tuple(str(root / s) for s in DEFAULT_CCTV)
    out_dir = Path(out)
    names = ("blobs", "sqair", "sqair-reuse")
    gts, preds, speed = {}, {k: {} for k in names}, {k: [0, 0.0] for k in names}
    for seq in map(Path, sequences):
        gt_file = seq / "gt" / "gt.txt"
        if not gt_file.is_file():
            raise InputError(f"{seq}: no gt/gt.txt")
        video = _find_video(seq)
        gts[seq.name] = read_mot(gt_file, min_confidence=1)
        seq_out = out_dir / seq.name
        if zoom_out > 1:
            video, gts[seq.name] = wide_view_sequence(video, gts[seq.name], zoom_out,
                                                      out_dir / f"{seq.name}-wide{zoom_out:g}")
            seq_out = video.parent
        opts = {**parse_params(params), "fit_steps": str(fit_steps), "fit_minutes": str(fit_minutes)}
        fitted = None
        for name in names:
            if name == "blobs":
                tracker, fit = create_tracker("blobs", blob_opts), False
            elif name == "sqair":
                tracker, fit = create_tracker("sqair", opts), True
            else:  # a fresh tracker from what the fit saved, as a later `track --weights` run
                tracker, fit = create_tracker("sqair", {**opts, "weights": str(fitted)}), False
            rows, n, secs, weights = _track_sequence(tracker, video, fit, seq_out, not no_progress)
            fitted = weights or fitted
            write_mot(seq_out / f"{name}.txt", rows)
            preds[name][seq.name] = rows
            speed[name][0] += n
            speed[name][1] += secs
    results = {name: evaluate_mot(gts, p) for name, p in preds.items()}
    table = []
    for name, ev in results.items():
        for row in ev.rows:
            table.append({"model": name, "sequence": row.sequence, "mota": row.mota, "idf1": row.idf1,
                          "hota": row.hota, "idsw": row.idsw, "fp": row.fp, "fn": row.fn,
                          "fps": speed[name][0] / max(speed[name][1], 1e-9)})
    if as_json:
        click.echo(json.dumps(table, indent=1))
        return
    head = f"{'model':<11} {'sequence':<16} {'MOTA':>7} {'IDF1':>6} {'HOTA':>6} {'IDSW':>5} {'FP':>6} {'FN':>6} {'frames/s':>9}"
    click.echo(head)
    click.echo("-" * len(head))
    for r in table:
        click.echo(f"{r['model']:<11} {r['sequence']:<16} {r['mota']:>7.3f} {r['idf1']:>6.3f} {r['hota']:>6.3f} "
                   f"{r['idsw']:>5d} {r['fp']:>6d} {r['fn']:>6d} {r['fps']:>9.1f}")


@click.command(
    "sqair",
    help=(
        "Frames/s of SQAIR inference on a CCTV clip at the model's canvas resolution: "
        "foreground extraction plus one propagate + discover step per frame (no video "
        "writing), with and without the MOG2 foreground.\n\n"
        "Example:\n\n\b\n  attentrack bench sqair ../shared/data/mot15/TUD-Campus/TUD-Campus.mp4 --weights cam.pt"
    ),
)
@click.argument("clip", required=False)
@click.option("--weights", default=None, type=click.Path(dir_okay=False),
              help="Fitted CCTV weights (default: an unfitted model of the CCTV size; speed does not depend on the weights).")
@click.option("--min-frames", default=200, show_default=True, type=click.IntRange(min=1))
@THREADS_OPTION
@click.option("--particles", multiple=True, type=click.IntRange(min=1), default=(1,), show_default=True,
              help="Samples the tracker follows (-p particles; 1: posterior means); repeat for one row each.")
@click.option("--json", "as_json", is_flag=True)
def bench_sqair_command(clip, weights, min_frames, threads, particles, as_json):
    """``attentrack bench sqair``: frames/s of SQAIR inference on a CCTV clip."""
    import numpy as np
    import torch

    from attentrack.datasets.paths import data_root
    from attentrack.tracker.sqair.cctv.canvas import ForegroundCanvas
    from attentrack.tracker.sqair.cctv.config import cctv_config
    from attentrack.tracker.sqair.cctv.tracking import CanvasTracker
    from attentrack.tracker.sqair.cctv.videos import read_frames
    from attentrack.tracker.sqair.model import SQAIR, load_weights

    torch.set_num_threads(threads)
    if clip is None:
        clip = str(data_root(required=True) / "mot15" / "TUD-Campus" / "TUD-Campus.mp4")
    frames = read_frames(clip)
    model = load_weights(weights) if weights else SQAIR(cctv_config()).eval()
    c = model.config
    fg = ForegroundCanvas(c.width, c.height, "mog2")
    repeats = max(1, int(np.ceil(min_frames / len(frames))))
    canvases = []
    t0 = time.perf_counter()
    for _ in range(repeats):
        for f in frames:
            canvases.append(fg(f))
    t_fg = time.perf_counter() - t0
    n = len(canvases)
    rows = []
    for k in particles:
        runner = CanvasTracker(model, particles=k)
        t0 = time.perf_counter()
        for cv in canvases:
            runner.step(cv)
        t_model = time.perf_counter() - t0
        label = "posterior means" if k == 1 else f"{k} particles"
        rows += [{"what": f"sqair model only ({c.width}x{c.height} canvas, {c.max_objects} slots, {label})",
                  "frames": n, "fps": n / t_model},
                 {"what": f"mog2 foreground + sqair ({label})", "frames": n, "fps": n / (t_model + t_fg)}]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    h, w = frames[0].shape[:2]
    click.echo(f"clip: {clip} ({w}x{h}, {len(frames)} frames x {repeats}), cpu, {threads} threads")
    head = f"{'configuration':<68} {'frames':>7} {'frames/s':>9}"
    click.echo(head)
    click.echo("-" * len(head))
    for r in rows:
        click.echo(f"{r['what']:<68} {r['frames']:>7} {r['fps']:>9.1f}")
