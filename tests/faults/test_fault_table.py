"""Every case of the fault table (``attentrack bench faults``) through the real command line, each
in a fresh process with a time limit (a hang fails instead of hanging): the exit status, the one
line, no traceback, no process or ``.partial`` file left, and the files each case must (not) leave."""

from __future__ import annotations

import pytest

from attentrack.tools.faults import FAULT_CASES, FaultOutcome, format_fault_table, run_case


@pytest.mark.slow
@pytest.mark.parametrize("case", FAULT_CASES, ids=lambda c: c.name)
def test_fault_case(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert case.problems(outcome, tmp_path / case.name) == [], outcome.stderr[-2000:]


def test_case_names_are_unique_and_the_table_shows_before_and_after():
    names = [c.name for c in FAULT_CASES]
    assert len(names) == len(set(names))
    case = FAULT_CASES[0]
    table = format_fault_table([(case, {"before": FaultOutcome(case.name, "hang", "(killed after 25 s)"),
                                        "after": FaultOutcome(case.name, 2, "Error: too small", files=["out"])})])
    lines = table.splitlines()
    assert lines[2].split()[:4] == [case.name, "before", "hang", "0"] and lines[3].split()[:3] == ["after", "2", "0"]


def test_problems_name_what_went_wrong(tmp_path):
    case = next(c for c in FAULT_CASES if c.name == "mil-tiny-box")
    (tmp_path / "out").mkdir()
    bad = FaultOutcome(case.name, "hang", "(killed after 25 s)", "", files=["out/.clip.partial-*.txt"], processes_left=2)
    problems = case.problems(bad, tmp_path)
    assert any("exit status hang" in p for p in problems) and any("2 processes" in p for p in problems)
    assert any("partial files" in p for p in problems) and any("out should not exist" in p for p in problems)
