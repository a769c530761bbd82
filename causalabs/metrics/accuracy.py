"""Interchange-intervention accuracy (IIA) with intervals, per variable set and overall.

IIA is the fraction of counterfactual pairs on which the network under the
intervention gives the hypothesis' counterfactual output.  Pairs where the
intervention should change the output ("changed") are reported apart from
those where it should not: only the former show the variable is causally
used.  The soft version is the mean probability of the expected value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import attrs
import numpy as np

from causalabs.errors import EstimateError
from causalabs.metrics.estimate import Estimate, Method, mean, proportion


class PairOutcomes(Protocol):
    intervened: tuple[str, ...]
    correct: np.ndarray
    changed: np.ndarray
    prob_expected: np.ndarray | None
    exhaustive: bool


@attrs.frozen
class IIA:
    """IIA of one set of intervened variables (or of all pairs pooled)."""

    overall: Estimate
    changed: Estimate
    unchanged: Estimate
    soft: Estimate | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "changed": self.changed.to_dict(),
            "unchanged": self.unchanged.to_dict(),
            "soft": None if self.soft is None else self.soft.to_dict(),
        }


@attrs.frozen
class IIAReport:
    """IIA for each intervened variable set (key ``"left"``, ``"left+right"``) and pooled."""

    overall: IIA
    per_variable: dict[str, IIA]

    def __str__(self) -> str:
        lines = [f"IIA {self.overall.overall}  (changed pairs: {self.overall.changed})"]
        for k, v in self.per_variable.items():
            lines.append(f"  {k}: {v.overall}  (changed: {v.changed})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall.to_dict(), "per_variable": {k: v.to_dict() for k, v in self.per_variable.items()}}


def _iia(
    correct: np.ndarray,
    changed: np.ndarray,
    prob: np.ndarray | None,
    exact: bool,
    confidence: float,
    method: Method,
) -> IIA:
    def p(mask: np.ndarray) -> Estimate:
        return proportion(int(correct[mask].sum()), int(mask.sum()), exact=exact, confidence=confidence, method=method)

    everything = np.ones_like(correct, dtype=bool)
    soft = None if prob is None else mean(prob, confidence=confidence, exact=exact)
    return IIA(p(everything), p(changed), p(~changed), soft)


def iia(
    results: PairOutcomes | Sequence[PairOutcomes],
    *,
    confidence: float = 0.95,
    method: Method = "wilson",
) -> IIAReport:
    """IIA estimates from one or several evaluated datasets (one per intervened variable set).

    An estimate is exact when its pairs are every pair of a finite domain;
    otherwise it carries a Wilson (default) or Clopper-Pearson interval.
    """
    items = [results] if not isinstance(results, Sequence) else list(results)
    if not items:
        raise EstimateError("iia: no results given")
    groups: dict[str, list[PairOutcomes]] = {}
    for r in items:
        groups.setdefault("+".join(r.intervened), []).append(r)
    per = {key: _pooled(group, confidence, method) for key, group in groups.items()}
    return IIAReport(_pooled(items, confidence, method), per)


def _pooled(items: Sequence[PairOutcomes], confidence: float, method: Method) -> IIA:
    """IIA over the pairs of several results taken together."""
    correct = np.concatenate([np.asarray(r.correct, dtype=bool) for r in items])
    changed = np.concatenate([np.asarray(r.changed, dtype=bool) for r in items])
    probs = (
        None
        if any(r.prob_expected is None for r in items)
        else np.concatenate([np.asarray(r.prob_expected) for r in items])
    )
    exact = all(r.exhaustive for r in items)
    return _iia(correct, changed, probs, exact, confidence, method)
