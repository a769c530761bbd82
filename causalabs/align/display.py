"""Sweep results as a figure and HTML: IIA by layer x position (token labels when given), one panel per variable set."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from causalabs.align.heatmap import Value, iia_matrix
from causalabs.align.sweep import SweepRecord, SweepResult
from causalabs.errors import LoadError, SweepError
from causalabs.figures.html import figure_tag, fragment, page, table
from causalabs.figures.plots import iia_grid
from causalabs.figures.style import Width


def _column(position: str | None, tokens: Sequence[str] | None) -> str:
    if position is None:
        return "all"
    if tokens is not None and position.isdigit() and int(position) < len(tokens):
        return f"{position}: {tokens[int(position)]}"
    return position


def sweep_figure(result: SweepResult, *, tokens: Sequence[str] | None = None, value: Value = "overall",
                 width: Width = "two") -> Any:
    """Held-out IIA by module (rows) x position (columns; ``tokens[p]`` labels position p), a panel per variable set."""
    sets = list(dict.fromkeys(r.variables for r in result.records))
    if not sets:
        raise SweepError("sweep_figure: the sweep has no records")
    mats = [iia_matrix(result, vs, value=value) for vs in sets]
    rows = tuple(dict.fromkeys(m for x in mats for m in x.modules))
    cols = tuple(dict.fromkeys(p for x in mats for p in x.positions))
    import numpy as np

    panels = {}
    for m in mats:
        grid = np.full((len(rows), len(cols)), np.nan)
        for i, mod in enumerate(m.modules):
            for j, pos in enumerate(m.positions):
                grid[rows.index(mod), cols.index(pos)] = m.values[i, j]
        panels["+".join(m.variables)] = grid
    title = f"{result.hypothesis}: {result.method}" if result.hypothesis else result.method
    return iia_grid(panels, rows, [_column(p, tokens) for p in cols], title=f"{title} ({value} IIA)", width=width)


def read_records(path: str | Path) -> SweepResult:
    """A sweep read back from its ``records.jsonl`` (or the folder holding it); LoadError naming the file."""
    p = Path(path)
    if p.is_dir():
        p = p / "records.jsonl"
    try:
        lines = [x for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
        records = tuple(SweepRecord.from_dict(json.loads(x)) for x in lines)
    except FileNotFoundError:
        raise LoadError(f"{p}: no such sweep records file") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise LoadError(f"{p}: not a sweep's records ({type(exc).__name__}: {exc})") from None
    if not records:
        raise LoadError(f"{p}: the sweep has no records")
    return SweepResult(records, hypothesis="", method=records[0].method, computed=(), resumed=(), out_dir=p.parent)


def body(result: SweepResult, *, tokens: Sequence[str] | None = None, level: int = 1) -> str:
    title = f"alignment sweep: {result.method}" + (f" for {result.hypothesis}" if result.hypothesis else "")
    best = max(result.records, key=lambda r: r.overall.value)
    parts = [f"<h{level}>{escape(title)}</h{level}>",
             f"<p>{len(result.records):,} records; best held-out IIA {best.overall.value:.4f} "
             f"({escape('+'.join(best.variables))} at <code>{escape(best.site)}</code>)</p>",
             figure_tag(sweep_figure(result, tokens=tokens), "IIA by layer and position",
                        "held-out IIA at each module (rows) and position (columns), one panel per variable set")]
    rows = [(r.site, "+".join(r.variables), "all" if r.k is None else r.k, f"{r.overall.value:.4f}",
             f"[{r.overall.lo:.4f}, {r.overall.hi:.4f}]", f"{r.changed.value:.4f}", f"{r.overall.n:,}")
            for r in result.records]
    parts.append(table(("site", "variables", "k", "IIA", "interval", "IIA changed", "n"), rows, numeric=(3, 5, 6)))
    return "".join(parts)


def to_html(result: SweepResult, *, tokens: Sequence[str] | None = None) -> str:
    """A sweep as one self-contained HTML page."""
    return page(f"sweep {result.method}", body(result, tokens=tokens))


def repr_html(result: SweepResult) -> str:
    return fragment(body(result, level=3))
