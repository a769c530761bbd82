"""Read a report back from its JSON form (``Report.to_json``), checking the schema and the digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from causalabs.errors import LoadError, ReportIntegrityError
from causalabs.metrics.estimate import Estimate
from causalabs.verification.report.counterexample import Counterexample
from causalabs.verification.report.report import SCHEMA, Report, VariableEvidence, report_digest

_ESTIMATE_FIELDS = ("value", "lo", "hi", "n", "exact", "confidence", "method", "successes", "hi_confidence")
#: Schemas this module reads: version 1 (before strata and decision statistics were recorded), version 2 (before
#: ``stopping``) and the current one.
READABLE = ("causalabs.report/1", "causalabs.report/2", SCHEMA)


def _estimate(d: dict[str, Any]) -> Estimate:
    return Estimate(**{k: d[k] for k in _ESTIMATE_FIELDS if k in d})


def _in_order(entries: dict[str, Any], order: list[str] | None) -> list[tuple[str, Any]]:
    """``entries`` in the order the report was made in (``order``), when the document records it."""
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(entries):
        return list(entries.items())
    return [(k, entries[k]) for k in order]


def report_from_dict(doc: dict[str, Any], *, where: str = "report") -> Report:
    """The :class:`Report` a JSON document describes; LoadError naming ``where`` if it is not one."""
    if not isinstance(doc, dict) or doc.get("schema") not in READABLE:
        got = doc.get("schema") if isinstance(doc, dict) else None
        raise LoadError(f"{where}: not a causalabs report (schema {got!r}, expected {SCHEMA!r})")
    try:
        cx = doc["counterexample"]
        counterexample = None if cx is None else Counterexample(
            cx["base"], cx["sources"], cx["expected"], cx["observed"], cx.get("margin"), cx.get("seed"), cx.get("found_by", "")
        )
        order = doc.get("order") if isinstance(doc.get("order"), dict) else {}
        evidence = tuple(
            VariableEvidence(
                tuple(key.split("+")),
                _estimate(v["iia"]),
                _estimate(v["changed"]),
                int(v["failures"]),
                None if v.get("unchanged") is None else _estimate(v["unchanged"]),
            )
            for key, v in _in_order(doc["per_variable"], order.get("per_variable"))
        )
        return Report(
            verdict=doc["verdict"],
            mode=doc["mode"],
            hypothesis=doc["hypothesis"],
            network=doc["network"],
            alignment=dict(_in_order(doc["alignment"], order.get("alignment"))),
            threshold=float(doc["threshold"]),
            iia=_estimate(doc["iia"]),
            per_variable=evidence,
            counterexample=counterexample,
            reason=doc["reason"],
            provenance=dict(doc["provenance"]),
            timing=dict(doc.get("timing", {})),
            confidence=float(doc.get("confidence", 0.95)),
            statistics=dict(doc.get("statistics", {})),
            details=dict(doc.get("details", {})),
            stopping=None if doc.get("stopping") is None else dict(doc["stopping"]),
            identification=None if doc.get("identification") is None else dict(doc["identification"]),
            metrics=None if doc.get("metrics") is None else dict(doc["metrics"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # AttributeError: a list where a dict belongs
        raise LoadError(f"{where}: malformed causalabs report ({type(exc).__name__}: {exc})") from None


def check_digest(doc: dict[str, Any], *, where: str = "report") -> None:
    """Raise :class:`~causalabs.errors.ReportIntegrityError` naming ``where`` unless ``doc`` matches its digest.

    The digest covers every field but ``timing`` (see
    :func:`~causalabs.verification.report.report.report_digest`): an edited
    verdict, estimate, counterexample or provenance is detected, and so is a
    removed digest.
    """
    recorded = doc.get("digest")
    if not isinstance(recorded, str):
        raise ReportIntegrityError(
            f"{where}: the report has no digest (edited, or not written by `causalabs verify --json`); "
            "rerun the verification to get a report that can be checked"
        )
    actual = report_digest(doc)
    if recorded != actual:
        raise ReportIntegrityError(
            f"{where}: the report was changed after it was written (its content has digest {actual[:12]}..., "
            f"the file records {recorded[:12]}...); rerun the verification to get a trustworthy report"
        )


def load_report(path: str | Path) -> Report:
    """The report in a JSON file written by ``causalabs verify --json``, its schema and digest checked.

    Every problem is a :class:`~causalabs.errors.LoadError` naming the file:
    missing, a directory, not UTF-8, not JSON (or nested too deeply), another
    schema, malformed fields, or content that does not match its digest
    (:class:`~causalabs.errors.ReportIntegrityError`).
    """
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise LoadError(f"{p}: no such report file") from None
    except IsADirectoryError:
        raise LoadError(f"{p}: is a directory, not a report file") from None
    except UnicodeDecodeError as exc:
        raise LoadError(f"{p}: not a JSON report (not UTF-8 text: {exc.reason} at byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(f"{p}: not a JSON report ({exc})") from None
    except RecursionError:
        raise LoadError(f"{p}: not a JSON report (nested too deeply)") from None
    if not isinstance(doc, dict) or doc.get("schema") not in READABLE:
        got = doc.get("schema") if isinstance(doc, dict) else None
        raise LoadError(f"{p}: not a causalabs report (schema {got!r}, expected {SCHEMA!r})")
    check_digest(doc, where=str(p))
    return report_from_dict(doc, where=str(p))
