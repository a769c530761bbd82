"""Render a :class:`Report` as plain text, Markdown, or a booktabs LaTeX table."""

from __future__ import annotations

from causalabs.metrics.estimate import Estimate
from causalabs.verification.report.report import Report


def _est(e: Estimate) -> str:
    if e.n == 0:
        return "n/a (no pairs)"
    if e.exact:
        return f"{e.value:.4f} (exact, {e.successes}/{e.n})"
    if e.hi_confidence is not None:  # decision bounds: lower and upper at their own levels
        return f"{e.value:.4f} [{e.lo:.4f}, {e.hi:.4f}] ({e.confidence:.0%} / {e.hi_confidence:.2%} {e.method}, n={e.n})"
    return f"{e.value:.4f} [{e.lo:.4f}, {e.hi:.4f}] ({e.confidence:.0%} {e.method}, n={e.n})"


def _headline(r: Report) -> str:
    word = r.verdict.upper()
    if r.threshold < 1.0:  # a verdict on anything but an exact claim names its threshold
        word += f" at threshold {r.threshold:g}"
        if r.verdict == "verified" and r.failures:
            word += f" ({r.failures} failing pairs)"
    return f"{word}: {r.hypothesis} on {r.network} ({r.mode})"


def to_text(r: Report) -> str:
    lines = [_headline(r), f"  {r.reason}", "", "alignment:"]
    lines += [f"  {v} -> {s}" for v, s in r.alignment.items()]
    lines += ["", f"IIA {_est(r.iia)}"]
    for e in r.per_variable:
        unchanged = "" if e.unchanged is None else f"; unchanged pairs {_est(e.unchanged)}"
        lines.append(f"  {'+'.join(e.variables)}: {_est(e.iia)}; changed pairs {_est(e.changed)}{unchanged}; failures {e.failures}")
    if r.counterexample is not None:
        lines += ["", "counterexample:"]
        lines += [f"  {line}" for line in r.counterexample.describe().splitlines()]
        lines.append(f"  replay: {r.counterexample.call(r.hypothesis)}")
    p = r.provenance
    lines += ["", f"seed {p.get('seed')}, causalabs {p.get('causalabs')}, torch {p.get('torch')}, device {p.get('device')}"]
    return "\n".join(lines)


def to_markdown(r: Report) -> str:
    lines = [f"**{_headline(r)}**", "", r.reason, "", "| variables | IIA | changed pairs | failures |", "| --- | --- | --- | --- |"]
    for e in r.per_variable:
        lines.append(f"| {'+'.join(e.variables)} | {_est(e.iia)} | {_est(e.changed)} | {e.failures} |")
    lines.append(f"| **all** | {_est(r.iia)} | | {r.failures} |")
    lines += ["", "Alignment: " + "; ".join(f"`{v}` -> `{s}`" for v, s in r.alignment.items())]
    if r.counterexample is not None:
        lines += ["", "Counterexample:", "", "```", r.counterexample.describe(), r.counterexample.call(r.hypothesis), "```"]
    lines += ["", "Provenance: " + ", ".join(f"{k} `{v}`" for k, v in sorted(r.provenance.items()))]
    return "\n".join(lines) + "\n"


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#"), ("{", r"\{"), ("}", r"\}")):
        s = s.replace(a, b)
    return s


def _tex_est(e: Estimate) -> str:
    if e.n == 0:
        return "--"
    if e.exact:
        return f"{e.value:.4f} (exact)"
    return f"{e.value:.4f} [{e.lo:.3f}, {e.hi:.3f}]"


def to_latex(r: Report) -> str:
    """A booktabs table a paper can ``\\input``."""
    rows = [
        f"{_tex('+'.join(e.variables))} & {_tex_est(e.iia)} & {_tex_est(e.changed)} & {e.failures} \\\\"
        for e in r.per_variable
    ]
    caption = _tex(f"{r.hypothesis} on {r.network}: {r.verdict} ({r.mode}, seed {r.provenance.get('seed')}).")
    return "\n".join(
        [
            r"\begin{table}[t]",
            r"\centering",
            r"\begin{tabular}{lccr}",
            r"\toprule",
            r"Variables & IIA & IIA (changed pairs) & Failures \\",
            r"\midrule",
            *rows,
            r"\midrule",
            f"All & {_tex_est(r.iia)} & & {r.failures} \\\\",
            r"\bottomrule",
            r"\end{tabular}",
            f"\\caption{{{caption}}}",
            r"\end{table}",
            "",
        ]
    )


RENDERERS = {"txt": to_text, "md": to_markdown, "tex": to_latex, "json": Report.to_json}
