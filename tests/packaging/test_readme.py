"""The README and the docs stay true: the models table is the registry's, every command they
show exists, every local link resolves."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "docs" / "benchmarks.md"]


def _code_lines(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if inside:
            lines.append(line)
    return lines


def test_readme_models_table_is_the_registrys():
    from attentrack.tools.options import models_markdown

    assert models_markdown() in (REPO / "README.md").read_text(encoding="utf-8"), \
        "README's models table is stale: paste the output of `attentrack models --markdown`"


def test_readme_is_a_front_door():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert "<!--" not in text  # no merge markers


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_command_shown_exists(doc):
    from attentrack.tools.cli import cli

    ctx = click.Context(cli)
    checked = 0
    for line in _code_lines(doc.read_text(encoding="utf-8")):
        line = line.split("#")[0].strip().lstrip("$ ").strip()
        if not line.startswith(("attentrack ", "track ", "python -m attentrack ")):
            continue
        words = shlex.split(line.replace("python -m attentrack", "attentrack"))
        group: click.Command = cli if words[0] == "attentrack" else cli.get_command(ctx, "track")
        for word in words[1:]:
            if not isinstance(group, click.Group) or word.startswith("-"):
                break
            if "|" in word:  # `eval mot|sot|...`: each alternative
                assert all(group.get_command(ctx, w) for w in word.split("|")), f"{doc.name}: {line}"
                break
            sub = group.get_command(ctx, word)
            if sub is None:  # a top-level word must be a command (`bench CLIP` runs `bench track`)
                assert group is not cli, f"{doc.name}: unknown command {word!r} in {line!r}"
                break
            group = sub
        checked += 1
    assert checked > 0 or doc.name == "CONTRIBUTING.md"  # it shows pytest and pip lines only


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_local_links_resolve(doc):
    text = doc.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"
