"""The installed distribution is one package, ``attentrack``, that coexists with other
top-level ``datasets``/``tools`` packages in a user's environment."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]
SUBPACKAGES = ("tracker", "generative", "saliency", "datasets", "tools")


def _source_packages() -> set[str]:
    """``attentrack.*`` names of every folder of the checkout that holds an ``__init__.py``."""
    names = {"attentrack"}
    for top in SUBPACKAGES:
        for init in (REPO / top).rglob("__init__.py"):
            names.add("attentrack." + ".".join(init.parent.relative_to(REPO).parts))
    return names


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"attentrack": "."}
    assert set(config["packages"]) == _source_packages()


def _builds_wheels_offline() -> bool:
    import setuptools

    return tuple(int(p) for p in setuptools.__version__.split(".")[:2]) >= (70, 1)


@pytest.mark.slow
@pytest.mark.skipif(not _builds_wheels_offline(), reason="needs setuptools >= 70.1 (the dev extra) to build offline")
def test_wheel_holds_only_attentrack(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("attentrack-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"attentrack"}
    assert "attentrack/__init__.py" in names and "attentrack/__main__.py" in names
    assert not any(n.startswith("attentrack/tests/") for n in names)
    for weights in ("tracker/weights/hart.pt", "tracker/weights/HART_MODEL_CARD.md",
                    "tracker/weights/sqair_moving_mnist.pt", "generative/face/weights/face.pt",
                    "generative/weights/draw.pt", "saliency/weights/pedestrian.pt"):
        assert f"attentrack/{weights}" in names
    packages = {"attentrack." + ".".join(n.split("/")[1:-1]) if n.count("/") > 1 else "attentrack"
                for n in names if n.endswith("/__init__.py")}
    assert packages == _source_packages()


def test_coexists_with_another_top_level_datasets_package(tmp_path):
    """A HuggingFace-like ``datasets`` (and ``tools``) on ``sys.path`` and attentrack import side by side."""
    fake = tmp_path / "datasets"
    fake.mkdir()
    (fake / "__init__.py").write_text("def load_dataset(name):\n    return 'fake ' + name\n")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("WHO = 'other tools'\n")
    code = (
        "import datasets, tools\n"
        "from datasets import load_dataset\n"
        "import attentrack.datasets.mot as mot, attentrack.datasets.download\n"
        "import attentrack.tools.cli\n"
        "assert load_dataset('x') == 'fake x' and tools.WHO == 'other tools'\n"
        "assert mot.__name__ == 'attentrack.datasets.mot'\n"
        "assert datasets.__file__.startswith(%r)\n"
        "print('ok')\n" % str(tmp_path)
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_python_dash_m_attentrack_is_the_command():
    proc = subprocess.run([sys.executable, "-m", "attentrack", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "attentrack: video object tracking" in proc.stdout


def test_import_attentrack_is_light_and_public_names_resolve():
    code = ("import sys, attentrack\n"
            "assert 'torch' not in sys.modules and 'cv2' not in sys.modules\n"
            "print(' '.join(attentrack.__all__))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    import attentrack

    for name in proc.stdout.split():
        assert getattr(attentrack, name) is not None
    with pytest.raises(AttributeError):
        attentrack.no_such_name  # noqa: B018
