"""Falsify's and prove's answers as a :class:`Report`: one schema, one rendering, one ``--json`` for every mode.

Neither mode measures an IIA: ``iia`` is the empty estimate (n = 0) and
``per_variable`` is empty.  What each did goes into ``details``:

* falsify: ``examples_run``, ``pairs_run``, ``stop_reason`` and the search's
  budget (``max_examples``, ``deadline_s``, ``batch``).  Verdict: refuted with
  the shrunk counterexample, else inconclusive (a search that finds nothing
  proves nothing).
* prove: ``sets``, one entry per intervened variable set in order, with its
  ``answer`` (proved, refuted, unknown, not refuted, not checked) and how it
  was settled (``method``: z3 or enumeration).  Verdict: proved -> verified,
  refuted -> refuted, unknown -> inconclusive.

Both take the claim's exact threshold, 1: they look for one disagreeing pair.  As in ``verify``, a
refutation under an alignment whose search did not converge is inconclusive (``after_search``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from causalabs.metrics.estimate import proportion
from causalabs.verification.report.found import after_search
from causalabs.verification.report.provenance import provenance
from causalabs.verification.report.report import Report

__all__ = ["falsify_report", "proof_report"]

#: prove's statuses as verdicts of the shared schema.
PROOF_VERDICTS = {"proved": "verified", "refuted": "refuted", "unknown": "inconclusive"}


def _claim(model: Any, network: Any, alignment: Any) -> dict[str, Any]:
    return {
        "hypothesis": model.name,
        "network": network.name,
        "alignment": {v: s.name for v, s in alignment.sites.items()},
        "threshold": 1.0,
    }


def falsify_report(
    result: Any, model: Any, network: Any, alignment: Any, *, budget: Mapping[str, Any] | None = None
) -> Report:
    """The :class:`Report` of a :class:`~causalabs.verification.FalsifyResult` (``budget``: its settings)."""
    cx = result.counterexample
    if cx is not None:
        verdict = "refuted"
        reason = f"{'+'.join(cx.intervened)}: the network and the hypothesis disagree on the (shrunk) pair below"
    else:
        verdict = "inconclusive"
        reason = (f"no disagreement found in {result.examples_run:,} examples ({result.pairs_run:,} pairs); "
                  "not a proof: the search samples")
    verdict, reason = after_search(verdict, reason, alignment.info)
    return Report(
        verdict=verdict,  # type: ignore[arg-type]
        mode="falsify",
        **_claim(model, network, alignment),
        iia=proportion(0, 0),
        per_variable=(),
        counterexample=cx,
        reason=reason,
        provenance=provenance(model, network, seed=result.seed, mode="falsify", alignment_info=alignment.info),
        timing={"seconds": round(float(result.elapsed), 3)},
        details={
            "examples_run": result.examples_run,
            "pairs_run": result.pairs_run,
            "stop_reason": result.stop_reason,
            **dict(budget or {}),
        },
    )


def _proof_sets(result: Any) -> list[dict[str, str]]:
    done = len(result.methods)
    out = []
    for i, vs in enumerate(result.checked):
        label = "{" + ", ".join(vs) + "}"
        method = result.methods[i] if i < done else ""
        if i >= done:
            answer = "not checked"
        elif result.status == "refuted":
            answer = "refuted" if i == done - 1 else "not refuted"
        elif result.status == "unknown" and label in result.reason:
            answer = "unknown"
        else:
            answer = "proved"
        out.append({"variables": "+".join(vs), "answer": answer, "method": method})
    return out


def proof_report(result: Any, model: Any, network: Any, alignment: Any) -> Report:
    """The :class:`Report` of a :class:`~causalabs.verification.prove.ProofResult`."""
    verdict, reason = after_search(PROOF_VERDICTS[result.status], result.reason, alignment.info)
    return Report(
        verdict=verdict,  # type: ignore[arg-type]
        mode="prove",
        **_claim(model, network, alignment),
        iia=proportion(0, 0),
        per_variable=(),
        counterexample=result.counterexample,
        reason=reason,
        provenance=provenance(model, network, seed=None, mode="prove", alignment_info=alignment.info),
        timing={"seconds": round(float(result.elapsed), 3)},
        details={"sets": _proof_sets(result)},
    )
