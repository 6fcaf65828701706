"""Running batches on the local pool: resume, failures, killed workers and killed runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from attentrack.tracker.atomic import partial_owner
from attentrack.tracker.batch import BatchOptions, LocalBackend, VideoJob, collect_jobs, job_key, run_batch
from attentrack.tracker.batch.jobs import record_path, run_job
from attentrack.tracker.errors import InputError

REPO = Path(__file__).resolve().parents[2]
STATIC = BatchOptions(model="static")


def _long_jobs(n: int = 3, frames: int = 1500) -> list[VideoJob]:
    """Synthetic clips long enough to be caught mid-way, each with its first-frame boxes."""
    from attentrack.tracker.synthetic import SyntheticSource

    jobs = []
    for k in range(n):
        spec = f"synthetic:frames={frames},size=96x64,objects=2,seed={k}"
        boxes = tuple(tuple(map(float, b)) for b in SyntheticSource(spec).boxes(0))
        jobs.append(VideoJob(f"clip{k}", spec, boxes))
    return jobs


def test_key_changes_with_what_the_output_depends_on(clips):
    (a,) = collect_jobs((str(clips / "a.avi"),))
    key = job_key(a, STATIC)
    assert job_key(a, BatchOptions(model="static")) == key
    changed = [
        job_key(a, BatchOptions(model="mil")),
        job_key(a, BatchOptions(model="static", max_frames=5)),
        job_key(a, BatchOptions(model="static", formats=("mot",))),
        job_key(a, BatchOptions(model="static", proposals="mog2", params=(("device", "cpu"),))),
        job_key(VideoJob(a.name, a.source, ((1.0, 2.0, 3.0, 4.0),)), STATIC),
    ]
    st = os.stat(a.source)
    os.utime(a.source, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file was replaced
    changed.append(job_key(a, STATIC))
    assert len(set(changed)) == len(changed) and key not in changed


@pytest.mark.slow
def test_rerun_skips_complete_videos_and_redoes_partial_ones(clips, tmp_path, output_bytes):
    jobs = [VideoJob(j.name, j.source, (box,)) for j, box in
            zip(collect_jobs((str(clips),)), [(20.0, 30.0, 24.0, 24.0), (60.0, 40.0, 20.0, 20.0)])]
    out = tmp_path / "out"
    first = run_batch(jobs, STATIC, out, LocalBackend(2))
    assert [r.status for r in first.results] == ["done", "done"]
    reference = output_bytes(out)
    assert set(reference) == {"a.txt", "a.jsonl", "b.txt", "b.jsonl"}
    again = run_batch(jobs, STATIC, out, LocalBackend(2))
    assert [r.status for r in again.results] == ["skipped", "skipped"]
    assert [r.frames for r in again.results] == [12, 15]
    (out / "b.jsonl").unlink()  # a partial result
    (out / "a.txt").write_text((out / "a.txt").read_text()[:-20])  # a truncated file is not complete either
    third = run_batch(jobs, STATIC, out, LocalBackend(2))
    assert [r.status for r in third.results] == ["done", "done"]
    assert output_bytes(out) == reference
    summary = json.loads((out / "summary.json").read_text())
    assert [v["video"] for v in summary["videos"]] == ["a", "b"] and summary["failed"] == 0
    header = "video,frames,seconds,fps,tracks,status,error,warnings,mota,idf1,hota"
    assert (out / "summary.csv").read_text().splitlines()[0] == header


@pytest.mark.slow
def test_corrupt_video_fails_alone_and_exit_status_says_so(clips, tmp_path, run_cli):
    (clips / "c.mp4").write_bytes(b"not a video" * 40)
    out = tmp_path / "out"
    code, stdout, err = run_cli(["batch", clips, "-m", "static", "-o", out, "--workers", "2"])
    assert code == 1, err
    assert "1 of 3 videos failed: c" in err and "Traceback" not in err
    rows = {r["video"]: r for r in json.loads((out / "summary.json").read_text())["videos"]}
    assert rows["a"]["status"] == rows["b"]["status"] == "done"
    assert rows["c"]["status"] == "failed" and "corrupt" in rows["c"]["error"]
    assert not list(out.glob(".*partial*")) and not (out / "c.txt").exists()
    assert "c: failed: cannot open video" in stdout


def _kill_first_worker(out: Path, stop: threading.Event, killed: list) -> None:
    """Kill (SIGKILL) the worker writing the first temporary output seen in ``out``."""
    while not stop.is_set() and not killed:
        for f in out.glob(".*.partial-*.txt") if out.exists() else ():
            pid = partial_owner(f)[1]
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue  # it finished meanwhile; try the next one
            killed.append(f.name.split(".partial-")[0][1:])
            return
        time.sleep(0.002)


@pytest.mark.slow
def test_killed_worker_is_recorded_then_rerun_is_byte_identical(tmp_path, output_bytes):
    jobs = _long_jobs()
    ref = tmp_path / "ref"
    assert all(r.status == "done" for r in run_batch(jobs, STATIC, ref, LocalBackend(1)).results)
    out = tmp_path / "out"
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_first_worker, args=(out, stop, killed))
    killer.start()
    try:
        hit = run_batch(jobs, STATIC, out, LocalBackend(1))
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was caught mid-video"
    status = {r.name: (r.status, r.error) for r in hit.results}
    assert status[killed[0]] == ("failed", "worker killed by signal SIGKILL")
    assert all(s == "done" for n, (s, _) in status.items() if n != killed[0])
    assert not (out / f"{killed[0]}.txt").exists() and not record_path(out, killed[0]).exists()
    rerun = run_batch(jobs, STATIC, out, LocalBackend(1))
    assert {r.name: r.status for r in rerun.results} == {j.name: "done" if j.name == killed[0] else "skipped"
                                                         for j in jobs}
    assert output_bytes(out) == output_bytes(ref)
    assert not list(out.glob(".*partial*"))


@pytest.mark.slow
def test_killed_run_then_rerun_is_byte_identical(tmp_path, output_bytes):
    """SIGKILL the whole batch (parent and workers) after its first video, then run it again."""
    manifest = tmp_path / "jobs.jsonl"
    manifest.write_text("".join(json.dumps({"source": j.source, "name": j.name, "init": [list(b) for b in j.init]})
                                + "\n" for j in _long_jobs(frames=3000)))
    args = [sys.executable, "-m", "attentrack.tools.cli", "batch", "--manifest", str(manifest), "-m", "static", "--workers", "1",
            "-q", "-o"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    run_batch(_long_jobs(frames=3000), STATIC, ref, LocalBackend(1))
    proc = subprocess.Popen([*args, str(out)], cwd=REPO, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not record_path(out, "clip0").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if record_path(out, "clip2").exists():
        pytest.fail("the run ended before it could be killed")
    assert set(output_bytes(out)) < set(output_bytes(ref))  # interrupted: some outputs missing, none half-written
    assert output_bytes(out) == {k: v for k, v in output_bytes(ref).items() if k in output_bytes(out)}
    subprocess.run([*args, str(out)], cwd=REPO, check=True, timeout=120)
    assert output_bytes(out) == output_bytes(ref)
    assert not list(out.glob(".*partial*"))


@pytest.mark.slow
def test_metrics_are_those_of_eval_mot(data_dir, tmp_path):
    from attentrack.tracker.metrics.mot import evaluate_mot_files

    seq = data_dir / "mot15" / "TUD-Campus"
    summary = run_batch(collect_jobs((str(seq),)), STATIC, tmp_path, LocalBackend(1))
    assert summary.results[0].status == "done" and summary.results[0].frames == 71
    expected = evaluate_mot_files(seq, tmp_path / "TUD-Campus.txt")
    assert summary.metrics.to_dict() == expected.to_dict()
    row = json.loads((tmp_path / "summary.json").read_text())["videos"][0]
    assert row["mota"] == pytest.approx(expected["TUD-Campus"].mota, abs=1e-6)
    assert json.loads((tmp_path / "metrics.json").read_text())["overall"]["sequence"] == "COMBINED"


def test_max_frames_scores_only_the_frames_run(data_dir, tmp_path):
    from dataclasses import replace

    from attentrack.datasets.mot import read_mot
    from attentrack.tracker.metrics.mot import evaluate_mot_files

    seq = data_dir / "mot15" / "TUD-Stadtmitte"
    summary = run_batch(collect_jobs((str(seq),)), replace(STATIC, max_frames=40), tmp_path, LocalBackend(1))
    assert summary.results[0].frames == 40
    row = summary.metrics["TUD-Stadtmitte"]
    # the ground truth of frames 1-40 only: whole-sequence scoring counts frames 41-179 as missed
    gt = read_mot(seq / "gt" / "gt.txt")
    assert (row.frames, row.gt_dets) == (40, int(((gt.frames <= 40) & (gt.conf != 0)).sum()))
    whole = evaluate_mot_files(seq, tmp_path / "TUD-Stadtmitte.txt")["TUD-Stadtmitte"]
    assert whole.fn - row.fn == int(((gt.frames > 40) & (gt.conf != 0)).sum())
    same = evaluate_mot_files(seq, tmp_path / "TUD-Stadtmitte.txt", max_frames=40)["TUD-Stadtmitte"]
    assert row.to_dict() == same.to_dict()


def test_annotated_video_format_and_format_validation(clips, tmp_path):
    import cv2

    from attentrack.tracker.errors import InputError

    jobs = collect_jobs((str(clips / "a.avi"),))
    summary = run_batch(jobs, BatchOptions(model="static", formats=("mot", "video")), tmp_path, LocalBackend(1))
    assert summary.results[0].outputs == ["a.txt", "a.mp4"] and not (tmp_path / "a.jsonl").exists()
    cap = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    cap.release()
    with pytest.raises(InputError, match="always written"):
        BatchOptions(formats=("json",))
    with pytest.raises(InputError, match="unknown output format"):
        BatchOptions(formats=("mot", "gif"))


def test_a_videos_warnings_reach_its_line_the_summary_and_a_resumed_run(clips, tmp_path, run_cli):
    data = (clips / "a.avi").read_bytes()
    (clips / "a.avi").write_bytes(data[: len(data) // 3])  # the header still announces 12 frames
    out = tmp_path / "out"
    args = ["batch", clips / "a.avi", clips / "b.avi", "-m", "static", "-o", out, "--workers", "1"]
    code, stdout, err = run_cli(args)
    assert code == 0, err
    assert "a: done" in stdout and "  warning: a: decoding stopped after" in stdout
    rows = {r["video"]: r for r in json.loads((out / "summary.json").read_text())["videos"]}
    assert rows["a"]["warnings"].startswith("a: decoding stopped after") and rows["b"]["warnings"] == ""
    assert "decoding stopped" in (out / "summary.csv").read_text()
    code, stdout, err = run_cli(args)  # resumed: skipped, but the warning is still reported
    assert code == 0 and "a: skipped" in stdout and "  warning: a: decoding stopped after" in stdout


def test_the_toolkits_warnings_are_kept_once_and_capped_others_shown(recwarn):
    import warnings

    from attentrack.tracker.batch.jobs import MAX_WARNINGS, _warning_lines

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(MAX_WARNINGS + 2):
            warnings.warn(f"clip: problem {k}\n  on two lines")
            warnings.warn(f"clip: problem {k}\n  on two lines")
        warnings.warn("a library's deprecation", DeprecationWarning)
    lines = _warning_lines(caught)
    assert lines == [f"clip: problem {k} on two lines" for k in range(MAX_WARNINGS)] + ["... and 2 more"]
    assert [str(w.message) for w in recwarn] == ["a library's deprecation"]


def test_reconnect_reaches_the_source_and_must_not_be_negative(monkeypatch, tmp_path):
    import attentrack.tracker.sources as sources

    asked = []
    real = sources.open_source

    def spy(spec, reconnect=0):
        asked.append(reconnect)
        return real(spec, reconnect=reconnect)

    monkeypatch.setattr(sources, "open_source", spy)
    job = _long_jobs(1, frames=5)[0]
    run_job(job, BatchOptions(model="static", reconnect=4), tmp_path, "key")
    assert asked == [4]
    with pytest.raises(InputError, match="reconnect must not be negative"):
        BatchOptions(model="static", reconnect=-1)
