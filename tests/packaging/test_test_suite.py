"""The test suite keeps its own rule (CONTRIBUTING.md, "Tests"): test modules do not import
each other or a conftest; what they share is a fixture. (Undeclared marks, such as a misspelt
``slow``, are errors through ``--strict-markers`` in pyproject.toml.)"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.ImportFrom):  # relative: ``from .conftest import ...``
            names.append("." * node.level + (node.module or ""))
    return names


def test_no_test_module_imports_another_or_a_conftest():
    local = {p.stem for p in TESTS.rglob("*.py")}  # with the rootdir on sys.path, ``import test_x`` works too
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for name in _imported_modules(path):
            first = name.split(".")[0]
            if name.startswith(".") or first == "tests" or first in local or name.endswith("conftest"):
                offenders.append(f"{path.relative_to(TESTS)} imports {name}")
    assert not offenders, "share helpers as fixtures in a conftest.py instead:\n" + "\n".join(offenders)

