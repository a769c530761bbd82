"""Read a report back from its JSON form (``Report.to_json``), checking the schema."""

from __future__ import annotations

from typing import Any

from causalabs.errors import LoadError
from causalabs.metrics.estimate import Estimate
from causalabs.verification.report.counterexample import Counterexample
from causalabs.verification.report.report import SCHEMA, Report, VariableEvidence

_ESTIMATE_FIELDS = ("value", "lo", "hi", "n", "exact", "confidence", "method", "successes")


def _estimate(d: dict[str, Any]) -> Estimate:
    return Estimate(**{k: d[k] for k in _ESTIMATE_FIELDS if k in d})


def report_from_dict(doc: dict[str, Any], *, where: str = "report") -> Report:
    """The :class:`Report` a JSON document describes; LoadError naming ``where`` if it is not one."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else None
        raise LoadError(f"{where}: not a causalabs report (schema {got!r}, expected {SCHEMA!r})")
    try:
        cx = doc["counterexample"]
        counterexample = None if cx is None else Counterexample(
            cx["base"], cx["sources"], cx["expected"], cx["observed"], cx.get("margin"), cx.get("seed"), cx.get("found_by", "")
        )
        evidence = tuple(
            VariableEvidence(tuple(key.split("+")), _estimate(v["iia"]), _estimate(v["changed"]), int(v["failures"]))
            for key, v in doc["per_variable"].items()
        )
        return Report(
            verdict=doc["verdict"],
            mode=doc["mode"],
            hypothesis=doc["hypothesis"],
            network=doc["network"],
            alignment=dict(doc["alignment"]),
            threshold=float(doc["threshold"]),
            iia=_estimate(doc["iia"]),
            per_variable=evidence,
            counterexample=counterexample,
            reason=doc["reason"],
            provenance=dict(doc["provenance"]),
            timing=dict(doc.get("timing", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LoadError(f"{where}: malformed causalabs report ({type(exc).__name__}: {exc})") from None
