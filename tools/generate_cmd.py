"""``attentrack generate``, ``train draw|aligndraw|caption-classifier`` and ``eval draw|aligndraw``:
the commands of the attention-based generative models (:mod:`generative`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from attentrack.tools.options import DATA_OPTION, SEED_OPTION, THREADS_OPTION
from attentrack.tracker.errors import InputError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "generative" / "weights"


def _common_train_options(steps: int, lr: float = 1e-3):
    """Options shared by the ``train`` commands of this module (with the defaults of ``--steps`` and ``--lr``)."""
    opts = [
        click.option("--out", required=True, type=click.Path(), help="Output folder (checkpoint.pt, weights, log.jsonl)."),
        click.option("--data", default="", type=click.Path(),
                     help="Data folder holding digits/ (default: the attentrack data folder)."),
        click.option("--steps", default=steps, show_default=True, type=click.IntRange(min=1)),
        click.option("--batch", default=64, show_default=True, type=click.IntRange(min=1)),
        click.option("--lr", default=lr, show_default=True, type=float),
        click.option("--seed", default=0, show_default=True, type=int),
        click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1)),
        click.option("--checkpoint-every", default=250, show_default=True, type=click.IntRange(min=1)),
        click.option("--val-every", default=500, show_default=True, type=click.IntRange(min=0)),
        click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt."),
        click.option("--max-minutes", default=0.0, show_default=True, type=float,
                     help="Stop and save after this long (0: no limit)."),
        click.option("--stop-after", default=0, show_default=True, type=click.IntRange(min=0),
                     help="Stop (and save) after this many steps of this run; continue later with --resume."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
    ]
    def decorate(f):
        for o in reversed(opts):
            f = o(f)
        return f

    return decorate


def _draw_options(read_n: int, write_n: int, kl_warmup: int, glimpses: int = 12, units: int = 192, latent: int = 50):
    """The model options of ``train draw`` and ``train aligndraw`` (with their defaults)."""
    opts = [
        click.option("--glimpses", "steps_t", default=glimpses, show_default=True, type=click.IntRange(min=1), help="Steps T."),
        click.option("--read-n", default=read_n, show_default=True, type=click.IntRange(min=2), help="Read patch side N."),
        click.option("--write-n", default=write_n, show_default=True, type=click.IntRange(min=2), help="Write patch side N."),
        click.option("--units", default=units, show_default=True, type=click.IntRange(min=1),
                     help="Encoder and decoder LSTM units."),
        click.option("--latent", default=latent, show_default=True, type=click.IntRange(min=1), help="Size of z_t."),
        click.option("--kl-warmup", default=kl_warmup, show_default=True, type=click.IntRange(min=0),
                     help="Steps over which the KL weight rises linearly from 0 to 1 (0: none)."),
    ]

    def decorate(f):
        for o in reversed(opts):
            f = o(f)
        return f

    return decorate


def _run_training(kw: dict, build_task, extra: dict) -> None:
    """Seed torch (the initial weights follow ``--seed``), build the task, train, print the summary."""
    import torch

    from attentrack.generative.train import TrainOptions, train

    torch.manual_seed(kw["seed"])
    task = build_task()
    opts = TrainOptions(out=kw["out"], steps=kw["steps"], batch=kw["batch"], lr=kw["lr"], seed=kw["seed"],
                        threads=kw["threads"], checkpoint_every=kw["checkpoint_every"], val_every=kw["val_every"],
                        resume=kw["resume"], max_minutes=kw["max_minutes"], stop_after=kw["stop_after"],
                        progress=not kw["no_progress"], extra=extra)
    click.echo(json.dumps(train(task, opts)))


@click.command("draw", help=(
    "Train DRAW (Gaussian read and write attention) on the 5k MNIST training digits, binarised "
    "stochastically per batch; validates the bound on the first 1000 test digits. Writes "
    "OUT/checkpoint.pt every --checkpoint-every steps (atomically) and OUT/draw.pt at the end.\n\n"
    "Example:\n\n\b\n  attentrack train draw --out runs/draw --max-minutes 22"))
@_common_train_options(2400, 2e-3)
@_draw_options(read_n=2, write_n=5, kl_warmup=1000)
def train_draw_command(steps_t, read_n, write_n, units, latent, kl_warmup, **kw):
    """``attentrack train draw``: train DRAW on MNIST digits."""
    from attentrack.generative.draw import DRAWConfig
    from attentrack.generative.tasks import draw_task

    config = DRAWConfig(steps=steps_t, read_n=read_n, write_n=write_n, enc_units=units, dec_units=units, latent=latent)
    _run_training(kw, lambda: draw_task(config, kw["data"] or None, kl_warmup=kl_warmup), {"kl_warmup": kl_warmup})


@click.command("aligndraw", help=(
    "Train alignDRAW on MNIST-with-captions canvases (60x60, one or two digits) generated on the "
    "fly from the 5k MNIST training digits; held-out compositions never appear in training. "
    "Validates the bound on fixed canvases of test digits in held-out compositions. Writes "
    "OUT/checkpoint.pt every --checkpoint-every steps (atomically) and OUT/aligndraw.pt at the end.\n\n"
    "Example:\n\n\b\n  attentrack train aligndraw --out runs/aligndraw --steps 1500 --max-minutes 25"))
@_common_train_options(1500, 2e-3)
@_draw_options(read_n=8, write_n=8, kl_warmup=300)
@click.option("--lang-units", default=64, show_default=True, type=click.IntRange(min=1), help="Caption LSTM units per direction.")
@click.option("--two-digit-fraction", default=0.5, show_default=True, type=click.FloatRange(0, 1))
def train_aligndraw_command(steps_t, read_n, write_n, units, latent, lang_units, two_digit_fraction, kl_warmup, **kw):
    """``attentrack train aligndraw``: train alignDRAW on MNIST-with-captions canvases."""
    from attentrack.generative.aligndraw import AlignDRAWConfig
    from attentrack.generative.tasks import aligndraw_task

    config = AlignDRAWConfig(steps=steps_t, read_n=read_n, write_n=write_n, enc_units=units, dec_units=units,
                             latent=latent, lang_units=lang_units)
    _run_training(kw, lambda: aligndraw_task(config, kw["data"] or None, kl_warmup=kl_warmup,
                                             two_digit_fraction=two_digit_fraction),
                  {"kl_warmup": kl_warmup, "two_digit_fraction": two_digit_fraction})


@click.command("caption-classifier", help=(
    "Train the small convnet that reads generated canvases for alignDRAW's caption accuracy, on "
    "the 5k real MNIST training digits at random offsets in 32x32 cells; validates on the 10k "
    "test digits. Writes OUT/digit-classifier.pt.\n\n"
    "Example:\n\n\b\n  attentrack train caption-classifier --out runs/classifier --steps 1500"))
@_common_train_options(1500)
def train_classifier_command(**kw):
    """``attentrack train caption-classifier``: train the digit reader of alignDRAW's caption accuracy."""
    from attentrack.generative.classifier import ClassifierConfig, classifier_task

    _run_training(kw, lambda: classifier_task(ClassifierConfig(), kw["data"] or None), {})


def _weights(path: str, name: str) -> str:
    return path or str(WEIGHTS_DIR / name)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(header), "-" * (sum(widths) + 2 * (len(widths) - 1)), *map(line, rows)])


def _training_note(path: str) -> dict:
    """The training summary stored with the weights at ``path``."""
    from attentrack.tracker.weights_file import load_weights as read_weights

    return dict(read_weights(path).metadata.get("training") or {})


@click.command("draw", help=(
    "The variational bound (nats) of DRAW on the binarised MNIST test digits (stochastic "
    "binarisation with a fixed seed), with the shipped weights by default.\n\n"
    "Example:\n\n\b\n  attentrack eval draw\n  attentrack eval draw --count 1000 --json"))
@click.option("--weights", default="", type=click.Path(), help="DRAW weights (default: the shipped generative/weights/draw.pt).")
@DATA_OPTION
@click.option("--count", default=0, show_default=True, type=click.IntRange(min=0),
              help="First COUNT test digits (0: all 10,000).")
@click.option("--samples", default=1, show_default=True, type=click.IntRange(min=1), help="Posterior samples averaged per digit.")
@THREADS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def eval_draw_command(weights, data, count, samples, threads, as_json):
    """``attentrack eval draw``: DRAW's variational bound on the MNIST test digits."""
    import torch

    from attentrack.generative.data import binarise_fixed, official_test_digits, training_digits
    from attentrack.generative.evaluate import variational_bound
    from attentrack.generative.registry import load_weights

    torch.set_num_threads(threads)
    path = _weights(weights, "draw.pt")
    model = load_weights(path, expect="draw")
    test = binarise_fixed(official_test_digits(data or None, count)[0])
    train_x = binarise_fixed(training_digits(data or None)[0][:len(test)])
    res = variational_bound(model, test, samples=samples)
    res_train = variational_bound(model, train_x, samples=samples)
    if as_json:
        click.echo(json.dumps({"test": res.to_dict(), "train": res_train.to_dict(), "config": model.config.to_dict()}))
        return
    c = model.config
    note = _training_note(path)
    rows = [[f"MNIST test (first {res.images})" if count else "MNIST test (all)", res.images,
             f"{res.bound:.2f}", f"{res.reconstruction:.2f}", f"{res.kl:.2f}"],
            [f"MNIST 5k train (first {res_train.images})", res_train.images, f"{res_train.bound:.2f}",
             f"{res_train.reconstruction:.2f}", f"{res_train.kl:.2f}"]]
    click.echo(_table(["digits", "images", "-ELBO nats", "recon", "KL"], rows))
    click.echo(f"DRAW T={c.steps} read {c.read_n}x{c.read_n} write {c.write_n}x{c.write_n} LSTM {c.enc_units} "
               f"latent {c.latent}; trained {note.get('steps', '?')} steps x {note.get('batch', '?')} "
               f"in {note.get('seconds', '?')} s on the 5k training digits; {samples} posterior sample(s) per digit; "
               "paper (T=64, 256 units, 60k digits): <= 80.97")


@click.command("aligndraw", help=(
    "Caption accuracy of alignDRAW: images generated from captions of seen and held-out "
    "compositions are read by the shipped digit classifier at the captioned cells.\n\n"
    "Example:\n\n\b\n  attentrack eval aligndraw\n  attentrack eval aligndraw --images 100 --json"))
@click.option("--weights", default="", type=click.Path(),
              help="alignDRAW weights (default: the shipped generative/weights/aligndraw.pt).")
@click.option("--classifier", default="", type=click.Path(),
              help="Digit classifier (default: the shipped generative/weights/digit-classifier.pt).")
@DATA_OPTION
@click.option("--images", default=400, show_default=True, type=click.IntRange(min=1), help="Generated images per table row.")
@SEED_OPTION
@THREADS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def eval_aligndraw_command(weights, classifier, data, images, seed, threads, as_json):
    """``attentrack eval aligndraw``: caption accuracy of alignDRAW on seen and held-out compositions."""
    import torch

    from attentrack.generative.data import official_test_digits
    from attentrack.generative.evaluate import caption_accuracy
    from attentrack.generative.registry import load_weights

    torch.set_num_threads(threads)
    model = load_weights(_weights(weights, "aligndraw.pt"), expect="aligndraw")
    clf = load_weights(_weights(classifier, "digit-classifier.pt"), expect="digit-classifier")
    tx, ty = official_test_digits(data or None)
    rows = caption_accuracy(model, clf, tx, ty, images, seed)
    if as_json:
        click.echo(json.dumps({"rows": [r.to_dict() for r in rows], "config": model.config.to_dict()}))
        return
    names = {"one": "one digit", "two": "two digits", "train": "seen", "held_out": "held out"}
    click.echo(_table(["captions", "split", "compositions", "images", "alignDRAW acc", "position acc",
                       "real digits acc", "chance"],
                      [[names[r.kind], names[r.split], r.compositions, r.images, f"{r.generated:.3f}",
                        f"{r.generated_position:.3f}", f"{r.real:.3f}", f"{r.chance:.3f}"] for r in rows]))
    click.echo("acc: the classifier reads the captioned digit(s) in the captioned cell(s); position acc: the "
               "most-inked cell(s) are the captioned ones; real digits: test-digit canvases of the same captions")


@click.command("generate", help=(
    "Generate images with the attention models: from a caption with alignDRAW (MNIST with "
    "captions, 60x60), or digits with DRAW when no caption is given. -o writes a PNG (a grid "
    "when --samples > 1); --gif writes the canvas being drawn step by step with the write "
    "window in red.\n\n"
    "Example:\n\n\b\n"
    "  attentrack generate \"the digit seven is at the top right of the image\" -o out.png\n"
    "  attentrack generate \"the digit 3 is on the left of the digit 5\" -n 16 -o grid.png --gif draw.gif\n"
    "  attentrack generate -n 64 -o digits.png"))
@click.argument("caption", required=False)
@click.option("-o", "--output", required=True, type=click.Path(), help="PNG file to write.")
@click.option("-n", "--samples", default=1, show_default=True, type=click.IntRange(1, 400), help="Images (a grid when > 1).")
@click.option("--gif", "gif_path", default="", type=click.Path(), help="Also write an animated GIF of the drawing.")
@click.option("--weights", default="", type=click.Path(), help="Weights (default: the shipped alignDRAW or DRAW weights).")
@SEED_OPTION
@click.option("--scale", default=4, show_default=True, type=click.IntRange(1, 16), help="Pixel upscaling of the outputs.")
@click.option("--delay", default=150, show_default=True, type=click.IntRange(10, 10000), help="GIF milliseconds per step.")
def generate_command(caption, output, samples, gif_path, weights, seed, scale, delay):
    """``attentrack generate``: images from a caption (alignDRAW) or digits (DRAW), optionally animated."""
    import torch

    from attentrack.generative.gif import write_gif
    from attentrack.generative.registry import load_weights
    from attentrack.generative.render import drawing_frames, grid, to_uint8, upscale, write_png

    if not output.lower().endswith(".png"):
        raise InputError(f"-o {output}: the output must be a .png file")
    if gif_path and not gif_path.lower().endswith(".gif"):
        raise InputError(f"--gif {gif_path}: the animation must be a .gif file")
    gen = torch.Generator().manual_seed(seed)
    if caption is None:
        model = load_weights(_weights(weights, "draw.pt"), expect="draw")
        drawing = model.sample(samples, gen)
    else:
        from attentrack.datasets.mnist_captions import encode_captions

        tokens, lengths = encode_captions([caption] * samples)
        model = load_weights(_weights(weights, "aligndraw.pt"), expect="aligndraw")
        drawing = model.sample(torch.from_numpy(tokens), torch.from_numpy(lengths), gen)
    final = upscale(to_uint8(drawing.canvases[-1]), scale)
    write_png(output, final[0] if samples == 1 else grid(final))
    if gif_path:
        write_gif(gif_path, drawing_frames(drawing, scale), delay_ms=delay)
    click.echo(f"wrote {output}" + (f" and {gif_path}" if gif_path else ""))
