"""``causalabs plan`` and the sequential options of ``causalabs verify`` (--max-pairs, --max-seconds).

Planning itself is :func:`causalabs.verification.planning.plan`; this module
checks the options, reads a pilot report and prints.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from causalabs.errors import LoadError

if TYPE_CHECKING:
    from causalabs.verification.report.report import Report


def check_budget(mode: str, max_pairs: int | None, max_seconds: float | None) -> dict[str, Any]:
    """The sequential budget as ``verify`` keywords; refused with another mode or out of range (a usage error)."""
    if mode != "sequential":
        if max_pairs is not None or max_seconds is not None:
            raise LoadError("--max-pairs and --max-seconds go with --mode sequential")
        return {}
    out: dict[str, Any] = {}
    if max_pairs is not None:
        if max_pairs < 2:
            raise LoadError(f"--max-pairs {max_pairs}: at least 2 pairs per variable set")
        out["max_pairs"] = int(max_pairs)
    if max_seconds is not None:
        if not (max_seconds > 0 and math.isfinite(max_seconds)):
            raise LoadError(f"--max-seconds {max_seconds:g}: a positive number of seconds")
        out["max_seconds"] = float(max_seconds)
    return out


def inconclusive_note(report: Report) -> str | None:
    """For an inconclusive sample-mode verdict below threshold 1: about how many more pairs would decide it."""
    if report.mode != "sample" or report.verdict != "inconclusive" or report.threshold >= 1.0:
        return None
    strata = [(ev, e) for ev in report.per_variable for e in (ev.changed, ev.unchanged)
              if e is not None and e.n > 0 and not math.isnan(e.value)]
    if not strata:
        return None
    from causalabs.verification.planning import more_pairs_line

    ev, nearest = min(strata, key=lambda x: abs(x[1].value - report.threshold))
    line = more_pairs_line(report.threshold, report.confidence, nearest.value, sets=len(report.per_variable),
                           used=ev.iia.n)
    return f"plan: {line} (causalabs plan --threshold {report.threshold:g} --iia {nearest.value:.4f} for a table)"


def run_plan(
    threshold: float | None, confidence: float, iia: float | None, pilot: Path | None, sets: int, max_pairs: int,
    as_json: bool,
) -> str:
    """The plan as text (or JSON): pairs per set to a decision at the assumed IIA and a few around it."""
    from causalabs.verification.planning import plan

    report = None
    if pilot is not None:
        from causalabs.verification.report.io import load_report

        report = load_report(pilot)
    elif threshold is None or iia is None:
        raise LoadError("causalabs plan: give --threshold and --iia, or --pilot REPORT.json")
    p = plan(threshold, confidence, iia=iia, report=report, sets=sets, max_pairs=max_pairs)
    return json.dumps(p.to_dict(), indent=2) + "\n" if as_json else str(p) + "\n"
