"""A :class:`Report` as a self-contained HTML page (``causalabs report --format html``) or notebook fragment.

Sections: the verdict (the same headline as the text report, with its
threshold below 1) and its reason; the claim; the evidence per variable set
(figure and table: IIA, interval, agreeing pairs, per stratum); the
counterexample with its replay line; how the alignment was found; the
provenance.  Figures are embedded SVG; the page loads nothing.
"""

from __future__ import annotations

import math
from html import escape

from causalabs.figures.html import figure_tag, fragment, key_values, page, pre, table, verdict_badge
from causalabs.verification.report.figures import report_figure
from causalabs.verification.report.metrics import html_part as metric_part
from causalabs.verification.report.render import (
    _claim,
    _evidence_header,
    _strata,
    counterexample,
    evidence,
    footer,
    headline,
)
from causalabs.verification.report.report import Report


def _evidence_table(r: Report) -> str:
    rows = []
    for e in r.per_variable:
        for stratum, est in _strata(e):
            if est.n == 0 or math.isnan(est.value):
                rows.append(("+".join(e.variables), stratum, "-", "", f"no {stratum} pairs"))
                continue
            interval = "exact" if est.exact else f"[{est.lo:.4f}, {est.hi:.4f}]"
            rows.append(("+".join(e.variables), stratum, f"{est.value:.4f}", interval,
                         f"{est.successes or 0:,} of {est.n:,}"))
    return table(("variables", "pairs", "IIA", "interval", "agree"), rows, numeric=(2, 4))


def _counterexample(r: Report) -> str:
    cx = r.counterexample
    if cx is None:
        return ""
    rows = [("base", *(f"{k}={v}" for k, v in cx.base.items()))]
    rows += [(f"source ({v})", *(f"{k}={x}" for k, x in src.items())) for v, src in cx.sources.items()]
    width = max(len(row) for row in rows)
    rows = [(*row, *[""] * (width - len(row))) for row in rows]
    lines = counterexample(r)
    out = [f"<h2>Counterexample</h2><p>{escape(lines[0].rstrip(':'))}</p>",
           table(("input", *[""] * (width - 1)), rows),
           f"<p>output: hypothesis <b>{cx.expected}</b>, network <b>{cx.observed}</b></p>",
           "<p>Replay (paste into Python):</p>", pre(next(x for x in lines if x.startswith("replay: "))[8:])]
    return "".join(out)


def body(r: Report, *, level: int = 1) -> str:
    """The report's HTML without the page around it (``level``: the heading level of its title)."""
    parts = [f"<h{level}>{verdict_badge(r.verdict, headline(r).split(':')[0])} "
             f"{escape(headline(r).partition(': ')[2])}</h{level}>",
             f'<p class="reason">{escape(r.reason)}</p>', "<h2>Claim</h2>", pre("\n".join(_claim(r)[1:]))]
    parts.append(table(("variable", "site"), r.alignment.items()) if r.alignment else "")
    parts.append("<h2>Evidence</h2>")
    fig = report_figure(r)
    if fig is not None:
        parts.append(figure_tag(fig, f"IIA per variable set of {r.hypothesis}",
                                "IIA per intervened variable set with its interval on changed and unchanged pairs; "
                                f"dashed: the threshold {r.threshold:g}."))
        parts.append(pre("\n".join(_evidence_header(r))) + _evidence_table(r))
    else:
        parts.append(pre("\n".join(evidence(r))))
    parts.append(metric_part(r.metrics))
    parts.append(_counterexample(r))
    found = r.provenance.get("alignment_search")
    if found:
        parts += ["<h2>Alignment search</h2>", key_values((k, v) for k, v in found.items() if k != "train_digests")]
    parts += ["<h2>Provenance</h2>", f"<p>{escape(footer(r))}</p>",
              key_values(sorted((k, v) for k, v in r.provenance.items() if k != "alignment_search")),
              key_values(sorted(r.timing.items()))]
    return "".join(parts)


def to_html(r: Report) -> str:
    """The report as one self-contained HTML page (no script, no external resource)."""
    return page(headline(r), body(r))


def repr_html(r: Report) -> str:
    """The notebook display of a report (``Report._repr_html_``)."""
    return fragment(body(r, level=3))
