"""Tables that stay readable at any width: a table when it fits unfolded, else one block per row.

A terminal or pipe narrower than the table (a pipe is 80 columns unless
``COLUMNS`` says otherwise) gets each row as a block: its first cell on a
line, then one ``column  value`` line per other cell, wrapped at spaces and
never inside a word or a number.  ``--json`` (where a command has it) is the
form for machines.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.text import Text
from rich.measure import Measurement
from rich.table import Table

__all__ = ["print_table"]


def _blocks(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], inline: Sequence[str], width: int) -> str:
    inline_idx = [columns.index(c) for c in inline]
    rest = [j for j in range(1, len(columns)) if j not in inline_idx]
    label = max(len(columns[j]) for j in rest) if rest else 0
    indent = " " * (2 + label + 2)
    out = [title, ""]
    for row in rows:
        extra = ", ".join(f"{row[j]} {columns[j]}" if columns[j] == "params" else f"{columns[j]} {row[j]}"
                          for j in inline_idx)
        out.append(f"{row[0]}  ({extra})" if extra else row[0])
        for j in rest:
            first = f"  {columns[j]:<{label}}  "
            lines: list[str] = []
            for part in str(row[j]).splitlines() or ["-"]:
                lines += textwrap.wrap(part, max(width - len(indent), 20), break_long_words=False,
                                       break_on_hyphens=False) or [""]
            out.append(first + lines[0])
            out += [indent + line for line in lines[1:]]
        out.append("")
    return "\n".join(out).rstrip("\n")


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[str] = (),
    inline: Sequence[str] = (),
    show_lines: bool = False,
    console: Console | None = None,
) -> None:
    """Print ``rows`` under ``columns``: a table if it fits the console unfolded, else blocks.

    Cells are plain text (shown literally, never read as markup).  ``right``: columns aligned
    right in the table.  ``inline``: columns that a block shows beside its first cell instead of
    on lines of their own (short values).
    """
    console = console or Console()
    table = Table(title=Text(title), show_lines=show_lines)
    for c in columns:
        table.add_column(c, justify="right" if c in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    # the table's width with every cell on its own lines, unwrapped
    needed = Measurement.get(console, console.options.update_width(1 << 16), table).maximum
    if needed <= console.width:
        console.print(table)
    else:
        typer.echo(_blocks(title, columns, rows, inline, console.width))
