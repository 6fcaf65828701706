"""Plain-text tables for the commands' reports."""

from __future__ import annotations


def markdown_lines(head: list[str], rows: list[list[str]], align: str = "right") -> list[str]:
    """The lines of a markdown table whose columns are as wide as their widest cell.

    Args:
        head: the column titles.
        rows: the cells, already formatted as strings.
        align: ``right`` (numbers) or ``left`` (names, paths).
    """
    if align not in ("right", "left"):
        raise ValueError(f"align must be right or left, not {align!r}")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    pad = str.rjust if align == "right" else str.ljust
    fmt = lambda cells: "| " + " | ".join(pad(c, w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return [fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, rows)]
