"""The commands' markdown tables: columns as wide as their widest cell, aligned as asked."""

import pytest

from attentrack.tracker.tables import markdown_lines


def test_markdown_lines_align_right_or_left():
    assert markdown_lines(["a", "value"], [["xyz", "1"]]) == ["|   a | value |", "|-----|-------|", "| xyz |     1 |"]
    assert markdown_lines(["a", "value"], [["xyz", "1"]], align="left") == [
        "| a   | value |", "|-----|-------|", "| xyz | 1     |"]
    with pytest.raises(ValueError, match="align"):
        markdown_lines(["a"], [["b"]], align="centre")
