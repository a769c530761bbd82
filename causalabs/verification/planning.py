"""Sample-size planning: how many pairs would decide a claim, fixed-n (sample mode) vs sequential.

For a threshold ``t``, a confidence, a number of variable sets and an
assumed true IIA (the same on every set and stratum), :func:`plan` gives

* **sequential**: the mean, median and 95th percentile of the pairs per set
  that :func:`causalabs.verification.stopping.run_sequential` uses before it
  decides, and how often it decides within ``max_pairs``, by simulating the
  very rule the verifier runs on balanced binomial draws (``runs`` runs,
  seeded);
* **fixed-n**: the smallest number of balanced pairs per set at which sample
  mode's one-sided Clopper-Pearson rule decides correctly with probability
  at least ``power`` (exactly, from the binomial distribution), and the
  probability that the default 2,000 pairs decide.

A pilot report (``report=``) supplies the threshold, the confidence, the
number of sets and the IIA: that of the stratum nearest the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
from causalabs.errors import BudgetError
from causalabs.metrics.bounds import cp_lower, cp_upper
from causalabs.verification.stopping import MAX_PAIRS, Rule, bernoulli_draw, run_sequential

#: The fixed-n default of sample mode (pairs per set).
FIXED_DEFAULT = 2000
#: The largest fixed n searched (pairs per set).
FIXED_CAP = 10**8


@attrs.frozen
class PlanRow:
    """Pairs per variable set to a decision at one assumed IIA (None: no decision expected)."""

    iia: float
    decision: str
    sequential_mean: float | None
    sequential_median: float | None
    sequential_p95: float | None
    sequential_decided: float
    fixed_n: int | None
    fixed_default_decides: float

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Plan:
    """The assumed IIA's row first, then the alternatives around it."""

    threshold: float
    confidence: float
    sets: int
    max_pairs: int
    power: float
    rows: tuple[PlanRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self, recurse=False), "rows": [r.to_dict() for r in self.rows]}

    def __str__(self) -> str:
        head = (f"plan for threshold {self.threshold:g} at {self.confidence:.0%}, {self.sets} variable set"
                f"{'s' if self.sets != 1 else ''}, pairs per set (balanced)")
        lines = [head, f"  {'IIA':>7}  {'decides':<9} {'seq median':>10} {'seq p95':>9} {'seq mean':>9} "
                       f"{'fixed-n':>9}  fixed {FIXED_DEFAULT:,} decides"]
        for r in self.rows:
            def num(x: float | None) -> str:
                return "-" if x is None else f"{x:,.0f}"
            lines.append(
                f"  {r.iia:>7.4f}  {r.decision:<9} {num(r.sequential_median):>10} {num(r.sequential_p95):>9} "
                f"{num(r.sequential_mean):>9} {num(r.fixed_n):>9}  {r.fixed_default_decides:.0%}"
            )
        lines.append(f"  sequential: simulated, budget {self.max_pairs:,} pairs per set; fixed-n: the pairs at which "
                     f"sample mode decides with probability {self.power:.0%}")
        return "\n".join(lines)


def _stratum_decides(t: float, iia: float, n_s: int, alpha: float, alpha_hi: float) -> float:
    """P(one stratum of ``n_s`` pairs is decided the right way by the fixed Clopper-Pearson rule)."""
    from scipy import stats  # a second of imports: loaded when a plan is made

    k = np.arange(n_s + 1)
    pmf = stats.binom.pmf(k, n_s, iia)
    if iia > t:
        ok = cp_lower(k, n_s, alpha) >= t if t < 1.0 else np.zeros(k.shape, dtype=bool)
    else:
        ok = cp_upper(k, n_s, alpha_hi) < t
    return float(pmf[ok].sum())


def fixed_decides(t: float, confidence: float, iia: float, pairs: int, sets: int = 1) -> float:
    """P(sample mode with ``pairs`` balanced pairs per set decides the claim the right way), all strata at ``iia``."""
    alpha = 1.0 - confidence
    m = 2 * sets
    n_s = pairs // 2
    if iia == t or n_s < 1:
        return 0.0
    q = _stratum_decides(t, iia, n_s, alpha, alpha / m)
    return q**m if iia > t else 1.0 - (1.0 - q) ** m


def fixed_n(t: float, confidence: float, iia: float, sets: int = 1, power: float = 0.95) -> int | None:
    """The fewest balanced pairs per set (even) at which sample mode decides with probability ``>= power``."""
    if iia == t or (t == 1.0 and iia == 1.0):
        return None
    lo, hi = 0, 2
    while fixed_decides(t, confidence, iia, hi, sets) < power:
        lo, hi = hi, hi * 2
        if hi > FIXED_CAP:
            return None
    while hi - lo > 2:  # decides(hi); not decides(lo) (near-monotone in n; the binomial's sawtooth is ignored)
        mid = (lo + hi) // 4 * 2
        lo, hi = (lo, mid) if fixed_decides(t, confidence, iia, mid, sets) >= power else (mid, hi)
    return hi


def _row(t: float, confidence: float, iia: float, sets: int, max_pairs: int, runs: int, seed: int,
         power: float) -> PlanRow:
    decision = "verify" if iia > t else "refute" if iia < t else "neither"
    rule = Rule(t, confidence, sets, max_pairs=max_pairs)
    out = run_sequential(rule, bernoulli_draw(np.full((sets, 2), iia), seed, runs), runs=runs)
    decided = out.verdict != 0
    per_set = out.totals.sum(axis=2).max(axis=1).astype(np.float64)  # pairs of the set drawn longest
    seq: tuple[float | None, float | None, float | None] = (None, None, None)
    if decided.mean() >= 0.5:  # undecided runs count as never stopping: the quantiles are of pairs to a decision
        used = np.where(decided, per_set, np.inf)
        median, p95 = (float(np.quantile(used, q, method="inverted_cdf")) for q in (0.5, 0.95))
        seq = (float(per_set[decided].mean()), median, None if math.isinf(p95) else p95)
    return PlanRow(iia, decision, *seq, float(decided.mean()), fixed_n(t, confidence, iia, sets, power),
                   fixed_decides(t, confidence, iia, FIXED_DEFAULT, sets))


def _from_report(report: Any) -> tuple[float, float, int, float]:
    strata = [e for ev in report.per_variable for e in (ev.changed, ev.unchanged) if e is not None and e.n > 0]
    if not strata:
        raise BudgetError("plan: the pilot report has no sampled pairs to estimate the IIA from")
    nearest = min(strata, key=lambda e: abs(e.value - report.threshold))
    return report.threshold, report.confidence, len(report.per_variable), float(nearest.value)


def plan(
    threshold: float | None = None,
    confidence: float = 0.95,
    *,
    iia: float | None = None,
    report: Any = None,
    sets: int = 1,
    max_pairs: int = MAX_PAIRS,
    alternatives: Sequence[float] = (-0.02, -0.01, 0.01, 0.02),
    runs: int = 2000,
    seed: int = 0,
    power: float = 0.95,
) -> Plan:
    """Pairs per variable set to a decision, fixed-n vs sequential, at ``iia`` and at ``iia`` + each alternative."""
    if report is not None:
        t0, confidence, sets, observed = _from_report(report)
        threshold = t0 if threshold is None else threshold
        iia = observed if iia is None else iia
    if threshold is None or iia is None:
        raise BudgetError("plan: give threshold and iia, or a pilot report")
    Rule(threshold, confidence, sets, max_pairs=max_pairs)  # checks threshold, confidence, sets, max_pairs
    if isinstance(iia, bool) or not isinstance(iia, (int, float)) or not 0.0 <= iia <= 1.0:
        raise BudgetError(f"plan: iia must be a number in [0, 1], got {iia!r}")
    if not 0.0 < power < 1.0:
        raise BudgetError(f"plan: power must lie in (0, 1), got {power!r}")
    values = [float(iia)] + sorted({round(iia + d, 6) for d in alternatives if 0.0 <= iia + d <= 1.0} - {iia})
    rows = tuple(_row(threshold, confidence, v, sets, max_pairs, runs, seed, power) for v in values)
    return Plan(float(threshold), float(confidence), sets, max_pairs, power, rows)


def more_pairs_line(t: float, confidence: float, iia: float, *, sets: int = 1, max_pairs: int = MAX_PAIRS,
                    used: int = 0) -> str:
    """One sentence for an inconclusive sampled verdict: about how many more pairs would decide it at ``iia``."""
    if iia == t or (t == 1.0 and iia == 1.0):
        return f"no number of pairs would decide this if IIA is exactly {iia:.4f}"
    row = _row(t, confidence, iia, sets, max(max_pairs, 10 * max(used, MAX_PAIRS)), 400, 0, 0.95)
    seq = "" if row.sequential_median is None else (
        f"; sequential mode would stop after about {row.sequential_median:,.0f} pairs per set (median)")
    if row.fixed_n is None:
        return f"no affordable number of fixed pairs would decide this if IIA is near {iia:.4f}{seq}"
    more = max(0, row.fixed_n - used)
    return f"about {more:,} more pairs per set would decide this if IIA is near {iia:.4f}{seq}"
