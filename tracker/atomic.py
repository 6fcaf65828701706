"""Crash-safe output files: write to a temporary name beside the target, then rename.

An interrupted run leaves at most a hidden ``.NAME.partial-HOST-PID.EXT`` file, never a file
under the final name that looks complete. The temporary name says which process on which
machine writes it, so that a later run can delete what a dead process left
(:func:`remove_stale_partials`) without touching what a live one, on this machine or on
another node of a shared file system, is still writing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import time
from pathlib import Path

from attentrack.tracker.errors import InputError

#: marks a temporary name: ``.NAME.partial-HOST-PID.EXT``
PARTIAL_MARK = ".partial-"
#: a temporary file another node writes is stale once unmodified for this long (seconds);
#: its process cannot be asked whether it is alive
FOREIGN_STALE_SECONDS = 6 * 3600.0


def node_name() -> str:
    """This machine's host name as it appears in temporary names (letters, digits, ``_``)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", socket.gethostname()).strip("_") or "host"


def partial_path(path: str | os.PathLike, folder: bool = False) -> Path:
    """The temporary name used while ``path`` is written (``.NAME.partial-HOST-PID.EXT``); a
    file keeps its extension (OpenCV's VideoWriter picks the container from it), a ``folder``
    its whole name (``.NAME.partial-HOST-PID``)."""
    p = Path(path)
    stem, suffix = (p.name, "") if folder else (p.stem, p.suffix)
    return p.with_name(f".{stem}{PARTIAL_MARK}{node_name()}-{os.getpid()}{suffix}")


def partial_owner(path: str | os.PathLike) -> tuple[str, int] | None:
    """``(host, pid)`` of the process writing temporary file ``path``; ``host`` is ``""`` for
    names written before hosts were recorded (``.NAME.partial-PID.EXT``); ``None`` when
    ``path`` is not a temporary name."""
    name = Path(path).name
    if PARTIAL_MARK not in name:
        return None
    tag = name.rsplit(PARTIAL_MARK, 1)[1].split(".")[0]
    host, _, pid = tag.rpartition("-")
    return (host, int(pid)) if pid.isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine is running (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:][:1] != "Z"


def is_stale(path: str | os.PathLike, now: float | None = None) -> bool:
    """Whether temporary file ``path`` was left by a process that is gone: one of this machine
    whose PID is dead, or one of another node that has not touched it for
    :data:`FOREIGN_STALE_SECONDS`. A PID of this process is never stale."""
    owner = partial_owner(path)
    if owner is None:
        return False
    host, pid = owner
    if host in ("", node_name()):
        return pid != os.getpid() and not pid_alive(pid)
    try:
        age = (time.time() if now is None else now) - Path(path).stat().st_mtime
    except OSError:
        return False
    return age > FOREIGN_STALE_SECONDS


def partial_files(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """The temporary files and folders in ``folder`` (:func:`partial_path` names), those of
    output ``name`` only when it is given."""
    import glob as globmod

    pattern = f".{globmod.escape(name)}{PARTIAL_MARK}*" if name else f".*{PARTIAL_MARK}*"
    return list(Path(folder).glob(pattern))


def remove_stale_partials(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete the temporary files and folders in ``folder`` that dead processes left
    (:func:`is_stale`), those of output ``name`` only when it is given; returns them."""
    import shutil

    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in partial_files(folder, name):
        if not is_stale(p):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        removed.append(p)
    return removed


def check_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """``path`` when it is, or can be created as, a folder this process may write into; nothing
    is created.

    Raises:
        InputError: ``path`` or the nearest existing folder above it is a file (or a device), or
            is not writable (one line naming it).
    """
    p = Path(path)
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                raise InputError(f"cannot use {what} {p}: {q} is not a folder")
            if not os.access(q, os.W_OK | os.X_OK):
                raise InputError(f"cannot write into {what} {p}: permission denied")
            break
    return p


def make_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create folder ``path`` (and its parents) unless it exists.

    Raises:
        InputError: as :func:`check_folder`, or the folder cannot be created.
    """
    p = check_folder(path, what)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {what} {p}: {exc.strerror or exc}") from None
    return p


def check_output_name(name: str) -> str:
    """``name`` when it is a plain file name an output may take inside its folder.

    Raises:
        InputError: a name with a folder part (a slash or backslash, ``..``), empty, or hidden.
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
        raise InputError(f"output name {name!r} must be a plain file name (no folders, not hidden), "
                         "so that outputs stay inside the output folder")
    return name


class AtomicPath:
    """A temporary path that becomes ``target`` on :meth:`commit` or vanishes on :meth:`abort`.

    Raises:
        InputError: ``target``'s folder cannot be created or written, or ``target`` is a folder.
    """

    def __init__(self, target: str | os.PathLike) -> None:
        self.target = Path(target)
        make_folder(self.target.parent)
        if self.target.is_dir():
            raise InputError(f"cannot write {self.target}: it is a folder")
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


#: ``errno`` values of a write that failed for a reason outside the program (full or
#: read-only disk, quota, I/O error), reported as one line by the command line
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})
