"""``attentrack train face`` and ``attentrack eval face``: the attentional face model
(:mod:`attentrack.generative.face`)."""

from __future__ import annotations

import json

import click

from attentrack.tracker.errors import InputError


def _data_folder(data: str):
    from pathlib import Path

    from attentrack.datasets.paths import data_root

    root = Path(data) if data else data_root(required=True)
    if not (root / "faces" / "orl").is_dir():
        raise InputError(f"no faces/orl folder under {root}")
    return root


@click.command(
    "face",
    help=(
        "Train the attentional face model: a VAE on canonical 24x24 ORL faces (training "
        "people only), then the ConvNet that proposes the face's similarity transform, on "
        "training people's faces placed into real training backgrounds. Writes "
        "OUT/checkpoint.pt every --checkpoint-every steps (atomically) and OUT/face.pt at the end.\n\n"
        "Example:\n\n\b\n  attentrack train face --out runs/face"
    ),
)
@click.option("--data", default="", help="Data folder with faces/orl (default: ../shared/data or $ATTENTRACK_DATA).")
@click.option("--out", "out", required=True, type=click.Path(), help="Output folder.")
@click.option("--vae-steps", default=3000, show_default=True, type=click.IntRange(min=0))
@click.option("--proposer-steps", default=3000, show_default=True, type=click.IntRange(min=0))
@click.option("--batch", default=64, show_default=True, type=click.IntRange(min=2), help="VAE batch (faces).")
@click.option("--scene-batch", default=32, show_default=True, type=click.IntRange(min=2), help="Proposer batch (scenes).")
@click.option("--lr", default=1e-3, show_default=True, type=float)
@click.option("--held-out", default=10, show_default=True, type=click.IntRange(min=1), help="People kept out (the last ones).")
@click.option("--latents", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--background-glimpses", default=30000, show_default=True, type=click.IntRange(min=600),
              help="Background glimpses the background Gaussian is fitted to.")
@click.option("--checkpoint-every", default=250, show_default=True, type=click.IntRange(min=1))
@click.option("--val-every", default=500, show_default=True, type=click.IntRange(min=0))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
@click.option("--stop-after", default=0, show_default=True, type=click.IntRange(min=0),
              help="Stop (and save) after this many steps of this run; continue later with --resume.")
@click.option("--max-minutes", default=0.0, show_default=True, type=float, help="Stop and save after this long (0: no limit).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train_face_command(data, out, vae_steps, proposer_steps, batch, scene_batch, lr, held_out, latents,
                       background_glimpses, checkpoint_every, val_every, seed, threads, resume, stop_after, max_minutes,
                       no_progress):
    """``attentrack train face``: train the attentional face model's VAE and proposer."""
    from attentrack.generative.face.train import FaceTrainOptions, train_face

    if vae_steps + proposer_steps == 0:
        raise InputError("--vae-steps and --proposer-steps are both 0: nothing to train")
    opts = FaceTrainOptions(data=str(_data_folder(data)), out=out, vae_steps=vae_steps, proposer_steps=proposer_steps,
                            batch=batch, scene_batch=scene_batch, lr=lr, held_out=held_out,
                            background_glimpses=background_glimpses,
                            checkpoint_every=checkpoint_every, val_every=val_every, seed=seed, threads=threads,
                            resume=resume, stop_after=stop_after, max_minutes=max_minutes, progress=not no_progress,
                            config={"latents": latents})
    click.echo(json.dumps(train_face(opts)))


@click.command(
    "face",
    help=(
        "Localisation of held-out people's faces placed with random similarity transforms into "
        "real test backgrounds (TUD-Stadtmitte, OTB Crossing, VOT bag; never used in training): "
        "mean IoU, centre error and success rate of the ConvNet proposal alone, ConvNet + HMC, "
        "and HMC from random starts.\n\n"
        "Example:\n\n\b\n  attentrack eval face --scenes 200"
    ),
)
@click.option("--data", default="", help="Data folder (default: ../shared/data or $ATTENTRACK_DATA).")
@click.option("--weights", default="", help="Face weights from `attentrack train face` (default: shipped).")
@click.option("--scenes", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("--chains", default=8, show_default=True, type=click.IntRange(min=1), help="HMC chains per scene.")
@click.option("--steps", default=40, show_default=True, type=click.IntRange(min=1), help="HMC iterations per chain.")
@click.option("--leapfrog", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--held-out", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--jitter", default=0.1, show_default=True, type=click.FloatRange(min=0.0),
              help="Spread of the chains' starts around each start (fraction of the face side; log-scale, radians).")
@click.option("--spread", default=0.0, show_default=True, type=click.FloatRange(min=0.0),
              help="Start the ConvNet + HMC chains on a 3x3 grid this many face sides apart around the "
                   "proposal, plus two scales (0: all chains jittered around the proposal).")
@click.option("--marginal", is_flag=True, help="HMC over u alone, the face latents integrated out in closed form.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def eval_face_command(data, weights, scenes, chains, steps, leapfrog, held_out, jitter, spread, marginal, seed, threads, as_json):
    """``attentrack eval face``: localisation of held-out faces placed in real backgrounds."""
    import torch

    from attentrack.generative.face.evaluate import evaluate_localisation, format_table
    from attentrack.generative.face.localise import HMCOptions
    from attentrack.generative.face.model import load_face_model

    torch.set_num_threads(threads)
    model = load_face_model(weights)
    opts = HMCOptions(chains=chains, steps=steps, leapfrog=leapfrog, adapt=min(steps // 3, 15),
                      marginal=marginal, jitter=jitter)
    result = evaluate_localisation(model, _data_folder(data), n_scenes=scenes, options=opts, held_out=held_out,
                                   seed=seed, spread=spread)
    click.echo(json.dumps(result.to_dict()) if as_json else format_table(result))
