"""``attentrack train``: train models. ``train hart`` trains HART (:mod:`attentrack.tracker.hart.train`)."""

from __future__ import annotations

import json

import click

from attentrack.tools.lazy_group import LazyGroup
from attentrack.tools.options import SEED_OPTION, RegistryChoice
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import BACKBONES, GLIMPSE_READERS


@click.group("train", cls=LazyGroup, lazy_commands={
    "aligndraw": "attentrack.tools.generate_cmd:train_aligndraw_command",
    "caption-classifier": "attentrack.tools.generate_cmd:train_classifier_command",
    "digit-classifier": "attentrack.tools.saliency_cmd:digits_command",
    "draw": "attentrack.tools.generate_cmd:train_draw_command",
    "face": "attentrack.tools.face_cmd:train_face_command",
    "pedestrian-classifier": "attentrack.tools.saliency_cmd:pedestrian_command",
    "sqair": "attentrack.tools.sqair_cmd:train_sqair_command",
}, help="Train models.\n\nExample:\n\n\b\n  attentrack train hart --data ../shared/data/mot15/TUD-Stadtmitte --out runs/hart")
def train_group():
    """``attentrack train``: the training commands."""


@train_group.command(
    "hart",
    help=(
        "Train HART on real sequences (--data, repeatable) plus synthetic sequences of real "
        "object crops on real backgrounds (--assets), with a curriculum over sequence length. "
        "Writes OUT/checkpoint.pt every --checkpoint-every steps (atomically) and OUT/hart.pt "
        "at the end. For several processes use torchrun (gloo on CPU, nccl on GPUs):\n\n"
        "\b\n  torchrun --nproc_per_node 2 -m tools.train_cmd hart --data DIR --out OUT\n\n"
        "Example:\n\n\b\n"
        "  attentrack train hart --data ../shared/data/mot15/TUD-Stadtmitte --out runs/hart --steps 3000"
    ),
)
@click.option("--data", "data", multiple=True, type=click.Path(),
              help="Sequence folder (or folder of sequences) with ground truth; repeatable.")
@click.option("--out", "out", required=True, type=click.Path(), help="Output folder.")
@click.option("--assets", default="", show_default=False,
              help="Folder with faces/, digits/, video/, kitti/ for synthetic sequences "
                   "(default: the data folder; 'none' turns them off).")
@click.option("--steps", default=3000, show_default=True, type=click.IntRange(min=1))
@click.option("--tokens", default=160, show_default=True, type=click.IntRange(min=2), help="Frames per batch.")
@click.option("--min-length", default=5, show_default=True, type=click.IntRange(min=2))
@click.option("--max-length", default=30, show_default=True, type=click.IntRange(min=2))
@click.option("--iou-threshold", default=0.65, show_default=True, type=float, help="Training IoU that lengthens the sequences.")
@click.option("--lr", default=1e-3, show_default=True, type=float)
@click.option("--optimizer", type=click.Choice(["adam", "rmsprop"]), default="adam", show_default=True)
@click.option("--pretrain-fraction", default=0.3, show_default=True, type=float, help="Share of steps that are synthetic-heavy.")
@click.option("--real-fraction", default=0.5, show_default=True, type=float,
              help="Share of real sequences after the synthetic phase.")
@click.option("--sequence-share", type=click.Choice(["boxes", "equal"]), default="boxes", show_default=True,
              help="How real windows are shared among the --data sequences: in proportion to their "
                   "labelled boxes, or equally (so a sequence with many labelled people does not dominate).")
@click.option("--val-split", default=0.15, show_default=True, type=float,
              help="Share of boxes (whole tracks) kept for validation.")
@click.option("--val-every", default=250, show_default=True, type=click.IntRange(min=0))
@click.option("--checkpoint-every", default=250, show_default=True, type=click.IntRange(min=1))
@SEED_OPTION
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=0), help="Batch-generating processes.")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
@click.option("--stop-after", default=0, show_default=True, type=click.IntRange(min=0),
              help="Stop (and save) after this many steps of this run; continue later with --resume.")
@click.option("--max-minutes", default=0.0, show_default=True, type=float, help="Stop and save after this long (0: no limit).")
@click.option("--arch", type=click.Choice(["corr", "paper"]), default="corr", show_default=True,
              help="corr: with the template-correlation branch; paper: the paper's model.")
@click.option("--glimpse", default="gaussian", show_default=True, type=RegistryChoice(GLIMPSE_READERS), help="Glimpse reader.")
@click.option("--glimpse-size", default=48, show_default=True, type=click.IntRange(min=8))
@click.option("--backbone", default="small", show_default=True, type=RegistryChoice(BACKBONES), help="Backbone.")
@click.option("--backbone-weights", default="",
              help="Pretrained backbone state_dict .pt to start from (alexnet, resnet18: torchvision's; the "
                   "glimpses are then converted to RGB with ImageNet normalisation, --set glimpse_norm=imagenet, "
                   "unless --set says otherwise).")
@click.option("--init-weights", default="", type=click.Path(dir_okay=False),
              help="Fine-tune: start from these HART weights (their config, changed by --set; --arch, --glimpse, "
                   "--glimpse-size and --backbone are theirs). --set mask_code=N and --set dfn_hidden=UNITS add "
                   "layers that start as no change.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Other HARTConfig field, e.g. --set rnn_units=128.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def hart_command(data, out, assets, steps, tokens, min_length, max_length, iou_threshold, lr, optimizer,
                 pretrain_fraction, real_fraction, sequence_share, val_split, val_every, checkpoint_every, seed, threads,
                 workers, resume, stop_after, max_minutes, arch, glimpse, glimpse_size, backbone, backbone_weights,
                 init_weights, sets, no_progress):
    """``attentrack train hart``: train HART on real and synthetic sequences."""
    from attentrack.tracker.base import coerce_option
    from attentrack.tracker.hart.model import HARTConfig
    from attentrack.tracker.hart.train import TrainOptions, train

    config = {"arch": arch, "glimpse": glimpse, "glimpse_size": glimpse_size, "backbone": backbone,
              "att_input": arch == "paper"}
    if init_weights:
        from click.core import ParameterSource

        from attentrack.tracker.weights_file import load_weights

        ctx = click.get_current_context()
        given = [f"--{p.replace('_', '-')}" for p in ("arch", "glimpse", "glimpse_size", "backbone")
                 if ctx.get_parameter_source(p) is not ParameterSource.DEFAULT]
        if given:
            raise InputError(f"{', '.join(given)} cannot change the architecture of --init-weights; use --set")
        config = dict(load_weights(init_weights, expect="hart").config)
    types = {f: type(v) for f, v in HARTConfig().to_dict().items()}
    changes = {}
    for s in sets:
        name, sep, value = s.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in types:
            raise InputError(f"--set {s!r}: expected NAME=VALUE with NAME one of {', '.join(types)}")
        changes[name] = coerce_option(value, types[name], f"--set {name}")
    if backbone_weights and config.get("backbone") in PRETRAINED_IMAGENET and "glimpse_norm" not in changes:
        changes["glimpse_norm"] = "imagenet"
    config.update(changes)
    opts = TrainOptions(data=list(data), out=out, assets=assets, steps=steps, tokens=tokens,
                        min_length=min_length, max_length=max_length, iou_threshold=iou_threshold, lr=lr,
                        optimizer=optimizer, pretrain_fraction=pretrain_fraction, real_fraction=real_fraction,
                        sequence_share=sequence_share, val_split=val_split, val_every=val_every,
                        checkpoint_every=checkpoint_every, seed=seed,
                        threads=threads, workers=workers, resume=resume, backbone_weights=backbone_weights,
                        init_weights=init_weights,
                        config=config, progress=not no_progress, max_minutes=max_minutes,
                        stop_after=stop_after)
    summary = train(opts)
    if summary.get("weights"):
        click.echo(json.dumps(summary))


#: backbones whose pretrained weights (torchvision's) expect RGB glimpses with ImageNet normalisation
PRETRAINED_IMAGENET = ("alexnet", "resnet18")


def main(args=None) -> None:
    """``python -m attentrack.tools.train_cmd`` (for torchrun): the train group with one-line errors."""
    import sys

    from attentrack.tracker.errors import AttentrackError

    try:
        train_group.main(args=args, standalone_mode=False)
    except AttentrackError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
