"""``Report``: a verdict on a claim with its evidence and provenance (a frozen value).

The JSON form follows a versioned schema (``SCHEMA``): ``verdict``, ``mode``,
``threshold``, ``confidence``, ``statistics`` (how the verdict was decided:
interval, sides, correction, bounds tested), ``iia`` {value, lo, hi, n,
exact}, ``per_variable`` (each set's IIA and its changed and unchanged
pairs), ``counterexample`` (or null), ``provenance``, ``details`` (what the
mode did beyond the IIA evidence: falsify's search, prove's answer per
variable set; empty for exhaustive and sample), ``order`` (the order of
``alignment`` and ``per_variable``, which the sorted JSON keys lose) and
``timing`` (the only fields that differ between two runs of the same
command); ``to_json`` adds
``digest``: the SHA-256 of the canonical JSON of every other field except
``timing`` (:func:`report_digest`), so an edited verdict or number is
detected when the file is read back
(:func:`causalabs.verification.report.io.load_report`).

``identification`` (optional, only when rivals were checked: see
docs/rivals.md) lists the rivals excluded, surviving and indistinguishable.
``metrics`` (optional, only with ``metric="logit-diff"`` or ``"prob"``: see
:mod:`causalabs.verification.lm_metrics`) holds that metric per variable set.

Version 2 added ``confidence``, ``statistics`` and the ``unchanged`` stratum
of each set.  Version 3 added ``stopping`` (sequential mode: the stopping
rule, why it stopped, the pairs used and the confidence sequence's bounds at
the stop; null in every other mode) and the mode ``sequential``;
:mod:`~causalabs.verification.report.io` reads versions 1, 2 and 3 (see
docs/verify.md, "Report schema versions").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from causalabs.metrics.estimate import Estimate
from causalabs.verification.report.counterexample import Counterexample

SCHEMA = "causalabs.report/3"
#: Fields outside the digest: the digest itself, and the timing (which differs between two runs).
UNDIGESTED = ("digest", "timing")
Verdict = Literal["verified", "refuted", "inconclusive"]
VERDICTS = ("verified", "refuted", "inconclusive")


@attrs.frozen
class VariableEvidence:
    """IIA of one intervened variable set, with its failures.

    ``changed``: the pairs whose intervention changes the hypothesis' output;
    ``unchanged``: the others.  The claim holds for the set iff the IIA of
    each non-empty one reaches the threshold (see docs/verify.md).
    """

    variables: tuple[str, ...]
    iia: Estimate
    changed: Estimate
    failures: int
    unchanged: Estimate | None = None


@attrs.frozen(repr=False)
class Report:
    """What was claimed, the verdict, and everything needed to rerun and check it."""

    verdict: Verdict = attrs.field(validator=attrs.validators.in_(VERDICTS))
    mode: str
    hypothesis: str
    network: str
    alignment: dict[str, str]
    threshold: float
    iia: Estimate
    per_variable: tuple[VariableEvidence, ...]
    counterexample: Counterexample | None
    reason: str
    provenance: dict[str, Any]
    timing: dict[str, float] = attrs.field(factory=dict)
    confidence: float = 0.95
    statistics: dict[str, Any] = attrs.field(factory=dict)
    details: dict[str, Any] = attrs.field(factory=dict)
    stopping: dict[str, Any] | None = None
    #: rivals excluded and surviving (``verify(rivals=N)``); None when rivals were not checked
    identification: dict[str, Any] | None = None
    #: an LM metric per variable set (``verify(metric="logit-diff" | "prob")``); None with the default IIA
    metrics: dict[str, Any] | None = None

    @property
    def failures(self) -> int:
        return sum(e.failures for e in self.per_variable)

    def __repr__(self) -> str:
        """One line: the verdict, the claim, the mode and the reason (``str`` / ``to_text`` for the whole report)."""
        at = "" if self.threshold >= 1.0 else f" at threshold {self.threshold:g}"
        return f"<Report {self.verdict}{at}: {self.hypothesis} on {self.network} ({self.mode}); {self.reason}>"

    def _repr_html_(self) -> str:
        """Jupyter's display: verdict, claim, IIA figure and table, counterexample, provenance."""
        from causalabs.verification.report.html import repr_html

        return repr_html(self)

    def to_dict(self) -> dict[str, Any]:
        def est(e: Estimate) -> dict[str, Any]:
            d = {"value": e.value, "lo": e.lo, "hi": e.hi, "n": e.n, "exact": e.exact,
                 "confidence": e.confidence, "method": e.method, "successes": e.successes}
            if e.hi_confidence is not None:
                d["hi_confidence"] = e.hi_confidence
            return d

        doc = {
            "schema": SCHEMA,
            "verdict": self.verdict,
            "mode": self.mode,
            "hypothesis": self.hypothesis,
            "network": self.network,
            "alignment": dict(self.alignment),
            "threshold": self.threshold,
            "confidence": self.confidence,
            "statistics": dict(self.statistics),
            "iia": est(self.iia),
            "per_variable": {
                "+".join(e.variables): {
                    "iia": est(e.iia),
                    "changed": est(e.changed),
                    "unchanged": None if e.unchanged is None else est(e.unchanged),
                    "failures": e.failures,
                }
                for e in self.per_variable
            },
            "counterexample": None if self.counterexample is None else self.counterexample.to_dict(),
            "reason": self.reason,
            "provenance": dict(self.provenance),
            "timing": dict(self.timing),
            "details": dict(self.details),
            "stopping": None if self.stopping is None else dict(self.stopping),
            # the JSON sorts every key: these lists keep the order the report was made in
            "order": {"alignment": list(self.alignment), "per_variable": ["+".join(e.variables) for e in self.per_variable]},
        }
        if self.identification is not None:  # an optional key: only when rivals were checked
            doc["identification"] = self.identification
        if self.metrics is not None:  # an optional key: only with an LM metric
            doc["metrics"] = self.metrics
        return doc

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, fixed separators) with its ``digest``: byte-identical for identical reports."""
        doc = self.to_dict()
        doc["digest"] = report_digest(doc)
        return json.dumps(doc, sort_keys=True, indent=2, allow_nan=True) + "\n"


def report_digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 of a report's canonical JSON without ``digest`` and ``timing``.

    Canonical: the fields after a JSON round trip (so a report and the same
    report read back from its file give the same digest), keys sorted, no
    whitespace, NaN written as ``NaN``.
    """
    body = {k: v for k, v in doc.items() if k not in UNDIGESTED}
    plain = json.loads(json.dumps(body, allow_nan=True))
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"), allow_nan=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
