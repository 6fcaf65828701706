"""Where the real data lives: ``$ATTENTRACK_DATA``, else ``../shared/data`` beside the
checkout or the working directory."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "ATTENTRACK_DATA"


def data_root(required: bool = False) -> Path | None:
    """The data folder, or ``None`` when none is found (``required`` raises instead)."""
    candidates = []
    if os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    repo = Path(__file__).resolve().parent.parent
    candidates += [repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data",
                   Path.cwd() / "shared" / "data"]
    for c in candidates:
        if (c / "README.md").is_file() or any(c.glob("*")) if c.is_dir() else False:
            return c
    if required:
        from attentrack.tracker.errors import InputError

        raise InputError(
            f"data folder not found; set {ENV_VAR} to the folder holding mot15/, sot/, digits/"
        )
    return None
