"""Every command of the ``attentrack`` CLI runs (smoke tests), and bad input gives one line
on stderr, exit status 2 and no output files."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from attentrack.tools.cli import cli, track_main

REPO = Path(__file__).resolve().parents[2]


def _command_paths(group: click.Group, prefix=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # lazy groups: the names, each loaded by get_command
        cmd = group.get_command(ctx, name)
        path = (*prefix, name)
        yield " ".join(path)
        if isinstance(cmd, click.Group):
            yield from _command_paths(cmd, path)


@pytest.fixture
def smoke_args(generative_smoke_args, sqair_smoke_args):
    """``smoke_args(tmp_path, clip, data_dir_or_none)``: a cheap real invocation of every command
    (``None``: needs the data folder)."""
    def every_command(tmp_path, clip, data_dir_or_none):
        return {**_smoke_args(tmp_path, clip, data_dir_or_none), **generative_smoke_args(tmp_path, data_dir_or_none),
                **sqair_smoke_args(tmp_path, clip, data_dir_or_none)}
    return every_command


def _smoke_args(tmp_path, clip, data_dir_or_none):
    """The invocations of the commands not in ``generative_smoke_args`` or ``sqair_smoke_args``."""
    gt = tmp_path / "gt.txt"
    gt.write_text("".join(f"{i},1,{20 + 3 * (i - 1)},{30 + (i - 1)},24,24,1,-1,-1,-1\n" for i in range(1, 13)))
    seq = tmp_path / "SEQ-MOT"  # a MOTChallenge folder: gt/gt.txt beside the video
    (seq / "gt").mkdir(parents=True, exist_ok=True)
    (seq / "gt" / "gt.txt").write_text(gt.read_text())
    (seq / clip.name).write_bytes(clip.read_bytes())
    import torch

    old_weights = tmp_path / "old.pt"  # a saliency classifier's layout before the one weights format
    torch.save({"config": {"classes": ["a", "b"]}, "state_dict": {"w": torch.ones(2)}, "info": {}}, old_weights)
    return {
        "models": ["models"],
        "weights": ["weights", "--help"],
        "weights info": ["weights", "info", REPO / "tracker" / "weights" / "hart.pt", "--json"],
        "weights upgrade": ["weights", "upgrade", old_weights, tmp_path / "new.pt"],
        "camera-motion": ["camera-motion", clip, "--pairs", "5"],
        "track": ["track", clip, "-m", "static", "--init", "20,30,24,24", "-o", tmp_path / "t", "-q"],
        "eval": ["eval", "--help"],
        "eval mot": ["eval", "mot", "--gt", gt, "--pred", gt, "--json"],
        "eval association": ["eval", "association", seq, "--seeds", "1", "--json"],
        "eval pipelines": ["eval", "pipelines", seq, "-m", "blobs", "-m", "static", "--out", tmp_path / "pipes", "--json"],
        "eval sot": ["eval", "sot", "-m", "static", "--json", tmp_path / "SEQ"],
        "train": ["train", "--help"],
        "train hart": None if data_dir_or_none is None else [
            "train", "hart", "--data", data_dir_or_none / "mot15" / "TUD-Stadtmitte", "--out", tmp_path / "run",
            "--steps", "1", "--tokens", "4", "--min-length", "2", "--max-length", "2", "--val-every", "0",
            "--workers", "0", "--assets", "none", "--no-progress", "--val-split", "0", "--set", "glimpse_size=16"],
        "train face": None if data_dir_or_none is None else [
            "train", "face", "--data", data_dir_or_none, "--out", tmp_path / "runface", "--vae-steps", "2",
            "--proposer-steps", "2", "--batch", "4", "--scene-batch", "2", "--background-glimpses", "600",
            "--val-every", "0", "--no-progress"],
        "eval face": None if data_dir_or_none is None else [
            "eval", "face", "--data", data_dir_or_none, "--scenes", "2", "--chains", "2", "--steps", "2", "--json"],
        "eval face-tracking": None if data_dir_or_none is None else [
            "eval", "face-tracking", "--data", data_dir_or_none, "--sequences", "1", "--frames", "4", "-m", "static",
            "-m", "face-attention", "-p", "chains=2", "-p", "steps=2", "--json", "-q"],
        "eval face-score": None if data_dir_or_none is None else [
            "eval", "face-score", "--data", data_dir_or_none, "--windows", "3", "--save", tmp_path / "face-cal.pt"],
        "bench": ["bench", "--help"],
        "bench track": ["bench", "track", clip, "--min-frames", "12", "--best-of", "2", "--json"],
        "batch": ["batch", clip, "-m", "static", "-o", tmp_path / "b", "--workers", "1", "-q"],
        "bench batch": ["bench", "batch", "-m", "static", "--no-tud", "--clips", "1", "--clip-frames", "5",
                        "--workers", "1", "--backend", "local", "--json"],
        "bench stream": ["bench", "stream", "--frames", "20", "--size", "64x48", "--json"],
        "bench startup": ["bench", "startup", "--runs", "1", "--json"],
        "bench faults": ["bench", "faults", "--case", "output-dev-full", "--json"],
        # saliency (issue 5)
        "saliency": ["saliency", clip, "--method", "ceb", "--target", "pedestrian", "-o", tmp_path / "s.png", "-q"],
        "train pedestrian-classifier": None if data_dir_or_none is None else [
            "train", "pedestrian-classifier", "--data", data_dir_or_none, "--out", tmp_path / "pc", "--steps", "2",
            "--batch", "4", "--val-every", "0", "--no-progress"],
        "train digit-classifier": None if data_dir_or_none is None else [
            "train", "digit-classifier", "--data", data_dir_or_none, "--out", tmp_path / "dc", "--steps", "2",
            "--batch", "4", "--val-every", "0", "--no-progress"],
        "eval pointing": None if data_dir_or_none is None else [
            "eval", "pointing", "--data", data_dir_or_none, "--every", "35", "--canvases", "2", "-m", "eb",
            "-m", "centre", "--json"],
        "bench saliency": ["bench", "saliency", "--arch", "resnet18", "--size", "32", "--repeats", "1", "-m", "eb",
                           "--json"],
    }


def test_every_command_has_a_smoke_test(tmp_path, clip, smoke_args):
    known = set(smoke_args(tmp_path, clip, None))
    missing = sorted(set(_command_paths(cli)) - known)
    assert not missing, f"commands without a smoke test in tests/tools/test_cli.py: {missing}"


#: commands whose smoke run takes more than about 1 s (trainers that load a data set, benchmarks)
SLOW_COMMANDS = {"bench track", "bench stream", "bench sqair", "train hart", "train sqair",
                 "train caption-classifier", "train digit-classifier", "train pedestrian-classifier"}


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_COMMANDS else c
                                     for c in sorted(set(_command_paths(cli)))])
def test_command_runs(command, tmp_path, clip, request, moving_square_frames, run_cli, smoke_args):
    if command == "eval sot":  # a sequence folder in OTB layout
        import cv2

        seq = tmp_path / "SEQ"
        (seq / "img").mkdir(parents=True)
        for i, f in enumerate(moving_square_frames(n=12)):
            cv2.imwrite(str(seq / "img" / f"{i + 1:04d}.png"), f)
        (seq / "groundtruth_rect.txt").write_text(
            "".join(f"{20 + 3 * i},{30 + i},24,24\n" for i in range(12)))
    data = None
    if smoke_args(tmp_path, clip, None)[command] is None:  # needs the data folder
        data = request.getfixturevalue("data_dir")
    args = smoke_args(tmp_path, clip, data)[command]
    code, out, err = run_cli(args)
    assert code == 0, err
    if "--json" in args:
        json.loads(out)
    if command == "track":
        assert (tmp_path / "t" / "clip.txt").is_file() and (tmp_path / "t" / "clip.webm").is_file()
    if command == "batch":
        assert (tmp_path / "b" / "clip.txt").is_file() and (tmp_path / "b" / "summary.csv").is_file()
    if command == "train face":
        assert (tmp_path / "runface" / "face.pt").is_file() and (tmp_path / "runface" / "checkpoint.pt").is_file()
    if command == "train hart":
        assert (tmp_path / "run" / "hart.pt").is_file() and (tmp_path / "run" / "checkpoint.pt").is_file()


def test_help_of_every_command_has_an_example(tmp_path, clip, run_cli):
    for command in _command_paths(cli):
        if command in ("eval", "train", "bench"):
            continue
        code, out, _ = run_cli([*command.split(), "--help"])
        assert code == 0 and "Example" in out, command


def test_track_console_script(tmp_path, clip, run_cli):
    code, _, err = run_cli([clip, "-m", "mil", "--init", "20,30,24,24", "-o", tmp_path / "o", "-q", "--jsonl"],
                           entry=track_main)
    assert code == 0, err
    lines = (tmp_path / "o" / "clip.jsonl").read_text().splitlines()
    assert len(lines) == 12 and json.loads(lines[0])["tracks"][0]["id"] == 1


def _bad_cases(tmp_path, clip):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video at all" * 50)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    (tmp_path / "nofr").mkdir()
    badgt = tmp_path / "bad_gt.txt"
    badgt.write_text("1,1,10,10,5,5,1,-1,-1,-1\n2,1,ten,10,5,5\n")
    good = tmp_path / "good.txt"
    good.write_text("1,1,10,10,5,5,1,-1,-1,-1\n")
    import torch

    broken = torch.load(REPO / "tracker" / "weights" / "hart.pt", weights_only=True)
    broken["state_dict"]["fc.weight"][0, 0] = float("nan")
    torch.save(broken, tmp_path / "nan.pt")
    out = tmp_path / "out"
    return {
        "missing file": (["track", tmp_path / "nope.mp4", "-m", "static", "--init", "1,1,5,5", "-o", out], "no such file"),
        "corrupt video": (["track", corrupt, "-m", "static", "--init", "1,1,5,5", "-o", out], "corrupt"),
        "empty video": (["track", empty, "-m", "static", "--init", "1,1,5,5", "-o", out], ""),
        "empty folder": (["track", tmp_path / "nofr", "-m", "static", "--init", "1,1,5,5", "-o", out], "no images"),
        "3-number box": (["track", clip, "-m", "static", "--init", "1,2,3", "-o", out], "4 numbers"),
        "negative box": (["track", clip, "-m", "static", "--init", "1,2,-3,4", "-o", out], "positive"),
        "box outside frame": (["track", clip, "-m", "static", "--init", "900,900,10,10", "-o", out], "frame"),
        "unknown model": (["track", clip, "-m", "nope", "--init", "1,1,5,5", "-o", out], "unknown model"),
        "bad model option": (["track", clip, "-m", "static", "-p", "speed=3", "--init", "1,1,5,5", "-o", out], "option"),
        "weights for a model without": (["track", clip, "-m", "static", "--weights", good, "--init", "1,1,5,5", "-o", out],
                                        "weights"),
        "missing weights": (["track", clip, "-m", "hart", "--weights", tmp_path / "w.pt", "--init", "1,1,5,5", "-o", out],
                            "not found"),
        "corrupt weights": (["track", clip, "-m", "hart", "--weights", good, "--init", "1,1,5,5", "-o", out], "weights"),
        "weights of another model": (["track", clip, "-m", "hart",
                                      "--weights", REPO / "tracker" / "weights" / "sqair_moving_mnist.pt",
                                      "--init", "1,1,5,5", "-o", out], "holds SQAIR weights (sqair), not hart"),
        "weights with NaN": (["track", clip, "-m", "hart", "--weights", tmp_path / "nan.pt", "--init", "1,1,5,5", "-o", out],
                             "nan.pt: tensor fc.weight holds NaN values"),
        "malformed gt": (["eval", "mot", "--gt", badgt, "--pred", good], ":2:"),
        "missing gt": (["eval", "mot", "--gt", tmp_path / "none.txt", "--pred", good], "not found"),
        "unknown option": (["track", clip, "--no-such-flag"], "no-such-flag"),
        "camera-motion of an empty video": (["camera-motion", empty], ""),
        "corrupt face weights": (["eval", "face", "--weights", good, "--scenes", "1"], "not a readable torch weights file"),
        "no faces folder": (["train", "face", "--data", tmp_path / "nofr", "--out", out], "faces/orl"),
        "bad --set flag": (["train", "hart", "--data", tmp_path / "nofr", "--out", out, "--set", "att_input=maybe"],
                           "att_input='maybe' is not a valid bool"),
        "--init-weights with --arch": (["train", "hart", "--data", tmp_path / "nofr", "--out", out, "--init-weights",
                                        REPO / "tracker" / "weights" / "hart.pt", "--arch", "paper"],
                                       "--arch cannot change the architecture of --init-weights"),
    }


BAD_CASES = ["missing file", "corrupt video", "empty video", "empty folder", "3-number box", "negative box",
             "box outside frame", "unknown model", "bad model option", "weights for a model without",
             "missing weights", "corrupt weights", "weights of another model", "weights with NaN", "malformed gt", "missing gt",
             "unknown option",
             "camera-motion of an empty video",
             "corrupt face weights", "no faces folder", "bad --set flag", "--init-weights with --arch"]


def test_bad_case_list_is_complete(tmp_path, clip):
    assert sorted(BAD_CASES) == sorted(_bad_cases(tmp_path, clip))


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_exit_2_no_output(case, tmp_path, clip, run_cli):
    args, needle = _bad_cases(tmp_path, clip)[case]
    code, out, err = run_cli(args)
    assert code == 2, (code, out, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), err
    assert "Traceback" not in err
    assert needle.lower() in lines[0].lower(), lines[0]
    assert not (tmp_path / "out").exists(), "no output folder or half-written file on failure"


def test_warnings_print_as_one_line():
    import subprocess
    import sys

    code = ("import warnings, click\n"
            "from attentrack.tools.cli import _run\n"
            "@click.command()\n"
            "def warns():\n"
            "    warnings.warn('the camera seems to move', UserWarning)\n"
            "_run(warns, [])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stderr == "Warning: the camera seems to move\n"
