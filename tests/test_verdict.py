"""The verdict rules on hand-written counts: strata, empty strata, thresholds, the correction, the reasons."""

from __future__ import annotations

import math

import pytest

from causalabs.errors import CausalabsError
from causalabs.metrics import decision_bounds, exact_count
from causalabs.metrics.bounds import cp_lower, cp_upper
from causalabs.verification.verdict import SetCounts, decide


def s(name: str, changed: tuple[int, int], unchanged: tuple[int, int], empty: frozenset[str] = frozenset()) -> SetCounts:
    return SetCounts((name,), changed, unchanged, empty)


# --- exhaustive --------------------------------------------------------------------------


def test_exact_claims_need_every_stratum() -> None:
    # overall 0.99 >= 0.95, but the changed pairs score 0.5: refuted, naming the stratum
    sets = [s("a", (50, 100), (9_850, 9_850))]
    d = decide(sets, threshold=0.95, exact=True)
    assert d.verdict == "refuted" and d.deciding == (0, "changed")
    assert d.reason == "a: IIA on changed pairs 50/100 = 0.5000 < 0.95 (exact; 50 of 9,950 pairs of the set disagree)"
    assert decide(sets, threshold=0.5, exact=True).verdict == "verified"
    assert decide([s("a", (100, 100), (10, 10))], exact=True).reason == "every pair agrees (110 pairs, exact)"


def test_an_empty_stratum_holds_vacuously_in_exhaustive_mode() -> None:
    d = decide([s("a", (0, 0), (100, 100))], threshold=1.0, exact=True)
    assert d.verdict == "verified"
    (e,) = d.evidence
    assert e.changed.exact and e.changed.n == 0 and math.isnan(e.changed.value)


# --- sampled -----------------------------------------------------------------------------


def test_threshold_1_is_never_verified_by_a_sample() -> None:
    d = decide([s("a", (1000, 1000), (1000, 1000))], threshold=1.0, exact=False)
    assert d.verdict == "inconclusive"
    assert d.reason.startswith("no failure in 2,000 pairs; IIA >= 0.9985 (95%); sampling never verifies")
    one = decide([s("a", (999, 1000), (1000, 1000))], threshold=1.0, exact=False)
    assert one.verdict == "refuted" and one.deciding == (0, "changed")
    assert one.reason == "a: 1 of 2,000 sampled pairs disagree; at threshold 1 one disagreeing pair refutes the claim"


def test_verified_needs_every_lower_bound() -> None:
    good = [s("a", (1000, 1000), (1000, 1000)), s("b", (500, 500), (500, 500))]
    assert decide(good, threshold=0.99, exact=False).verdict == "verified"  # 0.05 ** (1 / 500) = 0.99403
    short = [*good, s("c", (300, 300), (1000, 1000))]  # 0.05 ** (1 / 300) = 0.99006 >= 0.99 still
    assert decide(short, threshold=0.99, exact=False).verdict == "verified"
    shorter = [*good, s("c", (200, 200), (1000, 1000))]  # 0.98513 < 0.99
    d = decide(shorter, threshold=0.99, exact=False)
    assert d.verdict == "inconclusive" and d.deciding == (2, "changed")
    assert "c: IIA on changed pairs 200/200 = 1.0000" in d.reason
    # 299 changed pairs clear 0.99; 99 more, at the stratum's share of the set (200 of 1,200), is 594 pairs of the set
    assert d.reason.endswith("about 594 more pairs of this set would verify")


def test_a_stratum_never_sampled_is_unknown_unless_proven_empty() -> None:
    unseen = decide([s("a", (0, 0), (2000, 2000))], threshold=0.95, exact=False)
    assert unseen.verdict == "inconclusive" and unseen.deciding == (0, "changed")
    assert unseen.reason.startswith("a: no changed pair among 2,000 sampled pairs, so their IIA is unknown")
    assert "rarer than 0.15% of pairs" in unseen.reason  # 1 - 0.05 ** (1 / 2000)
    proven = decide([s("a", (0, 0), (2000, 2000), frozenset({"changed"}))], threshold=0.95, exact=False)
    assert proven.verdict == "verified"
    assert proven.evidence[0].changed.exact and proven.statistics["bounds_tested"] == 1


def test_refutation_is_bonferroni_corrected_over_the_bounds_tested() -> None:
    # 930 of 1,000: the 95% upper bound is below 0.95, but not the bound at 1 - 0.05/30
    k, n = 930, 1000
    assert cp_upper(k, n, 0.05) < 0.95 < cp_upper(k, n, 0.05 / 30)
    one = [s("a", (k, n), (1000, 1000))]
    assert decide(one, threshold=0.95, exact=False).verdict == "refuted"  # m = 2: upper at 97.5%
    assert cp_upper(k, n, 0.05 / 2) < 0.95
    fifteen = one + [s(f"b{j}", (1000, 1000), (1000, 1000)) for j in range(14)]
    d = decide(fifteen, threshold=0.95, exact=False)
    assert d.statistics["bounds_tested"] == 30 and d.statistics["upper_level"] == pytest.approx(1 - 0.05 / 30)
    assert d.verdict == "inconclusive"  # the same evidence no longer refutes among 30 bounds
    assert "a: IIA on changed pairs 930/1,000 = 0.9300" in d.reason


def test_decision_bounds_and_exact_counts() -> None:
    e = decision_bounds(990, 1000, confidence=0.95, hi_confidence=0.99)
    assert e.lo == pytest.approx(float(cp_lower(990, 1000, 0.05))) and e.hi == pytest.approx(float(cp_upper(990, 1000, 0.01)))
    assert e.to_dict()["hi_confidence"] == 0.99 and e.method == "clopper-pearson one-sided"
    assert "hi_confidence" not in exact_count(3, 4).to_dict()  # other estimates keep their fields
    empty = exact_count(0, 0)
    assert empty.exact and empty.n == 0 and math.isnan(empty.value)


@pytest.mark.parametrize(("threshold", "confidence"), [(0.0, 0.95), (1.01, 0.95), (math.nan, 0.95), (0.9, 1.0), (0.9, 0.0)])
def test_bad_thresholds_and_confidences_are_refused(threshold: float, confidence: float) -> None:
    with pytest.raises(CausalabsError, match="threshold|confidence"):
        decide([s("a", (1, 1), (1, 1))], threshold=threshold, confidence=confidence, exact=False)
