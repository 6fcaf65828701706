"""Stopping a run from outside: ``SIGTERM`` is handled as Ctrl-C is.

:func:`sigterm_raises` makes ``SIGTERM`` raise :class:`Terminated` (a ``KeyboardInterrupt``)
in the main thread, so the code that cleans up after Ctrl-C runs for it too: sinks delete
their temporary files, a batch stops its workers and writes its summary, a live stream keeps
what it recorded. A Python signal handler only runs between bytecodes of the main thread, so
a process stuck in native code (a library call that never returns) would ignore it: a
watchdog thread, woken by the signal itself (:func:`signal.set_wakeup_fd`), ends the process
with status 143 when it is still alive ``grace`` seconds later.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

#: the exit status of a process ended by SIGTERM, as shells report it (128 + 15)
SIGTERM_STATUS = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (``SIGTERM``)."""


_received = False


def raise_terminated(signum, frame) -> None:
    """The SIGTERM handler: raise :class:`Terminated` (and remember it, :func:`sigterm_received`).
    Only the first SIGTERM raises: a second one (a batch worker gets the batch's and its dying
    parent's) would interrupt the clean-up the first started and print a traceback; a process that
    does not stop is ended by the watchdog (or, a batch worker, by the batch's SIGKILL)."""
    global _received
    if _received:
        return
    _received = True
    raise Terminated()


def sigterm_received() -> bool:
    """Whether a SIGTERM arrived in the current (or last) :func:`sigterm_raises` block; a library
    that turns the :class:`Terminated` it got into another ``KeyboardInterrupt`` loses nothing."""
    return _received


class _Watchdog:
    """One thread per process that ends it ``grace`` seconds after a SIGTERM (see the module)."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        self.grace: float | None = None
        threading.Thread(target=self._watch, name="attentrack-sigterm-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while True:
            try:
                data = os.read(self.read_fd, 64)
            except OSError:
                return
            if signal.SIGTERM in data and self.grace is not None:
                grace = self.grace
                time.sleep(grace)
                if self.grace is not None:  # still installed, still running: stuck
                    try:
                        os.write(2, f"Terminated (still running {grace:g} s after SIGTERM: stopped).\n".encode())
                    except OSError:
                        pass
                    os._exit(SIGTERM_STATUS)


_watchdog: _Watchdog | None = None
#: blocks of :func:`sigterm_raises` open in the main thread
_active = 0


@contextlib.contextmanager
def sigterm_raises(grace: float | None = 15.0):
    """Within the block, ``SIGTERM`` raises :class:`Terminated` in the main thread, and ends
    the process (status 143) ``grace`` seconds later if it is still running (``None``: never).
    Outside the main thread, or where signals cannot be set, the block runs unchanged."""
    global _watchdog, _active, _received
    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except (ValueError, OSError):  # not the main thread
        yield
        return
    if not _active:
        _received = False
    _active += 1
    old_fd = None
    if grace is not None:
        _watchdog = _watchdog or _Watchdog()
        old_fd = signal.set_wakeup_fd(_watchdog.write_fd, warn_on_full_buffer=False)
        if old_fd not in (-1, _watchdog.write_fd):  # another library listens: leave it its fd
            signal.set_wakeup_fd(old_fd)
            old_fd = None
        else:
            _watchdog.grace = grace
    try:
        yield
    finally:
        _active -= 1
        if _watchdog is not None and not _active:
            _watchdog.grace = None
        if old_fd is not None:
            signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGTERM, previous)


def reclaim_sigterm() -> None:
    """Install :func:`sigterm_raises`'s handler again after a library replaced it (``ray.init``
    installs its own, which ends the process at once; ``ray.shutdown`` leaves the default
    action, which ends it silently); nothing outside a :func:`sigterm_raises` block or the main
    thread."""
    if _active and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, raise_terminated)


def raise_if_terminated() -> None:
    """Raise :class:`Terminated` when a SIGTERM arrived in the current :func:`sigterm_raises`
    block: for loops that wait in a library that may catch the interrupt and carry on (Ray
    turns it into a status of its own in some of its calls)."""
    if _active and _received:
        raise Terminated()
