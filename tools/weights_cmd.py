"""``attentrack weights info FILE`` and ``attentrack weights upgrade OLD NEW``: weights files
(:mod:`attentrack.tracker.weights_file`)."""

from __future__ import annotations

import json

import click


@click.group("weights", help=(
    "Inspect and convert weights files (the one format every model reads).\n\nExample:\n\n\b\n"
    "  attentrack weights info tracker/weights/hart.pt\n"
    "  attentrack weights upgrade old_hart.pt hart.pt"))
def weights_group():
    """``attentrack weights``: inspect and convert weights files."""


def _plain(value):
    """``value`` for JSON: tensors as ``tensor(dtype, shape)``."""
    import torch

    if isinstance(value, torch.Tensor):
        return f"tensor({str(value.dtype).removeprefix('torch.')}, {list(value.shape)})"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@weights_group.command("info", help=(
    "Print a weights file's model id, config, metadata and tensor count (JSON with --json). "
    "A broken file, or one of an older format, is a one-line error.\n\nExample:\n\n\b\n"
    "  attentrack weights info tracker/weights/sqair_moving_mnist.pt"))
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_command(path, as_json):
    """``attentrack weights info``: a weights file's model id, config, metadata and tensor count."""
    from attentrack.tracker.weights_file import load_weights

    weights = load_weights(path)
    numel = sum(t.numel() for t in weights.state_dict.values())
    info = {"path": str(weights.path), "model_id": weights.model_id, "config": weights.config,
            "metadata": _plain(weights.metadata), "tensors": len(weights.state_dict), "numbers": numel}
    if as_json:
        click.echo(json.dumps(info))
        return
    click.echo(f"{info['path']}: {weights.model_id}, {info['tensors']} tensors, {numel:,} numbers")
    click.echo("config:   " + json.dumps(info["config"]))
    click.echo("metadata: " + json.dumps(info["metadata"]))


@weights_group.command("upgrade", help=(
    "Rewrite a weights file written by an older attentrack (HART, SQAIR, DRAW/alignDRAW, face "
    "or saliency-classifier layouts) in the one format; the tensors are copied unchanged.\n\n"
    "Example:\n\n\b\n  attentrack weights upgrade runs/hart/hart.pt runs/hart/hart-v1.pt"))
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
def upgrade_command(old, new):
    """``attentrack weights upgrade``: rewrite an older weights file in the current format."""
    from attentrack.tracker.weights_upgrade import upgrade_file

    model_id = upgrade_file(old, new)
    click.echo(f"{new}: {model_id} weights in the current format")
