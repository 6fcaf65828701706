"""SIGTERM raises Terminated (cleanup runs as for Ctrl-C); a process stuck in native code still
ends, with status 143, once the grace period is over."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from attentrack.tracker.termination import SIGTERM_STATUS, Terminated, raise_if_terminated, sigterm_raises

_PYTHON_LOOP = """
import sys, time
from attentrack.tracker.termination import Terminated, sigterm_raises
try:
    with sigterm_raises(grace=30):
        print("ready", flush=True)
        while True:
            time.sleep(0.01)
except Terminated:
    print("cleaned up", flush=True)
    sys.exit(7)
"""

_STUCK_IN_OPENCV = """
import cv2, numpy as np
from attentrack.tracker.termination import sigterm_raises
with sigterm_raises(grace=1):
    print("ready", flush=True)
    cv2.TrackerMIL.create().init(np.zeros((120, 160, 3), np.uint8), (10, 10, 4, 4))  # never returns
"""


def _run_and_term(code: str, wait: float = 20.0) -> tuple[int, str, float]:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=wait)
    finally:
        proc.kill()
    return proc.returncode, out, time.monotonic() - t0


def test_sigterm_raises_terminated_in_python_code():
    code, out, _ = _run_and_term(_PYTHON_LOOP)
    assert code == 7 and "cleaned up" in out


@pytest.mark.slow
def test_sigterm_ends_a_process_stuck_in_native_code():
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_STUCK_IN_OPENCV)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == SIGTERM_STATUS and time.monotonic() - t0 < 10
    assert err.strip() == "Terminated (still running 1 s after SIGTERM: stopped)."  # one line says why


def test_handler_is_restored_and_terminated_is_a_keyboard_interrupt():
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_raises(grace=None):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
    assert issubclass(Terminated, KeyboardInterrupt)


def test_a_second_sigterm_does_not_interrupt_the_first_ones_cleanup():
    """Only the first SIGTERM of a block raises (a batch worker gets the batch's and its dying
    parent's: the second interrupted the worker's exit with a traceback); a new block raises again."""
    import os

    cleaned = []
    for _ in range(2):
        with sigterm_raises(grace=None):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)
                pytest.fail("SIGTERM did not raise")
            except Terminated:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)
                cleaned.append(True)
    assert cleaned == [True, True]


def test_a_sigterm_whose_interrupt_was_caught_is_raised_again():
    """A library that catches the interrupt and carries on (Ray, in some calls) does not make the
    run forget it was told to stop: the loop's check raises it again."""
    import os

    raise_if_terminated()  # outside a block: nothing
    with sigterm_raises(grace=None):
        raise_if_terminated()  # no SIGTERM yet: nothing
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
        except KeyboardInterrupt:
            pass  # what such a library does
        with pytest.raises(Terminated):
            raise_if_terminated()


def test_a_run_stops_at_the_next_frame_when_a_sigterms_interrupt_was_swallowed(tmp_path):
    """A SIGTERM whose interrupt something inside a frame's work caught (a library, a ``__del__``)
    still ends ``run_tracking`` at the next frame, with its outputs' temporary files deleted."""
    import os

    from attentrack.tracker.base import create_tracker
    from attentrack.tracker.pipeline import run_tracking
    from attentrack.tracker.sinks import MotTxtSink
    from attentrack.tracker.sources import open_source

    class Swallowing:
        """A tracker whose second frame gets the SIGTERM and carries on."""

        def __init__(self):
            self.inner, self.frames = create_tracker("static"), 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def update(self, frame):
            self.frames += 1
            if self.frames == 2:
                try:
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.2)
                except KeyboardInterrupt:
                    pass
            return self.inner.update(frame)

    tracker = Swallowing()
    sink = MotTxtSink(tmp_path / "out.txt")
    with sigterm_raises(grace=None), pytest.raises(Terminated):
        run_tracking(open_source("synthetic:frames=1000,size=64x48,objects=1,seed=0"), tracker, [sink],
                     init_boxes=[[5, 5, 10, 10]], progress=False)
    assert tracker.frames == 2 and list(tmp_path.iterdir()) == []
