"""``attentrack train face`` and ``attentrack eval face``: the attentional face model
(:mod:`attentrack.generative.face`)."""

from __future__ import annotations

import json

import click

from attentrack.tools.options import DATA_OPTION, SEED_OPTION, THREADS_OPTION, TRACKER_CHOICE
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
@DATA_OPTION
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
@SEED_OPTION
@THREADS_OPTION
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
@click.option("--stop-after", default=0, show_default=True, type=click.IntRange(min=0),
              help="Stop (and save) after this many steps of this run; continue later with --resume.")
@click.option("--max-minutes", default=0.0, show_default=True, type=float, help="Stop and save after this long (0: no limit).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--init-weights", default="", type=click.Path(dir_okay=False),
              help="Start from these face weights (VAE, background model and proposer; the background is not "
                   "refitted), e.g. with --vae-steps 0 to train the proposer further.")
@click.option("--scene-sides", default=(30.0, 80.0), show_default=True, nargs=2, type=click.FloatRange(min=4.0),
              help="Face side range in pixels of the proposer's 160x120 training scenes.")
@click.option("--max-rotation", default=None, type=click.FloatRange(min=0.0, max=90.0),
              help="Largest rotation in degrees of the training faces, and the rotation prior's sd "
                   "(default: the model's, 0.35 rad).")
@click.option("--illumination", default=0.0, show_default=True, type=click.FloatRange(min=0.0, max=1.0),
              help="Relight the proposer's scenes: gain gradient, gamma, blur and noise of this strength (0: none).")
def train_face_command(data, out, vae_steps, proposer_steps, batch, scene_batch, lr, held_out, latents,
                       background_glimpses, checkpoint_every, val_every, seed, threads, resume, stop_after, max_minutes,
                       no_progress, init_weights, scene_sides, max_rotation, illumination):
    """``attentrack train face``: train the attentional face model's VAE and proposer."""
    import math

    from attentrack.generative.face.train import FaceTrainOptions, train_face

    if vae_steps + proposer_steps == 0:
        raise InputError("--vae-steps and --proposer-steps are both 0: nothing to train")
    opts = FaceTrainOptions(data=str(_data_folder(data)), out=out, vae_steps=vae_steps, proposer_steps=proposer_steps,
                            batch=batch, scene_batch=scene_batch, lr=lr, held_out=held_out,
                            background_glimpses=background_glimpses,
                            checkpoint_every=checkpoint_every, val_every=val_every, seed=seed, threads=threads,
                            resume=resume, stop_after=stop_after, max_minutes=max_minutes, progress=not no_progress,
                            config={"latents": latents, **({} if max_rotation is None else {
                                "max_rotation": math.radians(max_rotation), "theta_prior": math.radians(max_rotation)})},
                            init_weights=init_weights, scene_sides=tuple(scene_sides), illumination=illumination)
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
@DATA_OPTION
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
@SEED_OPTION
@THREADS_OPTION
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


@click.command(
    "face-tracking",
    help=(
        "Follow faces through generated face-tracking sequences and score the trackers side by "
        "side, as `eval sot` does. Each sequence composites a held-out ORL person (s31..s40, "
        "tinted, changing pose by cross-fading between the person's photographs) or a face of the "
        "Megamind close-up into consecutive frames of a real clip (test split: TUD-Stadtmitte, "
        "OTB Crossing, VOT bag; never seen by the face model's training), moving by a smooth random "
        "walk with scale, rotation and illumination changes; the ground truth is the pasted head "
        "ellipse's box (attentrack.datasets.face_tracking). --scene still: a face 38-46 px high in "
        "frames 128 px wide that mostly stays where it is (a webcam's or a distant camera's view). "
        "The sequences are written as OTB "
        "folders into --out (kept, and reused when the settings match), so `eval sot` can score "
        "them again.\n\n"
        "Example:\n\n\b\n  attentrack eval face-tracking --out runs/faces -m static -m face-attention"
    ),
)
@DATA_OPTION
@click.option("--out", default="", type=click.Path(file_okay=False),
              help="Folder for the generated sequences (default: a temporary folder, removed afterwards).")
@click.option("--sequences", default=6, show_default=True, type=click.IntRange(min=1))
@click.option("--frames", default=150, show_default=True, type=click.IntRange(min=2), help="Frames per sequence.")
@SEED_OPTION
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "train"]),
              help="Background clips: test (never seen in training) or train.")
@click.option("--no-megamind", is_flag=True, help="Only ORL people, no Megamind faces.")
@click.option("--scene", default="moving", show_default=True, type=click.Choice(["moving", "still"]),
              help="moving: faces 36-72 px high wandering over frames up to 640 px wide; still: a face "
                   "38-46 px high in frames 128 px wide, mostly staying where it is.")
@click.option("-m", "--model", "models", multiple=True, type=TRACKER_CHOICE,
              help="Registered tracker to run; repeat (default: static, hart, mil, face-attention).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A model option, given to every model that takes it.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows of `eval sot --json` instead of a table.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def eval_face_tracking_command(data, out, sequences, frames, seed, split, no_megamind, scene, models, params, as_json,
                               quiet):
    """``attentrack eval face-tracking``: trackers on generated face sequences with exact ground truth."""
    import shutil
    import tempfile
    from dataclasses import replace

    from attentrack.datasets.face_tracking import SCENES, generate_face_tracking
    from attentrack.datasets.sequence import open_sequence
    from attentrack.tools.eval_cmd import _options_per_model
    from attentrack.tools.options import parse_params
    from attentrack.tracker.metrics.sot_runs import evaluate_sot

    models = tuple(dict.fromkeys(models or ("static", "hart", "mil", "face-attention")))
    options = _options_per_model(models, parse_params(params), "cpu")
    root = _data_folder(data)
    folder = out or tempfile.mkdtemp(prefix="attentrack-faces-")
    try:
        motion, width = SCENES[scene]
        made = generate_face_tracking(root, folder, sequences=sequences, seed=seed, split=split,
                                      megamind=not no_megamind, motion=replace(motion, frames=frames),
                                      frame_width=width)
        seqs = [open_sequence(f) for f in made.folders]
        result = evaluate_sot(models, seqs, options, progress=not quiet)
    finally:
        if not out:
            shutil.rmtree(folder, ignore_errors=True)
    click.echo(json.dumps(result.to_rows(), indent=1) if as_json else result.format_table("target"))


@click.command(
    "face-score",
    help=(
        "Calibrate the face score: fit a logistic regression of on-face against off-face windows on "
        "the face and background models' log-likelihoods (training people on training backgrounds, "
        "windows refined by HMC as the face-attention tracker does), learn its threshold (max TPR - "
        "FPR), and measure on held-out people on test backgrounds the AUC of the model's own score "
        "(the likelihood ratio) and of the calibrated one, and the TPR and FPR at the threshold. "
        "--save writes the calibration into a copy of the weights (metadata score_calibration), "
        "where the tracker reads its score and re-detection threshold.\n\n"
        "Example:\n\n\b\n  attentrack eval face-score --windows 200"
    ),
)
@DATA_OPTION
@click.option("--weights", default="", help="Face weights (default: shipped).")
@click.option("--windows", default=200, show_default=True, type=click.IntRange(min=2),
              help="On-face windows per split (and as many off-face ones).")
@click.option("--held-out", default=10, show_default=True, type=click.IntRange(min=1))
@SEED_OPTION
@THREADS_OPTION
@click.option("--save", "save_path", default="", type=click.Path(dir_okay=False),
              help="Write the weights with the learnt threshold in their metadata to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def eval_face_score_command(data, weights, windows, held_out, seed, threads, save_path, as_json):
    """``attentrack eval face-score``: AUC and learnt threshold of the face score."""
    import torch

    from attentrack.generative.face.calibrate import calibrate_score
    from attentrack.generative.face.model import load_face_model

    torch.set_num_threads(threads)
    model = load_face_model(weights)
    result = calibrate_score(model, _data_folder(data), windows=windows, seed=seed, held_out=held_out)
    click.echo(json.dumps(result.to_dict()) if as_json else result.format())
    if save_path:
        model.meta = {**model.meta, "score_calibration": result.metadata()}
        model.save(save_path)
        click.echo(f"wrote {save_path} (score_calibration: threshold {result.threshold:.4f})")
