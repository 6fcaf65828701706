"""The fault table: hostile but realistic uses of the command line, each run in a fresh
process, with what it left behind (issue 31).

Every :class:`FaultCase` builds its inputs in a folder of its own, runs ``python -m attentrack
...`` there in a new session (so that every process it starts can be found and counted),
optionally signals it part-way (``SIGTERM``, ``SIGKILL``, or ``SIGKILL`` to the process pool's
fork server), and records a :class:`FaultOutcome`: the exit status (``hang`` when it had to be
killed), the one line it printed, the files it left and the processes still running after it
ended. :meth:`FaultCase.problems` says how an outcome falls short of the case's expectation;
``tests/faults/test_faults.py`` asserts that there are none.

``attentrack bench faults`` prints the table; ``--code DIR`` runs the same cases against
another checkout (e.g. ``git archive 4dc8a7e``, the code before issue 31, unpacked in ``DIR``)
for the "before" rows.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click

#: a long synthetic clip: a run that is still going when the case signals it
LONG_CLIP = "synthetic:frames=1000000,size=64x48,objects=1,seed={seed}"
#: the box of the moving square in the first frame of :func:`write_clip`'s clip
CLIP_BOX = "20,30,24,24"
#: seconds a case may run before it counts as a hang
HANG_SECONDS = 25.0
#: a process of the case still running this many seconds after the command ended was left behind
#: (a process pool's fork server takes up to a second to notice its batch is gone)
SETTLE_SECONDS = 3.0


# -- inputs --------------------------------------------------------------------------------------


def write_clip(path: Path, frames: int = 30, size: tuple[int, int] = (160, 120)) -> None:
    """An MJPG clip of a textured square moving over a textured background; the square is
    at :data:`CLIP_BOX` (``x, y, w, h`` pixels) in the first frame and moves 2 px right a frame."""
    import cv2
    import numpy as np

    w, h = size
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.uniform(40, 140, (h, w, 3)), (0, 0), 3).astype(np.uint8)
    patch = (np.kron(rng.integers(0, 2, (5, 5, 1)) * 200 + 30, np.ones((5, 5, 3)))[:24, :24]).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    for i in range(frames):
        f = background.copy()
        x = 20 + 2 * i
        f[30:54, x:x + 24] = patch[:, :max(0, min(24, w - x))]
        writer.write(f)
    writer.release()


def _setup_clip(work: Path) -> None:
    write_clip(work / "clip.avi")


def _setup_tiny_sequence(work: Path) -> None:
    """A MOTChallenge sequence whose one ground-truth track is a 3x3 box."""
    seq = work / "Tiny"
    (seq / "gt").mkdir(parents=True)
    write_clip(seq / "Tiny.avi", frames=10)
    (seq / "gt" / "gt.txt").write_text("".join(f"{i},1,{20 + 2 * i},40,3,3,1,-1,-1,-1\n" for i in range(1, 11)))


def _setup_tiny_manifest(work: Path) -> None:
    _setup_clip(work)
    (work / "jobs.csv").write_text(f'source,name,init\nclip.avi,tiny,"10,10,3,3"\nclip.avi,ok,"{CLIP_BOX}"\n')


def _setup_bad_gt_manifest(work: Path) -> None:
    _setup_clip(work)
    (work / "gt.txt").write_text("1,1,20,30,24,24,1,-1,-1,-1\n2,1,twenty,30,24,24,1,-1,-1,-1\n")
    (work / "jobs.csv").write_text(f'source,name,init,gt\nclip.avi,a,"{CLIP_BOX}",gt.txt\nclip.avi,b,,\n')


def _setup_file_in_the_way(work: Path) -> None:
    _setup_clip(work)
    (work / "notadir").write_text("a regular file\n")


def _setup_folder_named_like_output(work: Path) -> None:
    _setup_clip(work)
    (work / "out" / "clip.txt").mkdir(parents=True)


def _setup_empty_gt(work: Path) -> None:
    (work / "gt.txt").write_text("")
    (work / "pred.txt").write_text("1,1,20,30,24,24,1,-1,-1,-1\n")


# -- cases ---------------------------------------------------------------------------------------


@dataclass
class FaultCase:
    """One hostile use of the command line and what it should do.

    Attributes:
        name: short id (``--case`` of ``bench faults``).
        issue: the problem as the issue reported it.
        args: ``attentrack`` arguments, run in the case's folder.
        setup: writes the inputs into the case's folder.
        signal_when: ``(signal name, glob)``: send the signal once a file matching the glob
            (relative to the case's folder) exists; the name is ``TERM``, ``KILL`` or
            ``KILL-FORKSERVER`` (SIGKILL to the batch's process-pool fork server).
        then: arguments of a second command run after the first one ended (e.g. a rerun);
            the outcome is the second command's, the files and processes are what both left.
        exit: the expected exit status.
        message: text the one-line message must hold (case-insensitive).
        absent: globs (relative to the case's folder) that must match nothing afterwards.
        present: globs that must match something afterwards.
        contains: ``{file: text}`` that each file must hold afterwards.
        seconds: the time limit of each command (a command still running then is a hang).
    """

    name: str
    issue: str
    args: list[str]
    setup: Callable[[Path], None] | None = _setup_clip
    signal_when: tuple[str, str] | None = None
    then: list[str] | None = None
    exit: int = 2
    message: str = ""
    absent: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    contains: dict[str, str] = field(default_factory=dict)
    seconds: float = HANG_SECONDS

    def problems(self, outcome: "FaultOutcome", work: Path) -> list[str]:
        """How ``outcome`` (run in ``work``) falls short of this case's expectation; empty when it
        does not. Always checked: no traceback, no process left running, no ``.partial`` file
        left, and (for errors) one line on stderr."""
        out = []
        if outcome.exit != self.exit:
            out.append(f"exit status {outcome.exit}, expected {self.exit}")
        if "Traceback" in outcome.stderr:
            out.append(f"a traceback: {outcome.message}")
        if self.message and self.message.lower() not in outcome.message.lower():
            out.append(f"message {outcome.message!r} does not say {self.message!r}")
        if self.exit == 2 and len([ln for ln in outcome.stderr.splitlines() if ln.strip()]) != 1:
            out.append(f"not one line on stderr: {outcome.stderr!r}")
        if outcome.processes_left:
            out.append(f"{outcome.processes_left} processes still running after it ended")
        partials = [f for f in outcome.files if ".partial" in f]
        if partials:
            out.append(f"partial files left: {', '.join(partials)}")
        for pattern in self.absent:
            found = sorted(str(p.relative_to(work)) for p in work.glob(pattern))
            if found:
                out.append(f"{pattern} should not exist: {', '.join(found)}")
        for pattern in self.present:
            if not any(work.glob(pattern)):
                out.append(f"{pattern} is missing")
        for name, text in self.contains.items():
            path = work / name
            body = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
            if text.lower() not in body.lower():
                out.append(f"{name} does not hold {text!r}")
        return out


_TRACK = ["track", "clip.avi", "-q", "--no-video"]
_STATIC = [*_TRACK, "-m", "static", "--init", CLIP_BOX]

FAULT_CASES: list[FaultCase] = [
    # -- hangs and orphans
    FaultCase("mil-tiny-box", "track -m mil --init with a 4x4 box hangs in OpenCV's TrackerMIL.init",
              [*_TRACK, "-m", "mil", "--init", "10,10,4,4", "-o", "out"],
              message="too small for mil", absent=("out",)),
    FaultCase("eval-sot-mil-tiny", "eval sot -m mil on a sequence with a 3x3 box hangs",
              ["eval", "sot", "-m", "mil", "Tiny"], setup=_setup_tiny_sequence, message="too small for mil"),
    FaultCase("batch-mil-tiny", "a batch holding a video with a 3x3 box hangs",
              ["batch", "--manifest", "jobs.csv", "-m", "mil", "--workers", "2", "-o", "out", "-q"],
              setup=_setup_tiny_manifest, exit=1, message="1 of 2 videos failed: tiny",
              present=("out/ok.txt", "out/summary.csv"), absent=("out/tiny.*",),
              contains={"out/summary.csv": "too small for mil"}),
    FaultCase("batch-video-timeout", "no per-video time limit in batch",
              ["batch", LONG_CLIP.format(seed=0), "clip.avi", "-m", "static", "--video-timeout", "4",
               "-o", "out", "-q"],
              exit=1, message="1 of 2 videos failed", present=("out/clip.txt", "out/summary.csv"),
              absent=("out/synthetic*.txt",), contains={"out/summary.csv": "time limit"}),
    FaultCase("batch-sigterm", "kill -TERM of batch leaves workers running, which write outputs later; "
              "no summary",
              ["batch", "clip.avi", LONG_CLIP.format(seed=1), LONG_CLIP.format(seed=2), LONG_CLIP.format(seed=3),
               "-m", "static", "--workers", "2", "-o", "out", "-q"],
              signal_when=("TERM", "out/.synthetic*partial*"), exit=143, message="terminated",
              absent=("out/synthetic*.txt", "out/synthetic*.jsonl"), present=("out/summary.json",),
              contains={"out/summary.csv": "interrupted"}),
    FaultCase("batch-forkserver-killed", "killing the pool's fork server: b reported failed while its orphan "
              "writes b.txt; Aborted, exit 130, no summary",
              ["batch", "clip.avi", "synthetic:frames=30000,size=64x48,objects=1,seed=4",
               "synthetic:frames=50,size=64x48,objects=1,seed=5", "-m", "static", "--workers", "1", "-o", "out", "-q"],
              signal_when=("KILL-FORKSERVER", "out/.synthetic-30000*partial*"), exit=1,
              message="1 of 3 videos failed: synthetic-30000", seconds=60,
              present=("out/summary.csv", "out/clip.txt", "out/synthetic-50-*.txt"), absent=("out/synthetic-30000*",),
              contains={"out/summary.csv": "fork server died"}),
    FaultCase("ray-batch-sigterm", "kill -TERM of a Ray batch: every worker stops (and Ray with it)",
              ["batch", LONG_CLIP.format(seed=6), "-m", "static", "--backend", "ray", "--address", "local",
               "--workers", "1", "-o", "out", "-q"],
              setup=None, signal_when=("TERM", "out/.synthetic*partial*"), exit=143, message="terminated",
              seconds=90, absent=("out/synthetic*.txt",), contains={"out/summary.csv": "interrupted"}),
    # -- tracebacks instead of one-line errors
    FaultCase("mil-box-fills-height", "track -m mil --init with a box as high as the frame: cv2.error traceback",
              [*_TRACK, "-m", "mil", "--init", "0,0,60,120", "-o", "out"], exit=0, present=("out/clip.txt",)),
    FaultCase("output-under-a-file", "-o under a regular file: NotADirectoryError",
              [*_STATIC, "-o", "notadir/out"], setup=_setup_file_in_the_way, message="not a folder"),
    FaultCase("output-dev-full", "-o /dev/full: FileExistsError", [*_STATIC, "-o", "/dev/full"],
              message="not a folder"),
    FaultCase("output-name-is-a-folder", "an output name taken by a folder: IsADirectoryError",
              [*_STATIC, "-o", "out"], setup=_setup_folder_named_like_output, message="is a folder",
              absent=("out/.*",)),
    FaultCase("batch-output-under-a-file", "batch -o under a regular file",
              ["batch", "clip.avi", "-m", "static", "-o", "notadir/out"], setup=_setup_file_in_the_way,
              message="not a folder"),
    FaultCase("batch-manifest-bad-gt", "a malformed gt in a manifest is found after every video was tracked",
              ["batch", "--manifest", "jobs.csv", "-m", "static", "-o", "out", "-q"],
              setup=_setup_bad_gt_manifest, message="gt.txt:2", absent=("out",)),
    # -- safety
    FaultCase("name-escapes-output", "--name ../../escaped writes outside -o",
              [*_STATIC, "--name", "../../escaped", "-o", "out/sub"], message="plain file name",
              absent=("escaped*", "out/escaped*")),
    FaultCase("track-sigterm", "SIGTERM of track leaves hidden .partial files",
              ["track", LONG_CLIP.format(seed=0), "-m", "static", "--init", "5,5,10,10", "--no-video", "-q",
               "-o", "out"],
              setup=None, signal_when=("TERM", "out/.*partial*"), exit=143, message="terminated",
              absent=("out/synthetic.txt",)),
    FaultCase("track-sigkill-rerun", "after SIGKILL of track, its .partial files stay forever (a rerun keeps them)",
              ["track", LONG_CLIP.format(seed=0), "-m", "static", "--init", "5,5,10,10", "--no-video", "-q",
               "-o", "out"],
              signal_when=("KILL", "out/.*partial*"), then=[*_STATIC, "-o", "out"], exit=0, present=("out/clip.txt",)),
    FaultCase("eval-mot-empty-gt", "an empty ground-truth file is accepted (MOTA -inf)",
              ["eval", "mot", "--gt", "gt.txt", "--pred", "pred.txt"], setup=_setup_empty_gt, message="no boxes"),
    FaultCase("negative-model-option", "negative model options are accepted",
              [*_TRACK, "-m", "blobs", "-p", "max_age=-3", "-o", "out"], message="max_age", absent=("out",)),
    FaultCase("nan-model-option", "NaN model options are accepted",
              [*_TRACK, "-m", "blobs", "-p", "min_iou=nan", "-o", "out"], message="min_iou", absent=("out",)),
    FaultCase("blobs-init", "blobs ignores --init silently",
              [*_TRACK, "-m", "blobs", "--init", CLIP_BOX, "-o", "out"], exit=0, message="--init",
              present=("out/clip.txt",)),
    FaultCase("box-contains-frame", "a box holding the whole frame 'lies outside (0 % inside)'",
              [*_TRACK, "-m", "static", "--init", "-100,-100,100000,100000", "-o", "out"],
              message="whole 160x120 frame", absent=("out",)),
    FaultCase("huge-synthetic", "a huge synthetic size: MemoryError traceback",
              ["track", "synthetic:frames=10,size=100000x100000", "-m", "static", "--init", "1,1,5,5", "-q",
               "-o", "out"], setup=None, message="too large", absent=("out",)),
]


# -- running -------------------------------------------------------------------------------------


@dataclass
class FaultOutcome:
    """What one case did.

    Attributes:
        case: the case's name.
        exit: exit status, or ``"hang"`` when the command was still running after the time limit.
        message: the line it ended with (``Error: ...``, the last line of a traceback, ...).
        stderr: everything it wrote to stderr (the second command's, for a case with ``then``).
        files: files and folders it left in its folder (new since the setup), relative paths.
        processes_left: processes of its session still running after it ended.
        seconds: wall time, in seconds.
    """

    case: str
    exit: int | str
    message: str
    stderr: str = ""
    files: list[str] = field(default_factory=list)
    processes_left: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """The outcome as JSON-ready values (stderr left out)."""
        return {"case": self.case, "exit": self.exit, "message": self.message, "files": self.files,
                "processes_left": self.processes_left, "seconds": round(self.seconds, 1)}


def _processes() -> dict[int, tuple[int, int, str]]:
    """``{pid: (parent pid, session id, command line)}`` of the live processes (Linux ``/proc``;
    empty elsewhere; zombies left out)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()  # after the command name, which may hold spaces
        if len(fields) > 3 and fields[0] != "Z":
            out[int(stat.parent.name)] = (int(fields[1]), int(fields[3]), cmdline)
    return out


def _session_processes(sid: int) -> list[int]:
    """PIDs of the live processes in session ``sid``."""
    return [pid for pid, (_, session, _) in _processes().items() if session == sid]


def _forkservers(parent: int) -> list[int]:
    """PIDs of the multiprocessing fork servers that process ``parent`` started."""
    return [pid for pid, (ppid, _, cmd) in _processes().items()
            if ppid == parent and "multiprocessing.forkserver" in cmd]


def _end_session(sid: int, wait: float = 5.0) -> None:
    """SIGKILL every process of session ``sid`` (all started by the case) and wait for them to go."""
    deadline = time.monotonic() + wait
    while True:
        pids = _session_processes(sid)
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.1)


def _last_line(stderr: str) -> str:
    """The line a user reads: the ``Error:``/``Warning:`` line, a traceback's last line, or the last line."""
    lines = [ln.strip() for ln in re.split(r"[\r\n]+", stderr) if ln.strip()]
    if any(ln.startswith("Traceback") for ln in lines):
        return "traceback: " + lines[-1]
    for prefix in ("Error:", "Warning:", "Terminated", "Interrupted", "Aborted"):
        hits = [ln for ln in lines if ln.startswith(prefix)]
        if hits:
            return hits[-1]
    return lines[-1] if lines else ""


def _snapshot(work: Path) -> set[str]:
    return {str(p.relative_to(work)) for p in work.rglob("*")}


def _shown(paths: set[str]) -> list[str]:
    """New files for the table: top-level entries of each output folder, PIDs and hosts elided."""
    out = set()
    for p in paths:
        parts = Path(p).parts
        top = "/".join(parts[:2]) if len(parts) > 1 and not parts[0].startswith(".") else parts[0]
        out.add(re.sub(r"partial-[^./]*", "partial-*", top))
    return sorted(p for p in out if not any(q.startswith(p + "/") for q in out))


def _run_one(args: list[str], work: Path, env: dict, python: str, seconds: float,
             signal_when: tuple[str, str] | None) -> tuple[int | str, str, int]:
    """Run one command in a new session; returns ``(exit status or "hang", stderr, processes left)``."""
    err_path = work.parent / f"{work.name}.stderr"
    with open(err_path, "w+", encoding="utf-8") as err:
        proc = subprocess.Popen([python, "-m", "attentrack", *args], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        deadline = time.monotonic() + seconds
        sent = signal_when is None
        while proc.poll() is None and time.monotonic() < deadline:
            if not sent and any(work.glob(signal_when[1])):
                time.sleep(0.5)  # let the run get going
                if signal_when[0] == "KILL-FORKSERVER":
                    for pid in _forkservers(proc.pid):
                        os.kill(pid, signal.SIGKILL)
                else:
                    proc.send_signal(getattr(signal, f"SIG{signal_when[0]}"))
                sent = True
            time.sleep(0.1)
        status: int | str = proc.poll() if proc.poll() is not None else "hang"
        if status == "hang":
            proc.kill()
            proc.wait()
        elif isinstance(status, int) and status < 0:
            status = 128 - status  # killed by a signal: as a shell reports it
        settle = time.monotonic() + SETTLE_SECONDS  # what still runs by then was left behind
        while _session_processes(proc.pid) and time.monotonic() < settle:
            time.sleep(0.1)
        left = len(_session_processes(proc.pid))
        _end_session(proc.pid)
        err.seek(0)
        return status, err.read(), left


def run_case(case: FaultCase, root: Path, python: str = sys.executable, code: str | None = None) -> FaultOutcome:
    """Run ``case`` in ``root/<case.name>`` (created).

    Args:
        case: the case.
        root: a scratch folder.
        python: the interpreter that runs ``-m attentrack``.
        code: a checkout to run instead of the installed attentrack (its folder is put first on
            ``PYTHONPATH`` under the name ``attentrack``).
    """
    work = root / case.name
    work.mkdir(parents=True)
    if case.setup is not None:
        case.setup(work)
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    if code is not None:
        shim = root / ".code"
        if not shim.exists():
            shim.mkdir()
            (shim / "attentrack").symlink_to(Path(code).resolve(), target_is_directory=True)
        env["PYTHONPATH"] = os.pathsep.join([str(shim), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    before = _snapshot(work)
    t0 = time.perf_counter()
    status, stderr, left = _run_one(case.args, work, env, python, case.seconds, case.signal_when)
    if case.then is not None:
        status, stderr, left_then = _run_one(case.then, work, env, python, case.seconds, None)
        left += left_then
    seconds = time.perf_counter() - t0
    message = _last_line(stderr.replace(f"{work.resolve()}/", "").replace(f"{work}/", ""))
    if status == "hang":
        message = f"(killed after {case.seconds:.0f} s) {message}".strip()
    return FaultOutcome(case.name, status, message, stderr, _shown(_snapshot(work) - before), left, seconds)


def format_fault_table(rows: list[tuple[FaultCase, dict[str, FaultOutcome]]], width: int = 72) -> str:
    """The table: one line per case and code (``before``, ``after``), with exit status,
    processes left, the message and the files left."""
    head = f"{'case':<25} {'code':<6} {'exit':>5} {'procs':>5}  {'message':<{width}}  files left"
    lines = [head, "-" * len(head)]
    for case, outcomes in rows:
        for k, (label, o) in enumerate(outcomes.items()):
            msg = (o.message or "-") if len(o.message) <= width else o.message[:width - 3] + "..."
            files = ", ".join(o.files) or "-"
            lines.append(f"{case.name if k == 0 else '':<25} {label:<6} {str(o.exit):>5} {o.processes_left:>5}  "
                         f"{msg:<{width}}  {files}")
    return "\n".join(lines)


@click.command(
    "faults",
    help=(
        "The fault table (issue 31): hostile uses of the command line (boxes OpenCV's MIL cannot "
        "take, SIGTERM and SIGKILL mid-run, a killed process-pool fork server, outputs that cannot "
        "be written, malformed ground truth, names leaving the output folder, ...), each in a fresh "
        "process and folder, with its exit status, message, the processes still running after it "
        "ended and the files it left. --code DIR also runs every case against another checkout "
        "(the 'before' rows).\n\n"
        "Example (the 'before' rows: the code before issue 31):\n\n\b\n"
        "  git archive 4dc8a7e | (mkdir -p /tmp/before && tar -x -C /tmp/before)\n"
        "  attentrack bench faults --code /tmp/before"
    ),
)
@click.option("--case", "names", multiple=True, help="Run only this case (repeatable).")
@click.option("--code", "code", default=None, type=click.Path(file_okay=False, exists=True),
              help="Also run every case against this checkout (shown as 'before').")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of the table.")
def bench_faults_command(names, code, as_json):
    """Run the fault cases and print the table (see the command's help)."""
    from attentrack.tracker.errors import InputError

    known = {c.name: c for c in FAULT_CASES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"unknown fault case {unknown[0]!r}; cases: {', '.join(known)}")
    cases = [known[n] for n in names] if names else FAULT_CASES
    rows = []
    with tempfile.TemporaryDirectory(prefix="attentrack-faults-") as tmp:
        for case in cases:
            outcomes = {}
            if code is not None:
                outcomes["before"] = run_case(case, Path(tmp) / "before", code=code)
            outcomes["after"] = run_case(case, Path(tmp) / "after")
            rows.append((case, outcomes))
            if not as_json:
                click.echo(f"{case.name}: " + ", ".join(f"{k} exit {o.exit}" for k, o in outcomes.items()), err=True)
    if as_json:
        click.echo(json.dumps([{"case": c.name, "issue": c.issue, **{k: o.to_dict() for k, o in oc.items()}}
                               for c, oc in rows], indent=1))
    else:
        click.echo(format_fault_table(rows))
