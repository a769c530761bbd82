"""The ``metrics`` section of a report (``verify --metric logit-diff|prob``) as text, Markdown and HTML rows."""

from __future__ import annotations

import math
from typing import Any


def _num(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def cell(e: dict[str, Any]) -> str:
    """``value [lo, hi]`` of an estimate's dict (a mean with its interval)."""
    if not e.get("n"):
        return "n/a (no pairs)"
    if e.get("exact") or e.get("lo") is None or (isinstance(e["lo"], float) and math.isnan(e["lo"])):
        return _num(e["value"])
    return f"{_num(e['value'])} [{_num(e['lo'])}, {_num(e['hi'])}]"


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(variables, patched, unpatched, shift, pairs) per variable set, in the report's order."""
    per = section["per_variable"]
    out = []
    for key in section.get("order") or list(per):
        m = per[key]
        used = m["pairs"] - m["excluded"]
        pairs = f"{used:,}" + (f" ({m['excluded']:,} excluded: expected = base answer)" if m["excluded"] else "")
        out.append((key, cell(m["patched"]), cell(m["unpatched"]), cell(m["shift"]), pairs))
    return out


def heading(section: dict[str, Any]) -> str:
    level = section.get("confidence", 0.95)
    over = section.get("normalised_over")
    return (f"{section['metric']}: {section['description']}"
            + (f", softmax over {over}" if over else "")
            + f"; mean [{level:.0%} t-interval] over {section['pairs']}. Reported, not the verdict (IIA decides).")


def text_rows(section: dict[str, Any] | None) -> list[str]:
    """Plain-text lines (empty without a metric)."""
    if section is None:
        return []
    lines = ["", f"metric {heading(section)}"]
    for key, on, off, shift, pairs in rows(section):
        lines.append(f"  {key}: patched {on}, unpatched {off}, shift {shift}; pairs {pairs}")
    return lines


def markdown_rows(section: dict[str, Any] | None) -> list[str]:
    if section is None:
        return []
    lines = ["", f"Metric {heading(section)}", "",
             f"| variables | {section['metric']} patched | unpatched | shift | pairs |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {' | '.join(r)} |" for r in rows(section)]
    return lines


def html_part(section: dict[str, Any] | None) -> str:
    if section is None:
        return ""
    from html import escape

    from causalabs.figures.html import table

    return (f"<h2>Metric: {escape(section['metric'])}</h2><p>{escape(heading(section))}</p>"
            + table(("variables", "patched", "unpatched", "shift", "pairs"), rows(section)))


__all__ = ["cell", "heading", "html_part", "markdown_rows", "rows", "text_rows"]
