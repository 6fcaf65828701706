"""``attentrack batch`` on bad input: one line on stderr, exit status 2, nothing written."""

from __future__ import annotations

import pytest


def _cases(tmp_path, clips):
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("source,init\nin/a.avi,\"1,2\"\n")
    out = tmp_path / "out"
    base = ["-m", "static", "-o", out]
    return {
        "missing input": (["batch", tmp_path / "nope.mp4", *base], "no such file"),
        "no inputs": (["batch", *base], "no inputs"),
        "empty folder": (["batch", tmp_path / "empty", *base], "no videos"),
        "glob matching nothing": (["batch", str(tmp_path / "*.mkv"), *base], "nothing matches"),
        "bad manifest box": (["batch", "--manifest", bad_csv, *base], "bad.csv:2: init"),
        "missing manifest": (["batch", "--manifest", tmp_path / "none.csv", *base], "manifest not found"),
        "bad synthetic spec": (["batch", "synthetic:frames=ten", *base], "not key=integer"),
        "bad model option": (["batch", clips, "-m", "static", "-p", "speed=3", "-o", out], "option"),
        "unknown model": (["batch", clips, "-m", "nope", "-o", out], "unknown model"),
        "duplicate names": (["batch", clips / "a.avi", clips / "a.avi", *base], "both named"),
        "negative reconnect": (["batch", clips, "--reconnect", "-1", *base], "--reconnect"),
    }


CASES = ["missing input", "no inputs", "empty folder", "glob matching nothing", "bad manifest box",
         "missing manifest", "bad synthetic spec", "bad model option", "unknown model", "duplicate names",
         "negative reconnect"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_2(case, tmp_path, clips, run_cli):
    (tmp_path / "empty").mkdir()
    args, needle = _cases(tmp_path, clips)[case]
    code, out, err = run_cli(args)
    assert code == 2, (code, out, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "Traceback" not in err, err
    assert needle.lower() in lines[0].lower(), lines[0]
    assert not (tmp_path / "out").exists()


def test_case_list_is_complete(tmp_path, clips):
    assert sorted(CASES) == sorted(_cases(tmp_path, clips))


def test_ray_backend_without_a_cluster_is_one_line(tmp_path, clips, monkeypatch, run_cli):
    pytest.importorskip("ray", reason="Ray is not installed")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path / "ray"))  # no session files of another Ray here
    code, _, err = run_cli(["batch", clips, "-m", "static", "-o", tmp_path / "out", "--backend", "ray"])
    assert code == 2 and err.startswith("Error: cannot connect to a Ray cluster"), err
