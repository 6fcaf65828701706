"""Temporary output names carry their writer's host and PID; what dead writers left is removed,
what live ones (here or on another node) write is kept; output folders and names are checked."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from attentrack.tracker import atomic
from attentrack.tracker.atomic import (
    AtomicPath,
    check_output_name,
    is_stale,
    make_folder,
    node_name,
    partial_owner,
    partial_path,
    remove_stale_partials,
)
from attentrack.tracker.errors import InputError


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_partial_names_say_host_and_pid(tmp_path):
    p = partial_path(tmp_path / "clip.mp4")
    assert p.parent == tmp_path and p.suffix == ".mp4" and p.name.startswith(".clip.partial-")
    assert partial_owner(p) == (node_name(), os.getpid())
    assert partial_owner(partial_path(tmp_path / "clip_crops", folder=True)) == (node_name(), os.getpid())
    assert partial_owner(tmp_path / ".clip.partial-1234.txt") == ("", 1234)  # written before hosts were recorded
    assert partial_owner(tmp_path / "clip.txt") is None
    assert partial_owner(tmp_path / ".clip.partial-abcdef") is None  # not ours to judge


def test_stale_means_a_dead_local_process_or_a_long_silent_foreign_one(tmp_path, monkeypatch):
    dead = _dead_pid()
    here = node_name()
    files = {name: tmp_path / name for name in (
        f".a.partial-{here}-{dead}.txt", f".b.partial-{here}-{os.getpid()}.txt", f".c.partial-{dead}.txt",
        f".d.partial-{here}-{os.getppid()}.txt", f".e.partial-othernode-{dead}.txt", ".f.partial-othernode-1.txt")}
    for p in files.values():
        p.write_text("x")
    old = time.time() - atomic.FOREIGN_STALE_SECONDS - 60
    os.utime(files[".f.partial-othernode-1.txt"], (old, old))
    stale = {p.name for p in files.values() if is_stale(p)}
    # dead here: stale; this process and a live one: kept; another node: kept until silent for long
    assert stale == {f".a.partial-{here}-{dead}.txt", f".c.partial-{dead}.txt", ".f.partial-othernode-1.txt"}


def test_remove_stale_partials_files_and_folders_by_name(tmp_path):
    dead = _dead_pid()
    here = node_name()
    (tmp_path / f".a.partial-{here}-{dead}.txt").write_text("x")
    (tmp_path / f".b.partial-{here}-{dead}.txt").write_text("x")
    (tmp_path / f".a_crops.partial-{here}-{dead}").mkdir()
    (tmp_path / f".a_crops.partial-{here}-{dead}" / "1.jpg").write_text("x")
    (tmp_path / f".a.partial-{here}-{os.getpid()}.txt").write_text("mine")
    assert [p.name for p in remove_stale_partials(tmp_path, "a")] == [f".a.partial-{here}-{dead}.txt"]
    assert {p.name for p in remove_stale_partials(tmp_path)} == {f".b.partial-{here}-{dead}.txt",
                                                                  f".a_crops.partial-{here}-{dead}"}
    assert [p.name for p in tmp_path.iterdir()] == [f".a.partial-{here}-{os.getpid()}.txt"]
    assert remove_stale_partials(tmp_path / "missing") == []


def test_make_folder_names_what_is_in_the_way(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"file is not a folder"):
        make_folder(tmp_path / "file" / "out")
    with pytest.raises(InputError, match=r"/dev/null is not a folder"):
        make_folder("/dev/null")
    assert make_folder(tmp_path / "a" / "b").is_dir()


def test_output_names_stay_inside_the_folder():
    assert check_output_name("clip-1.b") == "clip-1.b"
    for bad in ("../x", "a/b", "..", ".", "", ".hidden", "a\\b"):
        with pytest.raises(InputError, match="plain file name"):
            check_output_name(bad)


def test_atomic_path_refuses_a_folder_target(tmp_path):
    (tmp_path / "out.txt").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        AtomicPath(tmp_path / "out.txt")
