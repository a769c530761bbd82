"""What a verdict means: from each variable set's pair counts, by stratum, to verified / refuted / inconclusive.

A claim is (hypothesis, network, alignment, threshold ``t``, confidence).
For each checked variable set its pairs fall in two *strata*: **changed**
pairs (the hypothesis' counterfactual output differs from its output on the
base) and **unchanged** pairs.  The claim holds for a set iff the IIA of each
non-empty stratum is ``>= t``; that implies IIA ``>= t`` under any mixture of
the two (uniform pairs, balanced pairs, ...), and it keeps a set whose
intervention rarely changes the output from passing on its unchanged pairs
alone.

* **Exhaustive** (every pair, exact): verified iff every set's IIA is ``>= t``
  on both strata (an empty stratum holds vacuously), otherwise refuted.
* **Sampled**: one-sided Clopper-Pearson bounds (:mod:`causalabs.metrics.bounds`).
  Verified iff every lower bound at level ``confidence`` is ``>= t`` (every
  set, both strata; requiring all of them is an intersection-union test, so no
  correction is needed).  Refuted iff some upper bound is ``< t`` at level
  ``1 - alpha / m``, ``m`` the number of bounds tested (Bonferroni; for "at
  least one fails" it is Holm's first step), which keeps the chance of
  refuting a true claim under ``alpha`` however many sets there are.  At
  ``t = 1`` any failing pair refutes (its upper bound is below 1 at every
  level), and nothing verifies (a lower bound from a finite sample is below
  1).  Otherwise inconclusive, with the set, the stratum, its bounds and about
  how many more pairs would decide if the observed rate held.  A stratum with
  no sampled pair is unknown unless it was proven empty (balanced sampling
  enumerates small pair spaces); an unknown stratum never verifies.

:func:`decide` is pure (counts in, verdict out), so simulations of sampled
verdicts run the same code as :func:`causalabs.verify`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import attrs
from scipy import special

from causalabs.errors import CausalabsError
from causalabs.metrics.bounds import cp_lower, pairs_to_decide, rare_bound
from causalabs.metrics.estimate import Estimate, decision_bounds, exact_count, proportion
from causalabs.verification.report.report import VariableEvidence

Stratum = Literal["changed", "unchanged"]
STRATA: tuple[Stratum, Stratum] = ("changed", "unchanged")
#: How sampled verdicts are decided (recorded in every sampled report's ``statistics``).
INTERVAL = "clopper-pearson"
CORRECTION = "bonferroni"


@attrs.frozen
class SetCounts:
    """One variable set's pairs: (successes, total) per stratum.

    ``empty``: strata known to hold no pair in the whole domain although none
    was sampled (proven by enumeration).  In exhaustive mode every count is
    the whole domain, so an empty stratum is known empty anyway.
    """

    variables: tuple[str, ...]
    changed: tuple[int, int]
    unchanged: tuple[int, int]
    empty: frozenset[str] = frozenset()

    def stratum(self, name: str) -> tuple[int, int]:
        return self.changed if name == "changed" else self.unchanged

    @property
    def successes(self) -> int:
        return self.changed[0] + self.unchanged[0]

    @property
    def total(self) -> int:
        return self.changed[1] + self.unchanged[1]


@attrs.frozen
class Decision:
    """A verdict, its one-line reason, the evidence per set, and the (set, stratum) that decided it.

    ``deciding`` names the set (its index) and stratum that refuted the
    claim, or that holds an inconclusive verdict back (None when verified).
    """

    verdict: Literal["verified", "refuted", "inconclusive"]
    reason: str
    evidence: tuple[VariableEvidence, ...]
    statistics: dict[str, Any]
    deciding: tuple[int, Stratum] | None


def check_claim(threshold: float, confidence: float) -> None:
    """Threshold in (0, 1] and confidence in (0, 1), or a CausalabsError naming the one at fault."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold <= 1.0:
        raise CausalabsError(f"threshold must be a number in (0, 1], got {threshold!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.0 < confidence < 1.0:
        raise CausalabsError(f"confidence must be a number in (0, 1), got {confidence!r}")


def _name(variables: Sequence[str]) -> str:
    return "+".join(variables)


def _pct(level: float) -> str:
    """A confidence level as a short percentage: 95%, 99.83%."""
    text = f"{100 * level:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def decide(
    sets: Sequence[SetCounts], *, threshold: float = 1.0, confidence: float = 0.95, exact: bool
) -> Decision:
    """The verdict on a claim from its sets' counts (exact: every pair of the domain; else a sample)."""
    check_claim(threshold, confidence)
    if not sets:
        raise CausalabsError("decide: no variable set")
    if exact:
        return _decide_exact(sets, threshold, confidence)
    return _decide_sampled(sets, threshold, confidence)


# --- exhaustive ------------------------------------------------------------------------


def _decide_exact(sets: Sequence[SetCounts], t: float, confidence: float) -> Decision:
    evidence = tuple(
        VariableEvidence(
            s.variables,
            exact_count(s.successes, s.total, confidence=confidence),
            exact_count(*s.changed, confidence=confidence),
            s.total - s.successes,
            exact_count(*s.unchanged, confidence=confidence),
        )
        for s in sets
    )
    stats = {"interval": "exact", "threshold": t}
    failures = sum(e.failures for e in evidence)
    pairs = sum(s.total for s in sets)
    below = [
        (j, name, k / n)
        for j, s in enumerate(sets)
        for name in STRATA
        for k, n in [s.stratum(name)]
        if n and k / n < t
    ]
    if not below:
        if failures == 0:
            return Decision("verified", f"every pair agrees ({pairs:,} pairs, exact)", evidence, stats, None)
        j, name, rate = min(
            ((j, name, k / n) for j, s in enumerate(sets) for name in STRATA for k, n in [s.stratum(name)] if n),
            key=lambda x: x[2],
        )
        return Decision(
            "verified",
            f"every variable set's IIA >= {t:g} on changed and on unchanged pairs (exact; lowest "
            f"{rate:.4f}, {_name(sets[j].variables)} {name} pairs); {failures:,} of {pairs:,} pairs disagree",
            evidence, stats, None,
        )
    j, name, rate = below[0]
    s, e = sets[j], evidence[j]
    k, n = s.stratum(name)
    if t == 1.0:
        reason = f"{_name(s.variables)}: {e.failures:,} of {s.total:,} pairs disagree (exact)"
    else:
        reason = (
            f"{_name(s.variables)}: IIA on {name} pairs {k:,}/{n:,} = {rate:.4f} < {t:g} (exact; "
            f"{e.failures:,} of {s.total:,} pairs of the set disagree)"
        )
    return Decision("refuted", reason, evidence, stats, (j, name))


# --- sampled ---------------------------------------------------------------------------


def _decide_sampled(sets: Sequence[SetCounts], t: float, confidence: float) -> Decision:
    alpha = 1.0 - confidence
    tested = [(j, name) for j, s in enumerate(sets) for name in STRATA if s.stratum(name)[1] > 0]
    m = max(1, len(tested))
    hi_level = 1.0 - alpha / m
    bounds: dict[tuple[int, str], Estimate] = {}
    evidence = []
    for j, s in enumerate(sets):
        per = {}
        for name in STRATA:
            k, n = s.stratum(name)
            if n == 0 and name in s.empty:
                per[name] = exact_count(0, 0, confidence=confidence)
            else:
                per[name] = decision_bounds(k, n, confidence=confidence, hi_confidence=hi_level)
            bounds[(j, name)] = per[name]
        overall = proportion(s.successes, s.total, confidence=confidence, method="clopper-pearson")
        evidence.append(VariableEvidence(s.variables, overall, per["changed"], s.total - s.successes, per["unchanged"]))
    stats = {
        "interval": INTERVAL,
        "sides": "one-sided",
        "correction": CORRECTION,
        "bounds_tested": len(tested),
        "lower_level": confidence,
        "upper_level": hi_level,
        "threshold": t,
    }
    ev = tuple(evidence)
    refuting = [key for key in tested if bounds[key].hi < t]
    if refuting:
        j, name = refuting[0]
        s, b = sets[j], bounds[(j, name)]
        if t == 1.0:
            reason = (
                f"{_name(s.variables)}: {ev[j].failures:,} of {s.total:,} sampled pairs disagree; "
                "at threshold 1 one disagreeing pair refutes the claim"
            )
        else:
            reason = (
                f"{_name(s.variables)}: IIA on {name} pairs {b.successes:,}/{b.n:,} = {b.value:.4f}; upper bound "
                f"{b.hi:.4f} < {t:g} ({_pct(hi_level)} one-sided Clopper-Pearson, Bonferroni over "
                f"{len(tested)} bounds)"
            )
        return Decision("refuted", reason, ev, stats, (j, name))
    unknown = [(j, name) for j, s in enumerate(sets) for name in STRATA if s.stratum(name)[1] == 0 and name not in s.empty]
    short = [key for key in tested if bounds[key].lo < t]
    if not unknown and not short:
        j, name = min(tested, key=lambda key: bounds[key].lo)
        b = bounds[(j, name)]
        return Decision(
            "verified",
            f"every variable set's IIA >= {t:g} on changed and on unchanged pairs: every lower bound clears it "
            f"({_pct(confidence)} one-sided Clopper-Pearson; lowest {b.lo:.4f}, {_name(sets[j].variables)} "
            f"{name} pairs, {b.successes:,}/{b.n:,})",
            ev, stats, None,
        )
    if unknown:
        j, name = unknown[0]
        s = sets[j]
        share = rare_bound(s.total, alpha)
        reason = (
            f"{_name(s.variables)}: no {name} pair among {s.total:,} sampled pairs, so their IIA is unknown "
            f"(such pairs are absent or rarer than {share:.2%} of pairs, {_pct(confidence)}); sample more pairs, "
            "draw balanced pairs, or use exhaustive mode"
        )
        return Decision("inconclusive", reason, ev, stats, (j, name))
    failures = sum(e.failures for e in ev)
    if t == 1.0 and failures == 0:
        pairs = sum(s.total for s in sets)
        lowest = float(min(cp_lower(s.total, s.total, alpha) for s in sets))
        where = "" if len(sets) == 1 else " on every variable set"
        reason = (
            f"no failure in {pairs:,} pairs; IIA >= {lowest:.4f} ({_pct(confidence)}){where}; sampling never "
            "verifies an exact claim (threshold 1): use exhaustive mode, or state a threshold below 1"
        )
        j, name = min(short, key=lambda key: bounds[key].lo)
        return Decision("inconclusive", reason, ev, stats, (j, name))
    # the bound that needs the most further pairs holds the verdict back (chosen by a normal approximation)
    j, name = max(short, key=lambda key: _rough_need(sets[key[0]], bounds[key], t, alpha, alpha / m))
    b = bounds[(j, name)]
    more = _more_pairs(sets[j], name, b, t, alpha, alpha / m)
    if more is None:
        tail = "no number of pairs would decide it at this rate"
    else:
        goal = "verify" if b.value > t else "refute"
        tail = f"if this rate held, about {more:,} more pairs of this set would {goal}"
    others = len(short) - 1
    reason = (
        f"{_name(sets[j].variables)}: IIA on {name} pairs {b.successes:,}/{b.n:,} = {b.value:.4f}, bounds "
        f"[{b.lo:.4f}, {b.hi:.4f}] around {t:g} ({_pct(confidence)} / {_pct(hi_level)} one-sided Clopper-Pearson); "
        f"{tail}" + (f" ({others} other bound{'s' if others != 1 else ''} undecided)" if others else "")
    )
    return Decision("inconclusive", reason, ev, stats, (j, name))


def _rough_need(s: SetCounts, b: Estimate, t: float, alpha_lo: float, alpha_hi: float) -> float:
    """A normal approximation of the further pairs of the set that would decide this stratum (inf: none)."""
    p = b.value
    if p == t:
        return math.inf
    if p == 1.0:  # no failure: the lower bound is alpha ** (1 / n)
        size = math.log(alpha_lo) / math.log(t)
    else:
        z = float(special.ndtri(1.0 - (alpha_lo if p > t else alpha_hi)))
        size = z * z * p * (1.0 - p) / (p - t) ** 2
    return (size - b.n) * s.total / b.n


def _more_pairs(s: SetCounts, name: str, b: Estimate, t: float, alpha_lo: float, alpha_hi: float) -> int | None:
    """About how many more pairs of the set would decide this stratum, if its rate and share held."""
    assert b.successes is not None
    need = pairs_to_decide(b.successes, b.n, t, alpha_lo, alpha_hi)
    if need is None:
        return None
    share = b.n / s.total
    return max(1, math.ceil((need - b.n) / share))
