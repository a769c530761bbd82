"""The ``identification`` section of a report as text, Markdown and LaTeX rows."""

from __future__ import annotations

from typing import Any

#: Rivals listed by name in the text form before the rest are counted.
SHOWN = 8


def _iia(e: dict[str, Any]) -> str:
    value = e.get("iia", e.get("decisive_iia"))
    return "n/a" if value is None else f"{value:.4f}"


def text_rows(section: dict[str, Any] | None) -> list[str]:
    """Plain-text lines (empty when rivals were not checked)."""
    if section is None:
        return []
    lines = ["", f"identification ({section['rivals']} rivals, "
                 f"{len(section['decisive_experiments'])} decisive experiments):"]
    lines.append(f"  {section['line']}")
    for label, key in (("excluded", "excluded"), ("surviving", "surviving"),
                       ("indistinguishable", "indistinguishable"), ("undecided", "undecided")):
        entries = section.get(key) or []
        if not entries:
            continue
        lines.append(f"  {label}: {len(entries)}")
        for e in entries[:SHOWN]:
            extra = f"  by {e['by']}" if key == "excluded" else ""
            if key == "surviving":
                extra = f"  IIA {_iia(e)}" + ("  (under its own searched alignment)" if e.get("by") == "search" else "")
            lines.append(f"    {e['name']}: {e['how']}{extra}")
        if len(entries) > SHOWN:
            lines.append(f"    ... and {len(entries) - SHOWN} more")
    note = section.get("note")
    if note:
        lines.append(f"  generation {note}")
    return lines


def markdown_rows(section: dict[str, Any] | None) -> list[str]:
    if section is None:
        return []
    out = ["", f"**Identification** ({section['rivals']} rivals, {len(section['decisive_experiments'])} "
               f"decisive experiments): {section['line']}", "", "| rival | status | how | IIA |", "|---|---|---|---|"]
    for key in ("excluded", "surviving", "indistinguishable", "undecided"):
        for e in section.get(key) or []:
            out.append(f"| {e['name']} | {key} | `{e['how']}` | {_iia(e) if key != 'indistinguishable' else ''} |")
    return out


def latex_rows(section: dict[str, Any] | None, tex: Any) -> list[str]:
    """LaTeX: one paragraph and a tabular (``tex`` escapes text)."""
    if section is None:
        return []
    rows = [r"\par\noindent\textbf{Identification} (" + f"{section['rivals']} rivals, "
            f"{len(section['decisive_experiments'])} decisive experiments): " + tex(section["line"]),
            r"\begin{tabular}{llr}", r"\toprule", r"rival & status & IIA \\", r"\midrule"]
    for key in ("excluded", "surviving", "indistinguishable", "undecided"):
        for e in section.get(key) or []:
            rows.append(f"{tex(e['name'])} & {key} & {_iia(e) if key != 'indistinguishable' else ''} \\\\")
    rows += [r"\bottomrule", r"\end{tabular}"]
    return rows
