"""The one registry (attentrack.tracker.registry): the duplicate rule, lazy built-ins, entry-point
plug-ins, the command line's choices and -p options, and a CLI whose --help imports no torch."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from attentrack.tools.options import PROPOSER_CHOICE, TRACKER_CHOICE, parse_params
from attentrack.tracker.base import SingleObjectTracker, create_tracker
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import PROPOSERS, TRACKERS, Registry, RegistryError


def _run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    """Writes ``NAME.py`` with ``source`` into a folder on ``sys.path``; returns the writer."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.delitem(sys.modules, name, raising=False)
        return name

    return write


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Makes ``importlib.metadata.entry_points`` also return the given ``(group, name, value)``
    entry points (nothing is installed); the registries read them again before and after."""
    real = importlib.metadata.entry_points

    def install(*entries: tuple[str, str, str]):
        def entry_points(**select):
            found = list(real(**select))
            for group, name, value in entries:
                if select.get("group") == group:
                    found.append(importlib.metadata.EntryPoint(name=name, value=value, group=group))
            return found

        monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
        TRACKERS.refresh()
        PROPOSERS.refresh()

    yield install
    monkeypatch.undo()
    TRACKERS.refresh()
    PROPOSERS.refresh()


class Thing:
    """A class to register."""


def test_duplicate_rule():
    reg = Registry("thing", "attentrack.test-things", "thing_id")
    reg.register("a", Thing)
    reg.register("a", Thing)  # the same class again: nothing happens
    other = type("Thing", (), {"__module__": __name__, "__qualname__": "Thing"})
    assert reg.register("a", other) is Thing  # the same qualified class (a module imported twice)

    class Different:
        pass

    with pytest.raises(RegistryError) as err:
        reg.register("a", Different)
    message = str(err.value)
    assert "\n" not in message and "'a'" in message and "Different" in message
    assert reg.get("a") is Thing


def test_subclassing_with_a_taken_id_is_an_error():
    with pytest.raises(RegistryError, match="registered twice"):
        class NotStatic(SingleObjectTracker):  # noqa: F841 - the id belongs to the built-in
            tracker_id = "static"

            def init_one(self, frame, box):
                return box

            def update_one(self, state, frame):
                return state, 1.0
    assert create_tracker("static").__class__.__name__ == "StaticTracker"


def test_builtin_entries_are_imported_only_when_asked_for(fake_module):
    name = fake_module("fake_lazy_entry", """
        class Lazy:
            '''A lazily imported entry.

            Args:
                size: pixels.
            '''

            def __init__(self, size: int = 3) -> None:
                self.size = size
        """)
    reg = Registry("thing", "attentrack.test-things", "thing_id", builtins={"lazy": f"{name}:Lazy"})
    assert reg.names() == ["lazy"] and "lazy" in reg and reg.target("lazy") == f"{name}:Lazy"
    assert name not in sys.modules
    built = reg.create("lazy", {"size": "7"})
    assert name in sys.modules and built.size == 7
    assert [(p.name, p.default, p.help) for p in reg.params("lazy")] == [("size", 3, "pixels.")]


def test_listing_builtins_imports_none_of_them():
    out = _run_python("""
        import json, sys
        from attentrack.tracker.registry import REGISTRIES
        names = {group: reg.names() for group, reg in REGISTRIES.items()}
        heavy = [m for m in ("torch", "cv2", "numpy", "attentrack.tracker.trackers.hart",
                             "attentrack.generative", "attentrack.saliency") if m in sys.modules]
        print(json.dumps({"names": names, "heavy": heavy}))
        """)
    result = json.loads(out)
    assert result["heavy"] == []
    assert {"hart", "static", "mil", "sqair", "blobs", "face-attention"} <= set(result["names"]["attentrack.trackers"])
    assert set(result["names"]["attentrack.proposers"]) >= {"mog2", "saliency"}


def test_unknown_name_is_one_line_listing_the_choices():
    for make, noun in ((lambda: create_tracker("no-such-model"), "model"),
                       (lambda: PROPOSERS.create("no-such-source"), "proposal source")):
        with pytest.raises(InputError) as err:
            make()
        message = str(err.value)
        assert "\n" not in message and message.startswith(f"unknown {noun} ")
        assert "available:" in message
    assert "static" in str(pytest.raises(InputError, create_tracker, "nope").value)


def test_bad_p_options_are_one_line_errors():
    with pytest.raises(InputError, match="must look like NAME=VALUE") as err:
        parse_params(("speed",))
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="must look like NAME=VALUE"):
        parse_params(("=3",))
    with pytest.raises(InputError, match="has no option 'speed'") as err:
        create_tracker("mil", parse_params(("speed=3",)))
    assert "\n" not in str(err.value)


def test_options_passed_on_to_the_base_class_are_options_too():
    """A subclass whose ``__init__`` takes ``**options`` and hands them to its base (the checked
    proposer over MOG2) offers the base's options as well, converted and checked the same way."""
    names = {p.name for p in PROPOSERS.params("mog2-pedestrian")}
    assert {"min_probability", "open_height", "split"} <= names
    assert PROPOSERS.options("mog2-pedestrian", {"open_height": "60"}) == {"open_height": 60.0}
    with pytest.raises(InputError, match="has no option 'open_heigth'"):
        PROPOSERS.options("mog2-pedestrian", {"open_heigth": "60"})


def test_every_option_of_a_tracker_or_proposal_source_has_help():
    """The help of ``-p NAME=VALUE`` is the class's Google ``Args:`` entry, one name per line (an
    entry ``a, b: ...`` documents neither); ruff's D417 checks only an ``__init__``'s own docstring."""
    missing = [f"{reg.kind} {name}: {p.name}" for reg in (TRACKERS, PROPOSERS) for name in reg.names()
               for p in reg.params(name) if not p.help]
    assert not missing, "options without help: " + ", ".join(missing)


def test_bad_p_option_on_the_command_line(tmp_path, run_cli):

    for value, needle in (("speed", "NAME=VALUE"), ("nope=1", "has no option")):
        code, out, err = run_cli(["track", tmp_path / "missing.mp4", "-m", "static", "-p", value, "--init", "1,1,5,5",
                                  "-o", tmp_path / "out"])
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and needle in lines[0], err


def test_entry_point_plug_in_is_listed_and_built(fake_module, fake_entry_points, tmp_path, run_cli):
    name = fake_module("fake_tracker_plugin", """
        import numpy as np
        from attentrack.tracker.base import SingleObjectTracker

        class PlugTracker(SingleObjectTracker):
            '''Moves every box right.

            Args:
                speed: pixels per frame.
            '''

            tracker_id = "test-plug"
            summary = "a plug-in"

            def __init__(self, speed: float = 1.0) -> None:
                super().__init__()
                self.speed = speed

            def init_one(self, frame, box):
                return np.asarray(box, float)

            def update_one(self, state, frame):
                state += [self.speed, 0, 0, 0]
                return state, 1.0
        """)
    fake_entry_points(("attentrack.trackers", "test-plug", f"{name}:PlugTracker"))
    try:
        assert "test-plug" in TRACKER_CHOICE.choices and name not in sys.modules
        tracker = create_tracker("test-plug", {"speed": "2.5"})
        frame = np.zeros((8, 8, 3), np.uint8)
        tracker.start(frame, [[1, 1, 2, 2]])
        np.testing.assert_allclose(tracker.update(frame)[0].box, [3.5, 1, 2, 2])


        code, out, _ = run_cli(["models"])
        assert code == 0 and "test-plug: a plug-in [options: speed=1.0]" in out
        code, out, _ = run_cli(["track", "--help"])
        assert code == 0 and "test-plug" in out
    finally:
        TRACKERS.unregister("test-plug")


def test_entry_point_taking_a_builtin_id_is_an_error(fake_entry_points):
    fake_entry_points(("attentrack.trackers", "static", "somewhere_else:Static"))
    with pytest.raises(RegistryError, match="taken by the built-in"):
        TRACKERS.names()


def test_choices_do_not_depend_on_import_order():
    probe = """
        import json
        {imports}
        from attentrack.tools.batch_cmd import batch_command
        from attentrack.tools.track_cmd import track_command

        def choices(command, option):
            return [p for p in command.params if p.name == option][0].type.choices

        print(json.dumps({{"batch": choices(batch_command, "proposals"), "track": choices(track_command, "proposals"),
                          "models": choices(batch_command, "model")}}))
        """
    alone = json.loads(_run_python(probe.format(imports="import attentrack.tools.batch_cmd")))
    via_cli = json.loads(_run_python(probe.format(imports="import attentrack.tools.cli")))
    assert alone == via_cli
    assert alone["batch"] == alone["track"] == PROPOSER_CHOICE.choices
    assert {"mog2", "saliency"} <= set(alone["batch"]) and "hart" in alone["models"]


@pytest.mark.parametrize("entry", ["main", "track_main"])
def test_help_imports_neither_torch_nor_opencv(entry):
    out = _run_python(f"""
        import json, sys
        from attentrack.tools.cli import {entry}
        try:
            {entry}(["--help"])
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        print(json.dumps([m for m in ("torch", "cv2", "attentrack.generative") if m in sys.modules]))
        """)
    help_text, loaded = out.rsplit("\n", 2)[0], json.loads(out.strip().splitlines()[-1])
    assert loaded == [] and "Usage:" in help_text


@pytest.mark.slow
def test_tracker_core_does_not_import_generative():
    out = _run_python("""
        import sys
        from attentrack.tracker.base import create_tracker
        import attentrack.tracker.trackers, attentrack.tracker.pipeline, attentrack.tracker.runner
        create_tracker("static"), create_tracker("mil")
        print(sorted(m for m in sys.modules if m.startswith(("attentrack.generative", "attentrack.saliency"))))
        """)
    assert out.strip() == "[]"
