"""A report's evidence as a figure: IIA per variable set with an interval per stratum (changed, unchanged pairs)."""

from __future__ import annotations

import math
from typing import Any

from causalabs.figures.plots import iia_intervals
from causalabs.figures.style import Width
from causalabs.metrics.estimate import Estimate
from causalabs.verification.report.report import Report


def _interval(e: Estimate | None) -> tuple[float, float, float]:
    if e is None or e.n == 0 or math.isnan(e.value):
        return (math.nan, math.nan, math.nan)
    return (e.value, e.lo, e.hi)


def iia_strata(r: Report) -> dict[str, list[tuple[float, float, float]]]:
    """Each stratum's (value, lo, hi) per variable set, in the report's order (schema 1: all pairs and changed)."""
    out = {"changed": [_interval(e.changed) for e in r.per_variable]}
    if any(e.unchanged is not None for e in r.per_variable):
        out["unchanged"] = [_interval(e.unchanged) for e in r.per_variable]
    else:
        out["all pairs"] = [_interval(e.iia) for e in r.per_variable]
    return out


def report_figure(r: Report, *, width: Width = "one") -> Any | None:
    """IIA with intervals per variable set (None for a report without per-set IIA: falsify, prove)."""
    if not r.per_variable:
        return None
    return iia_intervals(["+".join(e.variables) for e in r.per_variable], iia_strata(r), threshold=r.threshold,
                         title=f"{r.hypothesis} on {r.network}", width=width)
