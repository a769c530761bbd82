"""LM metrics of interchange pairs: logit difference and probability of the expected answer, with intervals.

Inputs are per-pair readings of a decoder's scores (logits over its output
classes; :mod:`causalabs.engine.readout`), on the patched run and on the
unpatched base run: the score of the *expected* answer (the hypothesis'
output under the intervention), the score of the *base* answer (the
hypothesis' output on the base) and the log softmax normaliser.

* ``logit-diff``: score(expected) - score(base answer), over the pairs whose
  expected answer differs from the base answer (the others have difference 0
  by construction: they are excluded and counted).
* ``prob``: exp(score(expected) - log normaliser), over every pair.

Each is a mean with a Student-t interval over pairs (:func:`causalabs.metrics.estimate.mean`,
``scipy.stats.t``; a probability's interval is clipped to [0, 1]); beside it
the same mean on the unpatched base run, and the paired shift (patched minus
unpatched) with its own t-interval: how far the patch moved it.  These are
reported, never decided on: verdicts stay IIA-based.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from causalabs.errors import EstimateError
from causalabs.metrics.estimate import Estimate, mean

#: The metrics ``verify`` and ``search`` take (``iia``: the default, no extra reading).
METRICS = ("iia", "logit-diff", "prob")
#: What each LM metric is, in words (reports and the heatmap's title).
DESCRIPTION = {
    "logit-diff": "logit of the expected answer minus logit of the base answer (pairs whose answers differ)",
    "prob": "probability of the expected answer",
}


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise EstimateError(f"metric {metric!r}: choose one of {', '.join(METRICS)}")
    return metric


@attrs.frozen
class MetricEstimate:
    """One LM metric over a set of pairs: on the patched run, the unpatched base run, and their paired shift."""

    metric: str
    patched: Estimate
    unpatched: Estimate
    shift: Estimate
    pairs: int  # pairs given
    excluded: int  # pairs left out (logit-diff: the expected answer is the base answer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "patched": self.patched.to_dict(), "unpatched": self.unpatched.to_dict(),
            "shift": self.shift.to_dict(), "pairs": self.pairs, "excluded": self.excluded,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetricEstimate:
        return cls(d["metric"], Estimate(**d["patched"]), Estimate(**d["unpatched"]), Estimate(**d["shift"]),
                   int(d["pairs"]), int(d["excluded"]))


def per_pair(metric: str, readings: np.ndarray, expected: np.ndarray, base_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The metric of every pair from its (n, 3) readings, and which pairs count (logit-diff: answers differ)."""
    r = np.asarray(readings, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != 3 or r.shape[0] != len(expected):
        raise EstimateError(f"{metric}: readings of shape {r.shape} for {len(expected)} pairs; expected (n, 3)")
    if metric == "logit-diff":
        return r[:, 0] - r[:, 1], np.asarray(expected) != np.asarray(base_output)
    if metric == "prob":
        return np.exp(r[:, 0] - r[:, 2]), np.ones(len(expected), dtype=bool)
    raise EstimateError(f"metric {metric!r}: per-pair readings exist for logit-diff and prob")


def _clip(e: Estimate, lo: float, hi: float) -> Estimate:
    if e.n < 2 or e.exact:
        return e
    return attrs.evolve(e, lo=max(lo, e.lo), hi=min(hi, e.hi))


def estimate(
    metric: str,
    patched: np.ndarray,
    unpatched: np.ndarray,
    expected: np.ndarray,
    base_output: np.ndarray,
    *,
    confidence: float = 0.95,
) -> MetricEstimate:
    """``metric`` over pairs from their patched and unpatched (n, 3) readings (see the module docstring)."""
    check_metric(metric)
    on, keep = per_pair(metric, patched, expected, base_output)
    off, _ = per_pair(metric, unpatched, expected, base_output)
    on, off = on[keep], off[keep]
    if not (np.isfinite(on).all() and np.isfinite(off).all()):
        raise EstimateError(f"{metric}: an expected or base answer is not among the decoder's output classes")
    est = [mean(x, confidence=confidence) for x in (on, off, on - off)]
    if metric == "prob":
        est[0], est[1] = _clip(est[0], 0.0, 1.0), _clip(est[1], 0.0, 1.0)
    return MetricEstimate(metric, est[0], est[1], est[2], int(len(keep)), int((~keep).sum()))


__all__ = ["DESCRIPTION", "METRICS", "MetricEstimate", "check_metric", "estimate", "per_pair"]
