"""Inputs to jobs: files, folders, MOTChallenge roots, globs, CSV and JSON-lines manifests."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from attentrack.tracker.batch.manifest import collect_jobs, expand_input, read_manifest
from attentrack.tracker.errors import InputError


def _seq(root: Path, name: str, frames: int = 2, gt: bool = True) -> Path:
    img = root / name / "img1"
    img.mkdir(parents=True)
    for i in range(frames):
        cv2.imwrite(str(img / f"{i + 1:06d}.jpg"), np.full((40, 50, 3), 100, np.uint8))
    if gt:
        (root / name / "gt").mkdir()
        (root / name / "gt" / "gt.txt").write_text("1,1,5,5,10,10,1,-1,-1,-1\n")
    return root / name


def test_mot_benchmark_root_gives_every_sequence_with_gt(tmp_path):
    root = tmp_path / "MOT17" / "train"
    _seq(root, "SEQ-02")
    _seq(root, "SEQ-04", gt=False)
    (root / "GT-ONLY" / "gt").mkdir(parents=True)  # no frames: not a job
    for where in (root, tmp_path / "MOT17"):  # the root, or one level above it
        jobs = collect_jobs((str(where),))
        assert [j.name for j in jobs] == ["SEQ-02", "SEQ-04"]
        assert jobs[0].gt == str(root / "SEQ-02" / "gt" / "gt.txt") and jobs[1].gt is None
        assert Path(jobs[0].source).is_absolute()


def test_folder_of_videos_glob_and_synthetic(clips):
    assert [j.name for j in expand_input(str(clips))] == ["a", "b"]
    assert [j.name for j in expand_input(str(clips / "*.avi"))] == ["a", "b"]
    (job,) = expand_input("synthetic:frames=10,size=64x48")
    assert job.source == "synthetic:frames=10,size=64x48,objects=2,seed=0"


def test_glob_of_images_is_one_sequence(tmp_path):
    seq = _seq(tmp_path, "S", frames=3)
    (job,) = expand_input(str(seq / "img1" / "*.jpg"))
    assert job.name == "img1" and job.source.endswith("*.jpg")


def test_csv_and_jsonl_manifests(tmp_path, clips):
    gt = tmp_path / "gt.txt"
    gt.write_text("1,1,20,30,24,24,1,-1,-1,-1\n")
    csv_file = tmp_path / "jobs.csv"
    csv_file.write_text("source,name,init,gt\n"
                        "in/a.avi,first,\"20,30,24,24;1,2,3,4\",gt.txt\n"
                        "in/b.avi,,,\n")
    jobs = read_manifest(str(csv_file))
    assert [j.name for j in jobs] == ["first", "b"]
    assert jobs[0].init == ((20.0, 30.0, 24.0, 24.0), (1.0, 2.0, 3.0, 4.0)) and jobs[0].gt == str(gt)
    assert jobs[1].init == () and jobs[1].gt is None
    jl = tmp_path / "jobs.jsonl"
    jl.write_text(json.dumps({"source": "in/a.avi", "init": [[20, 30, 24, 24]]}) + "\n\n"
                  + json.dumps({"source": "synthetic:frames=5", "name": "syn"}) + "\n")
    jobs = collect_jobs((), (str(jl),))
    assert [j.name for j in jobs] == ["a", "syn"] and jobs[0].init == ((20.0, 30.0, 24.0, 24.0),)
    assert collect_jobs((str(jl),)) == jobs  # a manifest given as an input


@pytest.mark.parametrize("content, needle", [
    ("source,colour\na.avi,red\n", "unknown field 'colour'"),
    ("source,init\nin/a.avi,\"1,2,3\"\n", ":2: init"),
    ("name\nx\n", ":2: no source"),
    ("source,gt\nin/a.avi,missing.txt\n", "ground truth not found"),
])
def test_bad_manifest_rows_name_the_line(tmp_path, clips, content, needle):
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=needle):
        read_manifest(str(path))


def test_duplicate_names_and_nothing_to_do_are_errors(tmp_path, clips):
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.avi").write_bytes((clips / "a.avi").read_bytes())
    with pytest.raises(InputError, match="both named 'a'"):
        collect_jobs((str(clips), str(other / "a.avi")))
    with pytest.raises(InputError, match="no inputs"):
        collect_jobs(())
    with pytest.raises(InputError, match="no such file"):
        collect_jobs((str(tmp_path / "nope"),))
