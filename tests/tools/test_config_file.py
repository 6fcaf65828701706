"""``--config FILE``: the settings of -p, -r and -P read from an INI file, which the command line
overrides; a bad file is one line naming it."""

from __future__ import annotations

import pytest

from attentrack.tools.options import read_config
from attentrack.tracker.errors import InputError


def test_tables_names_and_comments_are_read(tmp_path):
    path = tmp_path / "camera.ini"
    path.write_text("# a camera's settings\n[runner]\nmax-lost = 60   # frames\nstart_score = 30\n"
                    "[proposals]\nopen_height = 60\n")
    assert read_config(str(path)) == {"model": {}, "runner": {"max_lost": "60", "start_score": "30"},
                                      "proposals": {"open_height": "60"}}
    assert read_config(None) == {"model": {}, "runner": {}, "proposals": {}}


@pytest.mark.parametrize("text, message", [
    ("max_lost = 3\n", "no section headers"),
    ("[runer]\nmax_lost = 3\n", r"no table \[runer\] here; this command takes \[model\], \[runner\], \[proposals\]"),
    ("[runner]\nmax_lost = 3\nmax_lost = 4\n", "max_lost"),
])
def test_bad_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "bad.ini"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_config(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InputError, match="config file not found"):
        read_config(str(tmp_path / "none.ini"))


def test_a_command_takes_only_its_tables(tmp_path):
    path = tmp_path / "c.ini"
    path.write_text("[model]\nweights = w.pt\n")
    with pytest.raises(InputError, match=r"this command takes \[runner\]$"):
        read_config(str(path), tables=("runner",))


def test_track_applies_the_file_and_the_command_line_overrides_it(tmp_path, clip, run_cli):
    config = tmp_path / "c.ini"
    config.write_text("[runner]\nmin_inside = 2\n")  # out of range: proves the file is read
    base = ["track", clip, "-m", "static", "--init", "20,30,24,24", "--no-video", "-q", "--config", config]
    code, _, err = run_cli([*base, "-o", tmp_path / "a"])
    assert code == 2 and "min_inside must be in [0, 1]" in err and not (tmp_path / "a").exists()
    code, _, err = run_cli([*base, "-o", tmp_path / "b", "-r", "min_inside=0.3"])
    assert code == 0, err
    assert (tmp_path / "b" / "clip.txt").read_text().count("\n") == 12


@pytest.mark.parametrize("command", [
    ["eval", "association", "--seeds", "1"],
    ["eval", "pipelines", "-m", "static"],
    ["batch", "-m", "static", "--workers", "1", "-q"],
])
def test_every_command_with_a_runner_reads_the_file(tmp_path, clip, run_cli, command):
    config = tmp_path / "c.ini"
    config.write_text("[runner]\nmax_lost = many\n")
    code, _, err = run_cli([*command, "--config", config, *(["-o", tmp_path / "b", clip] if command[0] == "batch"
                                                           else [tmp_path])])
    assert code == 2 and "max_lost='many' is not a valid int" in err and len(err.strip().splitlines()) == 1
