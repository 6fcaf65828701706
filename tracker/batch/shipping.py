"""attentrack's own code, as the nodes of a cluster get it: the files of the package, a
copy of them to ship (Ray's ``py_modules``), and a fingerprint to check that every node runs
the same code as the driver.

The package's files are its top-level ``*.py`` files and everything inside its subpackages
(the folders holding an ``__init__.py``: code, shipped weights, model cards), without
``__pycache__`` or hidden files; in a source checkout, where the package's folder is the
repository, that leaves out ``tests/``, ``docs/`` and ``.git``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def package_root() -> Path:
    """The folder of the imported ``attentrack`` package."""
    import attentrack

    return Path(attentrack.__file__).resolve().parent


def package_files(root: str | os.PathLike | None = None) -> list[Path]:
    """The package's files (see the module docstring), relative to ``root`` (default:
    :func:`package_root`), sorted."""
    root = Path(root) if root is not None else package_root()
    files = [p.relative_to(root) for p in root.glob("*.py")]
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()):
        for dirpath, dirnames, filenames in os.walk(sub):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            files += [(Path(dirpath) / f).relative_to(root) for f in filenames if not f.startswith(".")]
    return sorted(files)


def code_fingerprint(root: str | os.PathLike | None = None) -> str:
    """A sha256 hex digest of the package's Python files (names and bytes): equal on two
    machines when they run the same code."""
    root = Path(root) if root is not None else package_root()
    h = hashlib.sha256()
    for rel in package_files(root):
        if rel.suffix == ".py":
            h.update(rel.as_posix().encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return h.hexdigest()


def installed_version() -> str:
    """The version of the installed ``attentrack`` distribution (``"unknown"`` when not installed)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("attentrack")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def stage_package(dest: str | os.PathLike) -> Path:
    """Copy the package's files into ``dest/attentrack`` (hard links where the file system
    allows) and return that folder, ready to be shipped as a module named ``attentrack``."""
    root = package_root()
    target = Path(dest) / "attentrack"
    for rel in package_files(root):
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(root / rel, out)
        except OSError:
            shutil.copy2(root / rel, out)
    return target
