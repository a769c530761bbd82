"""``--metric iia|logit-diff|prob`` on ``verify`` and ``search``: the option, its checks, and search's ranking.

``verify`` passes the metric to :func:`causalabs.verify` (the report's
``metrics`` section, :mod:`causalabs.verification.lm_metrics`).  ``search``
passes it to the sweep (each fit is read on the same held-out pairs as its
IIA, ``SweepRecord.metric``); the heatmap then shows the metric (its title
names it), a table ranks the sites by it, and ``records.jsonl`` holds it
(each record's ``metric``).  The default,
``iia``, changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from causalabs.errors import LoadError
from causalabs.metrics.lm import METRICS, MetricEstimate

MetricOption = Annotated[
    str,
    typer.Option("--metric", metavar="METRIC", help="iia (default), or also report logit-diff (logit of the expected "
                 "answer minus the base answer's) or prob (probability of the expected answer), with intervals; "
                 "verdicts stay IIA's"),
]


def check_metric_option(metric: str, mode: str | None = None) -> None:
    """Refuse an unknown metric, or an LM metric with a mode that reads no pairs (a :class:`LoadError`)."""
    if metric not in METRICS:
        raise LoadError(f"--metric {metric!r}: choose one of {', '.join(METRICS)}")
    if metric != "iia" and mode in ("falsify", "prove"):
        raise LoadError(f"--metric {metric}: goes with --mode exhaustive, sample or sequential, not {mode}")


def check_network(network: Any, hypothesis: Any, metric: str) -> None:
    """Before any work: an LM metric needs a decode() that gives logits (a MetricError naming the network file)."""
    if metric != "iia":
        from causalabs.scm.semantics import model_of
        from causalabs.verification.lm_metrics import check_logits

        check_logits(network, model_of(hypothesis), metric)


def search_metrics(result: Any) -> dict[tuple[str, tuple[str, ...]], MetricEstimate | None]:
    """Each record's held-out metric (``sweep(metric=...)``), by (site, variables)."""
    return {(r.site, r.variables): r.metric for r in result.records}


def _cell(m: MetricEstimate | None) -> str:
    if m is None:
        return "n/a"
    e = m.patched
    if not (math.isfinite(e.lo) and math.isfinite(e.hi)):
        return f"{e.value:.3f}"
    return f"{e.value:.3f} [{e.lo:.3f}, {e.hi:.3f}]"


def ranked_rows(
    sites: Sequence[str], sets: Sequence[tuple[str, ...]], found: dict[tuple[str, tuple[str, ...]], MetricEstimate | None]
) -> list[list[str]]:
    """One row per site (its metric per variable set), best first by the first set's patched mean."""
    def key(site: str) -> float:
        m = found.get((site, sets[0]))
        return -m.patched.value if m is not None and math.isfinite(m.patched.value) else math.inf

    return [[s, *(_cell(found.get((s, vs))) for vs in sets)] for s in sorted(sites, key=key)]


def report_search_metric(
    network: Any, model: Any, result: Any, folder: Path, metric: str, sets: Sequence[tuple[str, ...]], tokens: Any,
) -> Path:
    """After a sweep: its heatmap of the metric (``heatmap.png``) and the table of sites ranked by it."""
    from causalabs.align.heatmap import plot_heatmap
    from causalabs.cli.layout import print_table

    found = search_metrics(result)
    scores = {k: (math.nan if m is None else m.patched.value) for k, m in found.items()}
    heatmap = plot_heatmap(result, folder / "heatmap.png", tokens=tokens, scores=scores, label=metric)
    sites = list(dict.fromkeys(r.site for r in result.records))
    print_table(
        f"held-out {metric}, best first: {model.name} on {network.name} (patched; mean, 95% t-interval)",
        ["site", *("+".join(vs) for vs in sets)], ranked_rows(sites, sets, found),
        right=["+".join(vs) for vs in sets],
    )
    return heatmap


__all__ = ["MetricOption", "check_metric_option", "check_network", "ranked_rows", "report_search_metric", "search_metrics"]
