"""Tables for the commands' reports: plain-text (markdown) and CSV files."""

from __future__ import annotations

import csv
import io
import os
from typing import Sequence

from attentrack.tracker.atomic import atomic_write


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


def write_csv(path: str | os.PathLike, rows: list[dict], columns: Sequence[str]) -> None:
    """Write ``rows`` as a CSV file with a header line (atomically).

    Args:
        path: the file to write.
        rows: one dict per line; keys outside ``columns`` are an error, missing keys and
            ``None`` values are written as empty cells.
        columns: the header, in order.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    with atomic_write(path, newline="") as fh:
        fh.write(buf.getvalue())
