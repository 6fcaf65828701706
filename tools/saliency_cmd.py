"""Saliency commands: ``attentrack saliency`` (heat-map overlays), ``train pedestrian-classifier``
and ``train digit-classifier``, ``eval pointing`` (the pointing game) and ``bench saliency``.

The groups of :mod:`attentrack.tools.cli` import them by name when they are first needed
(:class:`attentrack.tools.lazy_group.LazyGroup`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from attentrack.tools.options import SALIENCY_CHOICE, SEED_OPTION, THREADS_OPTION
from attentrack.tracker.device import DEVICE_CHOICES
from attentrack.tracker.errors import InputError

METHOD_CHOICES = ["eb", "ceb", "grad", "gradcam"]
_VIDEO_EXT = (".mp4", ".avi")
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp")


@click.command(
    "saliency",
    help=(
        "Write a heat-map overlay of where a classifier looks for --target: an image for an "
        "image input, an annotated video for a video, folder or stream.\n\n"
        "Methods: eb (excitation backprop), ceb (contrastive EB), grad (plain gradient), "
        "gradcam (Grad-CAM). Classifiers: the shipped `pedestrian` (TUD pedestrians vs "
        "background, BGR frames) and `digits` (MNIST digits 0-9 on a dark canvas), or a .pt "
        "from `attentrack train pedestrian-classifier/digit-classifier`.\n\n"
        "Example:\n\n\b\n"
        "  attentrack saliency ../shared/data/mot15/TUD-Campus/TUD-Campus.mp4 --method ceb "
        "--target pedestrian -o campus_ceb.mp4"
    ),
)
@click.argument("source")
@click.option("--method", type=SALIENCY_CHOICE, default="ceb", show_default=True)
@click.option("--target", default=None, help="Class name or index (default: the classifier's last class).")
@click.option("--classifier", default="pedestrian", show_default=True, help="Shipped name (pedestrian, digits) or .pt.")
@click.option("--layer", default=None, help="Map layer (module name; default: `features`, or the input for grad).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="out.png (image) or out.mp4 (video).")
@click.option("--alpha", default=0.5, show_default=True, type=click.FloatRange(0, 1), help="Heat-map opacity.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after this many frames (videos).")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
def saliency_command(source, method, target, classifier, layer, output, alpha, max_frames, device, quiet):
    """``attentrack saliency``: a heat-map overlay of where a classifier looks for a class."""
    import cv2

    from attentrack.saliency.prior import SaliencyPrior
    from attentrack.tracker.atomic import AtomicPath
    from attentrack.tracker.draw import overlay_heatmap
    from attentrack.tracker.sources import open_source

    out = Path(output)
    ext = out.suffix.lower()
    if ext not in _IMAGE_EXT + _VIDEO_EXT:
        raise InputError(f"output must end in one of {', '.join(_IMAGE_EXT + _VIDEO_EXT)}; got {output}")
    prior = SaliencyPrior(classifier, method, target, layer=layer, device=device)
    grey = prior.model.config.in_channels == 1
    src = open_source(source)
    name = prior.model.config.classes[prior.target]

    def render(frame):
        x = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if grey else frame
        heat = prior.heat(x)
        img = overlay_heatmap(frame, heat, alpha)
        cv2.putText(img, f"{method} {name} p={prior.score:.2f}", (6, img.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
        return img

    frames = iter(src)
    t0 = time.perf_counter()
    n = 0
    if ext in _IMAGE_EXT:
        first = next(frames, None)
        if first is None:
            raise InputError(f"{source}: no frames")
        ap = AtomicPath(out)
        try:
            if not cv2.imwrite(str(ap.tmp), render(first[1])):
                raise InputError(f"cannot write {output}")
            ap.commit()
        except BaseException:
            ap.abort()
            raise
        n = 1
    else:
        from attentrack.tracker.sinks import VideoSink

        sink = VideoSink(out, src.fps, src.size)
        try:
            for index, frame in frames:
                if max_frames is not None and index >= max_frames:
                    break
                sink.write(index, render(frame), [])
                n += 1
            if n == 0:
                raise InputError(f"{source}: no frames were read")
        except BaseException:
            sink.abort()
            raise
        sink.close()
    if not quiet:
        click.echo(f"{src.name}: {n} frame(s), {method} of {name!r}, {(time.perf_counter() - t0) / n * 1000:.0f} ms/frame "
                   f"-> {out}")


def _train_command(task: str, cli_name: str, default_steps: int, about: str):
    @click.command(
        cli_name,
        help=(about + " Seeded and resumable (OUT/checkpoint.pt every --checkpoint-every steps, written "
              "atomically; batch t is drawn from the seed and t, so a resumed run matches an "
              "uninterrupted one). Writes OUT/" + task + ".pt at the end.\n\nExample:\n\n\b\n"
              f"  attentrack train {cli_name} --out runs/{task}"),
    )
    @click.option("--data", default=None, type=click.Path(), help="Data folder (default: ../shared/data or $ATTENTRACK_DATA).")
    @click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
    @click.option("--steps", default=default_steps, show_default=True, type=click.IntRange(min=1))
    @click.option("--batch", default=32, show_default=True, type=click.IntRange(min=2))
    @click.option("--lr", default=1e-3, show_default=True, type=float)
    @SEED_OPTION
    @THREADS_OPTION
    @click.option("--checkpoint-every", default=100, show_default=True, type=click.IntRange(min=1))
    @click.option("--val-every", default=100, show_default=True, type=click.IntRange(min=0))
    @click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
    @click.option("--max-minutes", default=0.0, show_default=True, type=float, help="Stop and save after this long.")
    @click.option("--stop-after", default=0, show_default=True, type=click.IntRange(min=0),
                  help="Stop (and save) after this many steps of this run; continue later with --resume.")
    @click.option("--no-progress", is_flag=True, help="No progress bar.")
    def command(data, out, steps, batch, lr, seed, threads, checkpoint_every, val_every, resume, max_minutes,
                stop_after, no_progress):
        from attentrack.datasets.paths import data_root
        from attentrack.saliency.train import TrainOptions, train_classifier

        root = Path(data) if data else data_root()
        if root is None:
            raise InputError("no data folder: pass --data or set ATTENTRACK_DATA")
        opts = TrainOptions(task=task, data=str(root), out=out, steps=steps, batch=batch, lr=lr, seed=seed,
                            threads=threads, resume=resume, checkpoint_every=checkpoint_every, val_every=val_every,
                            max_minutes=max_minutes, stop_after=stop_after, progress=not no_progress)
        result = train_classifier(opts)
        if result["finished"]:
            click.echo(f"{task}: {result['steps']} steps in {result['seconds']:.0f}s, validation accuracy "
                       f"{result['val_accuracy']:.3f} -> {result['weights']}")
        else:
            click.echo(f"{task}: stopped at step {result['steps']} ({result['weights']}); continue with --resume")

    return command


pedestrian_command = _train_command(
    "pedestrian", "pedestrian-classifier", 600,
    "Train the pedestrian-vs-background classifier on 96x96 patches of TUD-Stadtmitte frames 1-143 "
    "(half size; validation: frames 144-179; TUD-Campus is never used, it is the pointing game's test set).")
digits_command = _train_command(
    "digits", "digit-classifier", 1000,
    "Train the multi-label digit classifier on 72x72 canvases of 1-2 MNIST digits from mnist_5k.csv "
    "(4,500 digits; validation: the other 500; the t10k test digits are the pointing game's).")


@click.command(
    "pointing",
    help=(
        "The pointing game on real data: is the saliency map's maximum within 15 px of a box of "
        "the target class? Prints accuracy (%) per method and dataset (mean over classes), next "
        "to TorchRay's VOC07/VGG16 numbers for the ordering. Datasets: `pedestrian` (TUD-Campus "
        "frames, pedestrian classifier trained on TUD-Stadtmitte) and `digits` (canvases of 2-3 "
        "MNIST test digits).\n\nExample:\n\n\b\n  attentrack eval pointing"
    ),
)
@click.option("--data", default=None, type=click.Path(), help="Data folder (default: ../shared/data or $ATTENTRACK_DATA).")
@click.option("--dataset", "datasets", multiple=True, type=click.Choice(["pedestrian", "digits"]),
              default=("pedestrian", "digits"), show_default=True)
@click.option("-m", "--method", "methods", multiple=True, type=click.Choice(["eb", "ceb", "grad", "gradcam", "centre"]),
              default=("centre", "grad", "eb", "ceb", "gradcam"), show_default=True)
@click.option("--pedestrian-classifier", default="pedestrian", show_default=True, help="Shipped name or .pt.")
@click.option("--digit-classifier", default="digits", show_default=True, help="Shipped name or .pt.")
@click.option("--canvases", default=300, show_default=True, type=click.IntRange(min=1), help="Digit canvases.")
@click.option("--every", default=1, show_default=True, type=click.IntRange(min=1), help="Use every N-th TUD-Campus frame.")
@click.option("--layer", default=None, help="Map layer for eb/ceb/gradcam (default: features).")
@THREADS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
def pointing_command(data, datasets, methods, pedestrian_classifier, digit_classifier, canvases, every, layer, threads,
                     as_json):
    """``attentrack eval pointing``: the pointing game of each saliency method on real data."""
    from attentrack.datasets.paths import data_root
    from attentrack.saliency.data import digits_evaluation, pedestrian_evaluation
    from attentrack.saliency.models import load_classifier
    from attentrack.saliency.pointing import format_table, pointing_game, torch_threads

    root = Path(data) if data else data_root()
    if root is None or not root.is_dir():
        raise InputError("no data folder: pass --data or set ATTENTRACK_DATA")
    prev = torch_threads(threads)
    rows = {}
    try:
        for ds in datasets:
            if ds == "pedestrian":
                model = load_classifier(pedestrian_classifier)
                items, name = pedestrian_evaluation(root, every), "TUD-Campus pedestrian"
            else:
                model = load_classifier(digit_classifier)
                items, name = digits_evaluation(root, canvases), "MNIST canvases"
            rows[name] = pointing_game(model, items, list(methods), name, layer=layer)
    finally:
        torch_threads(prev)
    if as_json:
        click.echo(json.dumps({n: {m: r.to_dict() for m, r in res.items()} for n, res in rows.items()}, indent=1))
    else:
        click.echo(format_table(rows, list(methods)))


@click.command(
    "saliency",
    help=(
        "Time per saliency map for a --size x --size input on torchvision-layout networks "
        "(random weights) on CPU, relative to one plain forward+backward pass to the input "
        "(the row `fwd+bwd (weights)` also computes every weight's gradient, as training does).\n\n"
        "Example:\n\n\b\n  attentrack bench saliency --arch vgg16 --arch resnet50"
    ),
)
@click.option("--arch", "archs", multiple=True, type=click.Choice(["vgg16", "resnet50", "googlenet", "resnet18"]),
              default=("vgg16", "resnet50"), show_default=True)
@click.option("-m", "--method", "methods", multiple=True, type=click.Choice(METHOD_CHOICES),
              default=tuple(METHOD_CHOICES), show_default=True)
@click.option("--size", default=224, show_default=True, type=click.IntRange(min=32))
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(min=1), help="Timed rounds (median).")
@THREADS_OPTION
@click.option("--json", "as_json", is_flag=True)
def bench_saliency_command(archs, methods, size, repeats, threads, as_json):
    """``attentrack bench saliency``: time per saliency map relative to a forward and backward pass."""
    import torch

    from attentrack.saliency.models import ARCHITECTURES

    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        torch.manual_seed(0)
        x = torch.randn(1, 3, size, size)
        for arch in archs:  # each network is freed before the next one is built
            rows += _network_rows(arch, ARCHITECTURES[arch]().eval(), x, methods, repeats)
    finally:
        torch.set_num_threads(prev)
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    click.echo(f"input 1x3x{size}x{size}, CPU, {threads} thread(s), median of {repeats} interleaved rounds")
    head = f"{'network':<10} {'method':<17} {'ms/map':>9} {'x fwd+bwd (input)':>18}"
    click.echo(head + "\n" + "-" * len(head))
    for r in rows:
        click.echo(f"{r['arch']:<10} {r['method']:<17} {r['ms']:>9.1f} {r['ratio']:>18.2f}")


def _network_rows(arch: str, model, x, methods, repeats: int) -> list[dict]:
    """One row per timed function for ``model`` on the ``(1, 3, H, W)`` input ``x``: the plain
    forward+backward passes and each saliency method, in milliseconds and relative to the pass to
    the input."""
    import torch

    from attentrack.saliency import saliency

    def to_input():
        xi = x.clone().requires_grad_(True)
        torch.autograd.grad(model(xi)[0, 0], xi)

    def with_weights():
        xi = x.clone().requires_grad_(True)
        model(xi)[0, 0].backward()
        model.zero_grad(set_to_none=True)

    fns = {"fwd+bwd (input)": to_input, "fwd+bwd (weights)": with_weights}
    fns.update({m: (lambda m=m: saliency(model, x, 0, method=m)) for m in methods})
    times = _interleaved_times(fns, repeats)
    base = times["fwd+bwd (input)"]
    return [{"arch": arch, "method": k, "ms": t * 1000, "ratio": t / base} for k, t in times.items()]


def _interleaved_times(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each function; one warm-up each, then ``repeats`` rounds that run every
    function once (so a change of machine load touches all of them alike)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}
