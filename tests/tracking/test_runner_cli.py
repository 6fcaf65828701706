"""The runner's command-line options: `track` and `batch` with `--detections` (a det.txt, or
`auto`: SEQ/det/det.txt), `--det-threshold`, `-r NAME=VALUE` runner settings and `-P NAME=VALUE`
proposer options."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.datasets.mot import read_mot


@pytest.fixture
def sequence(tmp_path, moving_square_frames, write_video):
    """A MOTChallenge-style folder SEQ/ with SEQ.avi (a square moving for 20 frames) and
    det/det.txt: the square's true box each frame plus a low-scoring false one in frames 5-7."""
    seq = tmp_path / "SEQ"
    (seq / "det").mkdir(parents=True)
    write_video(seq / "SEQ.avi", moving_square_frames(n=20))
    rows = [f"{i + 1},-1,{20 + 3 * i},{30 + i},24,24,0.9,-1,-1,-1" for i in range(20)]
    rows += [f"{i},-1,120,80,20,20,0.1,-1,-1,-1" for i in (5, 6, 7)]
    (seq / "det" / "det.txt").write_text("\n".join(rows) + "\n")
    return seq


def test_track_follows_detections_auto_and_drops_low_scores(sequence, tmp_path, run_cli):
    out = tmp_path / "out"
    code, _, err = run_cli(["track", sequence / "SEQ.avi", "-m", "static", "--detections", "auto", "--det-threshold",
                            "0.5", "-r", "min_hits=1", "-o", out, "-q", "--no-video"])
    assert code == 0, err
    rows = read_mot(out / "SEQ.txt")
    assert set(rows.ids.tolist()) == {1}  # one object, one identity; the 0.1 detections ignored
    assert len(rows) == 20
    # the Kalman-filtered box (runner setting report=filtered) is the detection within 0.1 px
    # on a straight path at constant speed
    np.testing.assert_allclose(rows.boxes[-1], [20 + 3 * 19, 30 + 19, 24, 24], atol=0.1)


def test_track_without_threshold_takes_every_detection(sequence, tmp_path, run_cli):
    out = tmp_path / "out"
    code, _, err = run_cli(["track", sequence / "SEQ.avi", "-m", "static", "--detections",
                            sequence / "det" / "det.txt", "-r", "min_hits=1", "-o", out, "-q", "--no-video"])
    assert code == 0, err
    assert len(set(read_mot(out / "SEQ.txt").ids.tolist())) == 2


@pytest.mark.parametrize("args, message", [
    (["-r", "no_such=1"], "runner has no setting 'no_such'"),
    (["-r", "min_hits=-1"], "min_hits must be >= 0"),
    (["--detections", "auto", "--init", "1,1,9,9"], "not both"),
    (["--detections", "nowhere.txt"], "detections file not found"),
    (["-m", "blobs", "--detections", "auto"], "finds its own objects"),
    (["-P", "no_such=1"], "has no option 'no_such'"),
    (["-P", "open_height=-1"], "must not be negative"),
    (["-P", "open_height=60", "--init", "1,1,9,9"], "--init gives the objects"),
    (["-m", "blobs", "-P", "open_height=60"], "model 'blobs' finds its own objects"),
])
def test_runner_option_errors_are_one_line(sequence, tmp_path, run_cli, args, message):
    code, _, err = run_cli(["track", sequence / "SEQ.avi", "-o", tmp_path / "out", "-q", "--no-video",
                            *(args if "-m" in args else ["-m", "static", *args])])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_batch_takes_detections_auto_and_runner_settings(sequence, tmp_path, run_cli):
    out = tmp_path / "out"
    code, _, err = run_cli(["batch", sequence, "-m", "static", "--detections", "auto", "--det-threshold", "0.5",
                            "-r", "min_hits=1", "-o", out, "-q"])
    assert code == 0, err
    rows = read_mot(out / "SEQ.txt")
    assert set(rows.ids.tolist()) == {1} and len(rows) == 20
    code, _, err = run_cli(["batch", sequence, "-m", "static", "-r", "bogus=2", "-o", tmp_path / "o2", "-q"])
    assert code == 2 and "runner has no setting 'bogus'" in err
    # a model that finds its own objects would ignore the detections: refused, nothing written
    code, _, err = run_cli(["batch", sequence, "-m", "blobs", "--detections", "auto", "-o", tmp_path / "o3", "-q"])
    assert code == 2 and "finds its own objects" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o3").exists()


def test_proposal_options_reach_the_proposer_in_track_and_batch(sequence, tmp_path, run_cli):
    """`-P NAME=VALUE` sets up the proposer: a least object height above the square's 24 px
    leaves `track` and `batch` nothing to start tracks from; the default finds the square."""
    def tracked(command, *extra):
        out = tmp_path / f"{command}{len(extra)}"
        source = sequence / "SEQ.avi" if command == "track" else sequence
        code, _, err = run_cli([command, source, "-m", "static", "-r", "min_hits=1", "-o", out, "-q",
                                *(["--no-video"] if command == "track" else []), *extra])
        assert code == 0, err
        return len(read_mot(out / "SEQ.txt"))

    for command in ("track", "batch"):
        assert tracked(command) > 0
        assert tracked(command, "-P", "min_pixels=5000") == 0
    code, _, err = run_cli(["batch", sequence, "-m", "static", "-P", "bogus=2", "-o", tmp_path / "o2", "-q"])
    assert code == 2 and "has no option 'bogus'" in err


def test_track_says_when_it_watches_a_camera_before_tracking(clip, tmp_path, run_cli, monkeypatch):
    """A live source (here the clip opened as a camera would be) is watched for its first
    seconds first; `track` says so, unless -q or `-r live_prime_seconds=0`."""
    from attentrack.tracker import sources

    real = sources.open_source

    def as_camera(spec, reconnect=0):
        source = real(spec, reconnect=reconnect)
        source.live = True
        return source

    monkeypatch.setattr(sources, "open_source", as_camera)
    said = "learning the background from its first 4 s"
    for extra, expected in (([], True), (["-q"], False), (["-r", "live_prime_seconds=0"], False)):
        code, _, err = run_cli(["track", clip, "-m", "blobs", "--no-video", "-o", tmp_path / f"o{len(extra)}", *extra])
        assert code == 0, err
        assert (said in err) == expected, err
    code, _, err = run_cli(["track", clip, "-m", "static", "--init", "20,30,24,24", "--no-video", "-o", tmp_path / "i"])
    assert code == 0 and said not in err  # given boxes: nothing to learn
