"""Render a :class:`Report` as plain text, Markdown, or a booktabs LaTeX table.

The text form has one shape for every mode, each part fitting 80 columns
(but the reason, one sentence as in the JSON, and the replay line, which
must stay one pasteable line)::

    VERDICT: Hypothesis on network (mode)        <- the verdict, first line
      why, in one line

    claim                                        <- what was checked
      hypothesis, network, alignment, threshold

    evidence: how it was measured                <- per variable set
      ...

    counterexample (how it was found):           <- only when refuted by a pair
      base / source (variable) / output rows
    replay: import causalabs as ca; print(ca.reproduce(...))

    seed, causalabs and torch versions, device   <- the footer
"""

from __future__ import annotations

import json
import math
import textwrap
from typing import Any

from causalabs.metrics.estimate import Estimate
from causalabs.verification.report import identification, metrics
from causalabs.verification.report.found import search_converged
from causalabs.verification.report.report import Report, VariableEvidence

#: How each mode found its counterexample, as the counterexample header says it.
FOUND_BY = {
    "exhaustive": "the first in input order",
    "sample": "the first failing sampled pair",
    "sequential": "the first failing sampled pair",
    "falsify": "shrunk",
    "prove": "the prover's witness, replayed by the engine",
}
#: A variable-set name longer than this gets a line of its own above its rows.
NAME_WIDTH = 20
#: Prose lines (the reason, notes) wrap at this width.
WIDTH = 80
#: Interval methods as a reader names them.
METHODS = {"wilson": "Wilson", "clopper-pearson": "Clopper-Pearson",
           "beta-binomial mixture confidence sequence": "anytime-valid beta-binomial mixture confidence sequence"}
#: Why falsify stopped, in words.
STOPS = {"counterexample": "a failing example (then shrunk)", "max_examples": "the example budget",
         "deadline": "the deadline"}


def headline(r: Report) -> str:
    """The first line: the verdict (PROVED / UNKNOWN in prove mode), the threshold below 1, what on what."""
    word = r.verdict.upper()
    if r.mode == "prove":
        word = {"verified": "PROVED", "inconclusive": "UNKNOWN"}.get(r.verdict, word)
    if r.threshold < 1.0:  # a verdict on anything but an exact claim names its threshold
        word += f" at threshold {r.threshold:g}"
        if r.verdict == "verified" and r.failures:
            word += f" ({r.failures:,} failing pairs)"
    return f"{word}: {r.hypothesis} on {r.network} ({r.mode})"


# --- parts of the text report -------------------------------------------------------


def _searched_here(r: Report) -> bool:
    """Whether the command that made ``r`` ran the alignment search (not loaded an alignment that records one).

    The command line says so in ``provenance["replay"]["searched"]``; reports without it (the Python
    API, older files) are read as before: a recorded search is this check's.
    """
    return bool((r.provenance.get("replay") or {}).get("searched", True))


def _claim(r: Report) -> list[str]:
    p = r.provenance
    refs: dict[str, Any] = p.get("replay") or {}
    hyp = refs.get("hypothesis") or (f"{r.hypothesis} ({p['hypothesis_file']})" if p.get("hypothesis_file") else r.hypothesis)
    lines = ["claim", f"  hypothesis  {hyp}", f"  network     {refs.get('network') or r.network}"]
    sites = [f"{v} -> {s}" for v, s in r.alignment.items()] or ["(none)"]
    lines.append(f"  alignment   {sites[0]}")
    lines += [f"              {s}" for s in sites[1:]]
    found = p.get("alignment_search")
    if found:
        where = found.get("sites") or found.get("site")  # find_alignment's map, or a sweep's one site
        where = ", ".join(f"{v}={m}" for v, m in where.items()) if isinstance(where, dict) else where
        trained = {True: "; training converged", False: "; training did not converge"}.get(search_converged(found), "")
        lines.append(f"              found by {found.get('method')} at {where}, seed {found.get('seed')}{trained}")
        if _searched_here(r):
            lines.append(f"              saved to {refs['alignment']}" if refs.get("alignment") else "              not saved")
        else:  # a saved alignment that records the search that once found it
            lines.append("              (from " + (refs.get("alignment") or "the network file's alignment()") + ")")
    elif refs:
        src = refs.get("alignment")
        lines.append("              (from " + (src if src else "the network file's alignment()") + ")")
    if r.threshold >= 1.0:
        lines.append("  threshold   1: every pair must agree (exact abstraction)")
    else:
        lines.append(f"  threshold   {r.threshold:g}: IIA >= {r.threshold:g} on changed and on unchanged pairs of every set")
    return lines


def _strata(e: VariableEvidence) -> list[tuple[str, Estimate]]:
    """The rows of one variable set: all its pairs, then the two strata the verdict reads.

    Changed pairs are those whose counterfactual output differs from the
    base's output, unchanged pairs the others (reports of schema 1 lack them).
    """
    rows = [("all", e.iia), ("changed", e.changed)]
    return rows if e.unchanged is None else [*rows, ("unchanged", e.unchanged)]


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False) or [indent]


def _inputs_line(r: Report) -> list[str]:
    """Where a hypothesis restricts its inputs (``ca.require``): how many of the domains' combinations it admits."""
    inp = r.provenance.get("input_space")
    if not inp:
        return []
    n = inp.get("inputs")
    counted = f"{n:,} of the {inp['combinations']:,}" if n is not None else f"some of the {inp['combinations']:,}"
    return _wrap(f"inputs: {counted} combinations of the domains satisfy {' and '.join(inp['requires'])}")


def _evidence_header(r: Report) -> list[str]:
    if r.mode == "exhaustive":
        return ["evidence: exact IIA over every (base, source) pair", *_inputs_line(r)]
    if not any(e.iia.n for e in r.per_variable):
        return ["evidence: no pairs"]
    p, st = r.provenance, r.statistics
    n = max(e.iia.n for e in r.per_variable)
    fallback = p.get("sampling_fallback_random")
    extra = f" ({', '.join(fallback)}: random, no balanced sample)" if fallback else ""
    lines = _wrap(f"evidence: IIA on {n:,} {p.get('sampling', 'random')} pairs per set{extra}", indent="")
    if r.stopping:  # sequential: the pairs drawn until the rule stopped
        s = r.stopping
        lines = _wrap(
            f"evidence: IIA on {p.get('sampling', 'random')} pairs drawn in {s.get('batches', '?')} growing batches "
            f"until decided: {s.get('pairs_used', 0):,} pairs in all, up to {n:,} per set (stopped: "
            f"{s.get('stopped_by', '?')}; budget {s.get('max_pairs', 0):,} per set){extra}", indent="")
    lines += _inputs_line(r)
    if {"lower_level", "upper_level"} <= set(st):
        method = METHODS.get(str(st.get("interval")), str(st.get("interval", "")))
        lines += _wrap(
            f"bounds on each stratum: lower at {_pct(st['lower_level'])}, upper at {_pct(st['upper_level'])} "
            f"({st.get('sides', 'one-sided')} {method}, {str(st.get('correction', '')).capitalize()} over "
            f"{st.get('bounds_tested', '?')} bounds)"
        )
    else:  # a report of schema 1: one interval method for every row
        first = next(e.iia for e in r.per_variable if e.iia.n)
        lines += [f"  intervals: {first.confidence:.0%} {METHODS.get(first.method, first.method)}"]
    return lines


def _pct(level: float) -> str:
    """A level as a short percentage: 95%, 99.17%."""
    return f"{100 * level:.2f}".rstrip("0").rstrip(".") + "%"


def _iia_rows(r: Report) -> list[str]:
    exact = all(e.iia.exact or e.iia.n == 0 for e in r.per_variable)
    names = ["+".join(e.variables) for e in r.per_variable]
    width = max([len("variables"), *(len(n) for n in names if len(n) <= NAME_WIDTH)])
    counted = [est for e in r.per_variable for _, est in _strata(e) if est.n]
    w_ok = max([0, *(len(f"{est.successes or 0:,}") for est in counted)])
    head = f"  {'variables':<{width}}  {'pairs':<9}  {'IIA':>6}"
    head += "" if exact else f"  {'interval':<16}"
    lines = [*_evidence_header(r), head + "  agree"]
    for name, e in zip(names, r.per_variable):
        label = name
        if len(name) > width:
            lines.append(f"  {name}")
            label = ""
        for stratum, est in _strata(e):
            if est.n == 0 or math.isnan(est.value):
                row = f"  {label:<{width}}  {stratum:<9}  {'-':>6}"
                lines.append(row + ("" if exact else f"  {'':<16}") + f"  no {stratum} pairs")
            else:
                # sampled: the strata carry the decision bounds; the all row is only their sum
                interval = f"[{est.lo:.4f}, {est.hi:.4f}]" if stratum != "all" or not r.statistics else ""
                row = f"  {label:<{width}}  {stratum:<9}  {est.value:6.4f}"
                row += "" if exact else f"  {interval:<16}"
                lines.append(row + f"  {f'{est.successes or 0:,}':>{w_ok}} of {est.n:,}")
            label = ""
    return lines


def _seconds(r: Report) -> str:
    s = r.timing.get("seconds")
    return "" if s is None else f" in {s:.2f} s"


def _falsify_rows(r: Report) -> list[str]:
    d = r.details
    stop = STOPS.get(str(d.get("stop_reason")), str(d.get("stop_reason", "?")))
    lines = [
        "evidence: a seeded search for one disagreeing pair (property-based, shrinking)",
        f"  {d.get('examples_run', 0):,} examples, {d.get('pairs_run', 0):,} pairs{_seconds(r)}; stopped by {stop}",
    ]
    if {"max_examples", "batch", "deadline_s"} <= set(d):
        lines.append(f"  budget: {d['max_examples']:,} examples of up to {d['batch']} pairs, {d['deadline_s']:g} s")
    return lines


def _proof_rows(r: Report) -> list[str]:
    sets = r.details.get("sets", [])
    width = max([len("variables"), *(len(s["variables"]) for s in sets)])
    lines = [f"evidence: exact over every base and sources (z3 or enumeration){_seconds(r)}",
             f"  {'variables':<{width}}  answer"]
    for s in sets:
        how = f" ({s['method']})" if s.get("method") else ""
        lines.append(f"  {s['variables']:<{width}}  {s['answer']}{how}")
    return lines


def evidence(r: Report) -> list[str]:
    """The evidence part: per variable set (exhaustive, sample, prove) or the search's budget (falsify)."""
    if r.mode == "falsify":
        return _falsify_rows(r)
    if r.mode == "prove":
        return _proof_rows(r)
    return _iia_rows(r)


def replay_line(r: Report) -> str:
    """The one line that re-runs the counterexample on both sides (empty without a counterexample).

    It loads the files the claim was stated in when the report knows them
    (``provenance["replay"]``, written by the command line); otherwise it
    names the hypothesis class and the ``network`` and ``alignment`` objects.
    """
    cx = r.counterexample
    if cx is None:
        return ""
    refs: dict[str, Any] = r.provenance.get("replay") or {}
    if not refs.get("hypothesis") or not refs.get("network"):
        return cx.replay_line(r.hypothesis, "network", "alignment")
    found = r.provenance.get("alignment_search")
    alignment = refs.get("alignment")
    expr = json.dumps(alignment) if alignment else ("alignment" if found else None)
    return cx.replay_line(json.dumps(refs["hypothesis"]), json.dumps(refs["network"]), expr)


def counterexample(r: Report) -> list[str]:
    """The counterexample part: how it was found, its rows, and the replay line."""
    cx = r.counterexample
    if cx is None:
        return []
    how = FOUND_BY.get(cx.found_by, cx.found_by or r.mode)
    refuting = [d for d in r.details.get("sets", ()) if d.get("answer") == "refuted" and d.get("method")]
    if cx.found_by == "prove" and refuting:  # which of prove's two exact methods found it
        how = f"found by {refuting[0]['method']}, replayed by the engine"
    lines = [f"counterexample ({how}):"]
    lines += [f"  {line}" for line in cx.describe().splitlines()]
    lines.append(f"replay: {replay_line(r)}")
    if r.provenance.get("alignment_search") and not (r.provenance.get("replay") or {}).get("alignment"):
        lines += _wrap("(alignment: the one the search found; add --save-alignment FILE to replay it from a file)")
    return lines


def footer(r: Report) -> str:
    """Seed, versions and device: what a reader needs to rerun the same check."""
    p = r.provenance
    found = p.get("alignment_search") or {}
    if p.get("seed") is not None:
        seed = f"seed {p['seed']}"
    elif found.get("seed") is not None and _searched_here(r):
        seed = f"seed {found['seed']} (alignment search)"
    else:
        seed = f"no seed ({'every pair' if r.mode == 'exhaustive' else 'exact'})"
    return f"{seed}, causalabs {p.get('causalabs')}, torch {p.get('torch')}, device {p.get('device')}"


def to_text(r: Report) -> str:
    """The report as a researcher reads it (see the module docstring for its shape)."""
    # the reason stays one line, as in the JSON (a terminal wraps it; grep and pytest.raises(match=) find it)
    lines = [headline(r), f"  {r.reason}", "", *_claim(r), "", *evidence(r)]
    cx = counterexample(r)
    if cx:
        lines += ["", *cx]
    lines += identification.text_rows(r.identification)
    lines += metrics.text_rows(r.metrics)
    lines += ["", footer(r)]
    return "\n".join(lines)


# --- Markdown and LaTeX ---------------------------------------------------------------


def _est(e: Estimate) -> str:
    if e.n == 0:
        return "n/a (no pairs)"
    if e.exact:
        return f"{e.value:.4f} (exact, {e.successes:,}/{e.n:,})"
    if e.hi_confidence is not None:  # decision bounds: lower and upper at their own levels
        return f"{e.value:.4f} [{e.lo:.4f}, {e.hi:.4f}] ({e.confidence:.0%} / {e.hi_confidence:.2%} {e.method}, n={e.n:,})"
    return f"{e.value:.4f} [{e.lo:.4f}, {e.hi:.4f}] ({e.confidence:.0%} {e.method}, n={e.n:,})"


def to_markdown(r: Report) -> str:
    lines = [f"**{headline(r)}**", "", r.reason, ""]
    if r.per_variable:
        lines += ["| variables | IIA | changed pairs | unchanged pairs | failures |", "| --- | --- | --- | --- | --- |"]
        for e in r.per_variable:
            unchanged = "" if e.unchanged is None else _est(e.unchanged)
            lines.append(f"| {'+'.join(e.variables)} | {_est(e.iia)} | {_est(e.changed)} | {unchanged} | {e.failures:,} |")
        lines.append(f"| **all** | {_est(r.iia)} | | | {r.failures:,} |")
    else:
        lines += ["```", *evidence(r), "```"]
    lines += ["", "Alignment: " + "; ".join(f"`{v}` -> `{s}`" for v, s in r.alignment.items())]
    if r.counterexample is not None:
        lines += ["", "Counterexample:", "", "```", *counterexample(r), "```"]
    lines += identification.markdown_rows(r.identification)
    lines += metrics.markdown_rows(r.metrics)
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


def _tex_table(spec: str, head: str, rows: list[str], caption: str) -> str:
    body = [r"\begin{table}[t]", r"\centering", f"\\begin{{tabular}}{{{spec}}}", r"\toprule", head, r"\midrule"]
    return "\n".join([*body, *rows, r"\bottomrule", r"\end{tabular}", f"\\caption{{{caption}}}", r"\end{table}", ""])


def _tex_counterexample(r: Report) -> str:
    cx = r.counterexample
    if cx is None:
        return ""
    row = lambda values: ", ".join(f"{k}={v}" for k, v in values.items())  # noqa: E731
    sources = "; ".join(f"{v} from {row(src)}" for v, src in cx.sources.items())
    return f" Counterexample: base {row(cx.base)}; {sources}; hypothesis {cx.expected}, network {cx.observed}."


def to_latex(r: Report) -> str:
    """A booktabs table a paper can ``\\input``: the evidence of the report's mode, the verdict in the caption.

    With rivals checked, the identification follows the table.
    """
    extra = identification.latex_rows(r.identification, _tex)
    return _latex_table(r) + ("\n".join(extra) + "\n" if extra else "")


def _latex_table(r: Report) -> str:
    caption = _tex(f"{r.hypothesis} on {r.network}: {r.verdict} ({r.mode}, {footer(r).split(',')[0]})."
                   + _tex_counterexample(r))
    if r.mode == "prove":
        rows = [f"{_tex(s['variables'])} & {_tex(s['answer'])} & {_tex(s['method'] or '--')} \\\\"
                for s in r.details.get("sets", [])]
        return _tex_table("lll", r"Variables & Answer & Method \\", rows, caption)
    if r.mode == "falsify":
        d = r.details
        stop = str(d.get("stop_reason", "")).replace("_", " ")
        row = f"{d.get('examples_run', 0):,} & {d.get('pairs_run', 0):,} & {_tex(stop)} \\\\"
        return _tex_table("rrl", r"Examples & Pairs & Stopped by \\", [row], caption)
    rows = [
        f"{_tex('+'.join(e.variables))} & {_tex_est(e.iia)} & {_tex_est(e.changed)} & "
        f"{'--' if e.unchanged is None else _tex_est(e.unchanged)} & {e.failures:,} \\\\"
        for e in r.per_variable
    ]
    rows += [r"\midrule", f"All & {_tex_est(r.iia)} & & & {r.failures:,} \\\\"] if rows else []
    head = r"Variables & IIA & IIA (changed pairs) & IIA (unchanged pairs) & Failures \\"
    return _tex_table("lcccr", head, rows, caption)


RENDERERS = {"txt": to_text, "md": to_markdown, "tex": to_latex, "json": Report.to_json}
