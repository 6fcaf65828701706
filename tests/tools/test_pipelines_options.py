"""``eval pipelines`` options: ``--detections`` (models started and supported by a sequence's
det.txt, at recorded size and on wider views, the detections moved with the frames) and
``--frame-step`` (a lower frame rate), ``--view-noise`` (wider views that keep the
recording's noise) and ``--as-live`` (each video run as a camera delivers it)."""

from __future__ import annotations

import json


def _sequence(tmp_path, clip, name="SEQ", header=True):
    """A MOTChallenge folder: the clip, its ground truth and, as det/det.txt, the same boxes."""
    seq = tmp_path / name
    (seq / "gt").mkdir(parents=True)
    (seq / "det").mkdir()
    (seq / clip.name).write_bytes(clip.read_bytes())
    boxes = [(i, 20 + 3 * (i - 1), 30 + (i - 1)) for i in range(1, 13)]
    (seq / "gt" / "gt.txt").write_text("".join(f"{i},1,{x},{y},24,24,1,-1,-1,-1\n" for i, x, y in boxes))
    (seq / "det" / "det.txt").write_text(("frame,id,bb_left,bb_top,bb_width,bb_height,conf\n" if header else "")
                                         + "".join(f"{i},-1,{x},{y},24,24,0.9\n" for i, x, y in boxes))
    return seq


def test_detections_start_the_tracks_at_every_view(tmp_path, clip, run_cli):
    seq = _sequence(tmp_path, clip)
    code, out, err = run_cli(["eval", "pipelines", seq, "-m", "static", "--detections", "auto", "--zoom-out", "1",
                              "--zoom-out", "2", "--out", tmp_path / "runs", "--json"])
    assert code == 0, err
    rows = json.loads(out)
    assert [r["zoom"] for r in rows] == [1.0, 2.0]
    # the detections are the ground truth, so every box is found where the ground truth is, also
    # in the wider view (the 12-pixel square's colours, blurred by the video codec, cost an id there)
    assert all(r["recall"] == 1.0 and r["precision"] == 1.0 for r in rows)
    assert rows[0]["idf1"] == 1.0
    code, out, _ = run_cli(["eval", "pipelines", seq, "-m", "static", "--detections", "auto", "--det-threshold", "0.95",
                            "--out", tmp_path / "runs", "--json"])
    assert code == 0 and json.loads(out)[0]["recall"] == 0.0  # every detection below the threshold


def test_bad_detection_requests_are_one_line_errors(tmp_path, clip, run_cli):
    seq = _sequence(tmp_path, clip)
    other = _sequence(tmp_path, clip, "OTHER")
    cases = [
        (["-m", "blobs", "--detections", "auto", seq], "finds its own objects"),
        (["-m", "static", "--detections", seq / "det" / "det.txt", seq, other], "--detections auto"),
        (["-m", "static", "--detections", "auto", tmp_path / "NODET"], None),
    ]
    (tmp_path / "NODET" / "gt").mkdir(parents=True)
    (tmp_path / "NODET" / "gt" / "gt.txt").write_text("1,1,1,1,5,5,1,-1,-1,-1\n")
    (tmp_path / "NODET" / clip.name).write_bytes(clip.read_bytes())
    for args, message in cases:
        code, out, err = run_cli(["eval", "pipelines", *args, "--out", tmp_path / "runs"])
        assert code == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and (message is None or message in err), err


def test_a_lower_frame_rate_is_every_nth_frame_losslessly(tmp_path, clip):
    from attentrack.datasets.mot import read_mot
    from attentrack.tracker.protocols.pipelines import lower_rate_sequence
    from attentrack.tracker.sources import open_source

    seq = _sequence(tmp_path, clip)
    gt = read_mot(seq / "gt" / "gt.txt")
    frames, rows = lower_rate_sequence(seq / clip.name, gt, 3, tmp_path / "cache")
    assert lower_rate_sequence(seq / clip.name, gt, 1, tmp_path / "cache") == (seq / clip.name, gt)
    kept = list(open_source(str(frames)))
    recorded = [f for i, f in open_source(str(clip)) if i % 3 == 0]
    assert len(kept) == 4 and all((a == b).all() for (_, a), b in zip(kept, recorded))
    assert rows.frames.tolist() == [1, 2, 3, 4] and rows.boxes[1, 0] == 20 + 3 * 3


def test_eval_pipelines_at_a_lower_frame_rate(tmp_path, clip, run_cli):
    seq = _sequence(tmp_path, clip)
    code, out, err = run_cli(["eval", "pipelines", seq, "-m", "blobs", "--frame-step", "2", "--out", tmp_path / "runs"])
    assert code == 0, err
    assert "1 frame in 2" in out
    # given detections are thinned as the frames are: the ground truth's own boxes are found at every kept frame
    code, out, err = run_cli(["eval", "pipelines", seq, "-m", "static", "--frame-step", "2", "--detections", "auto",
                              "--out", tmp_path / "runs", "--json"])
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["recall"] == 1.0 and row["precision"] == 1.0 and row["idf1"] == 1.0


def test_eval_pipelines_on_wider_views_that_keep_the_noise(tmp_path, clip, run_cli):
    seq = _sequence(tmp_path, clip)
    code, out, err = run_cli(["eval", "pipelines", seq, "-m", "blobs", "--zoom-out", "2", "--view-noise",
                              "--out", tmp_path / "runs"])
    assert code == 0, err
    assert "wider views with the recording's noise" in out
    written = tmp_path / "runs" / "zoom2-noise" / "SEQ" / "wide-noise"
    assert (written / "complete").is_file() and len(list(written.glob("*.png"))) == 12  # every frame, lossless


def test_eval_pipelines_as_live_primes_from_the_first_seconds_only(tmp_path, clip, run_cli, monkeypatch):
    from attentrack.tracker import runner

    primed = []
    real = runner.prime_detector

    def recording(detector, source, *args, **kwargs):
        result = real(detector, source, *args, **kwargs)
        primed.append((source.live, result))
        return result

    monkeypatch.setattr(runner, "prime_detector", recording)
    seq = _sequence(tmp_path, clip)
    for extra in ([], ["--as-live"], ["--as-live", "-r", "live_prime_seconds=0"]):
        code, out, err = run_cli(["eval", "pipelines", seq, "-m", "blobs", *extra, "--out", tmp_path / "runs"])
        assert code == 0, err
    assert primed == [(False, True), (True, True), (True, False)] and "run as live" in out
