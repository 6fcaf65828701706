"""Crash-safe output files: write to a temporary name beside the target, then rename.

An interrupted run leaves at most a ``.partial`` file, never a file under the final name
that looks complete.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary name used while ``path`` is written; it keeps the extension
    (OpenCV's VideoWriter picks the container from it)."""
    p = Path(path)
    return p.with_name(f".{p.stem}.partial-{os.getpid()}{p.suffix}")


class AtomicPath:
    """A temporary path that becomes ``target`` on :meth:`commit` or vanishes on :meth:`abort`."""

    def __init__(self, target: str | os.PathLike) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = partial_path(self.target)
        self.done = False

    def commit(self) -> Path:
        """Move the temporary file into place (atomic on one filesystem)."""
        os.replace(self.tmp, self.target)
        self.done = True
        return self.target

    def abort(self) -> None:
        """Delete the temporary file, if any."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)
        self.done = True


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs):
    """``open()`` for writing that only creates ``path`` when the block completes."""
    ap = AtomicPath(path)
    try:
        with open(ap.tmp, mode, **open_kwargs) as fh:
            yield fh
    except BaseException:
        ap.abort()
        raise
    ap.commit()
