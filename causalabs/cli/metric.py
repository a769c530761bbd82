"""``--metric iia|logit-diff|prob`` on ``verify`` and ``search``: the option, its checks, and search's ranking.

``verify`` passes the metric to :func:`causalabs.verify` (the report's
``metrics`` section, :mod:`causalabs.verification.lm_metrics`).  ``search``
reads it after the sweep: each fitted alignment (from the sweep's alignment
files) runs on the same held-out pairs as its IIA, the heatmap shows the
metric (its title names it), a table ranks the sites by it, and
``metrics.jsonl`` holds one line per (site, variable set).  The default,
``iia``, changes nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from causalabs.errors import LoadError
from causalabs.metrics.lm import METRICS, MetricEstimate, estimate

MetricOption = Annotated[
    str,
    typer.Option("--metric", metavar="METRIC", help="iia (default), or also report logit-diff (logit of the expected "
                 "answer minus the base answer's) or prob (probability of the expected answer), with intervals; "
                 "verdicts stay IIA's"),
]
#: The file ``search --metric`` writes beside records.jsonl.
METRIC_FILE = "metrics.jsonl"


def check_metric_option(metric: str, mode: str | None = None) -> None:
    """Refuse an unknown metric, or an LM metric with a mode that reads no pairs (a :class:`LoadError`)."""
    if metric not in METRICS:
        raise LoadError(f"--metric {metric!r}: choose one of {', '.join(METRICS)}")
    if metric != "iia" and mode in ("falsify", "prove"):
        raise LoadError(f"--metric {metric}: goes with --mode exhaustive, sample or sequential, not {mode}")


def search_metrics(
    network: Any, model: Any, result: Any, folder: Path, test: Sequence[Any], metric: str
) -> dict[tuple[str, tuple[str, ...]], MetricEstimate | None]:
    """``metric`` of every record's fitted alignment on its held-out pairs (None: no alignment file, resumed)."""
    from causalabs.align.store import load_alignment
    from causalabs.align.sweep_files import alignment_path
    from causalabs.engine.evaluate import evaluate_pairs
    from causalabs.verification.lm_metrics import check_logits, unpatched_readings

    check_logits(network, model, metric)
    out: dict[tuple[str, tuple[str, ...]], MetricEstimate | None] = {}
    for r in result.records:
        path = alignment_path(folder, r.site, r.variables)
        if not path.is_file():
            out[(r.site, r.variables)] = None
            continue
        al = load_alignment(path, network=network)
        on, off, expected, base_output = [], [], [], []
        for ds in (d for d in test if set(d.intervened) <= set(r.variables)):
            res = evaluate_pairs(network, al, ds, logits=True)
            on.append(res.logits)
            off.append(unpatched_readings(network, ds.base, res.expected, res.base_output))
            expected.append(res.expected)
            base_output.append(res.base_output)
        out[(r.site, r.variables)] = estimate(
            metric, np.concatenate(on), np.concatenate(off), np.concatenate(expected), np.concatenate(base_output)
        )
    return out


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


def metric_lines(found: dict[tuple[str, tuple[str, ...]], MetricEstimate | None]) -> str:
    """``metrics.jsonl``: one JSON line per (site, variable set), in sweep order."""
    return "".join(
        json.dumps({"site": site, "variables": list(vs), **({} if m is None else m.to_dict())}, sort_keys=True) + "\n"
        for (site, vs), m in found.items()
    )


def report_search_metric(
    network: Any, model: Any, result: Any, folder: Path, test: Sequence[Any], metric: str,
    sets: Sequence[tuple[str, ...]], tokens: Any,
) -> Path:
    """After a sweep: the metric per record, its heatmap (``heatmap.png``), the ranked table, ``metrics.jsonl``."""
    from causalabs.align.heatmap import plot_heatmap
    from causalabs.cli.layout import print_table
    from causalabs.cli.paths import write_atomic

    found = search_metrics(network, model, result, folder, test, metric)
    scores = {k: (math.nan if m is None else m.patched.value) for k, m in found.items()}
    heatmap = plot_heatmap(result, folder / "heatmap.png", tokens=tokens, scores=scores, label=metric)
    write_atomic(folder / METRIC_FILE, metric_lines(found))
    sites = list(dict.fromkeys(r.site for r in result.records))
    print_table(
        f"held-out {metric}, best first: {model.name} on {network.name} (patched; mean, 95% t-interval)",
        ["site", *("+".join(vs) for vs in sets)], ranked_rows(sites, sets, found),
        right=["+".join(vs) for vs in sets],
    )
    return heatmap


__all__ = ["METRIC_FILE", "MetricOption", "check_metric_option", "ranked_rows", "report_search_metric", "search_metrics"]
