"""Sampled verdicts checked by simulation: coverage of the decision bounds, false verdicts on planted organisms.

* Coverage: the one-sided Clopper-Pearson bounds that decide sampled verdicts
  cover the true IIA at least at their nominal level in every cell of
  p in {0.5, 0.9, 0.99, 0.999} x n in {50, 200, 1000}, both by simulation
  (20,000 binomial draws per cell) and exactly (from the binomial pmf).
* False verdicts: 1,000 seeded sample-mode runs of each planted false claim
  never verify, and the planted true claim at threshold 0.95 is refuted in
  at most 5% of 1,000 runs.  Running the engine 1,000 times per claim would
  take minutes, so these runs are simulated from the exact per-set,
  per-stratum outcome table of one exhaustive run (the organisms' recorded
  counts, which tests/test_planted_organisms.py checks against an
  exhaustive run), through the verdict function verify() itself uses; see
  tests/_simulate.py for how each sampling is drawn.  A check at the end runs
  the engine end to end and compares its counts with the simulation's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from _simulate import verdicts
from scipy import stats

from causalabs.metrics.bounds import cp_lower, cp_upper, pairs_to_decide
from causalabs.organisms import load_organism
from causalabs.verification.pipeline import verify
from causalabs.verification.verdict import SetCounts, decide

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
CONFIDENCE = 0.95
RUNS = 1000
N = 2000  # verify()'s default pairs per set


# --- coverage ----------------------------------------------------------------------------

PS = (0.5, 0.9, 0.99, 0.999)
NS = (50, 200, 1000)
DRAWS = 20_000


def coverage(p: float, n: int, level: float, side: str, rng: np.random.Generator) -> tuple[float, float]:
    """(simulated, exact) probability that the one-sided bound at ``level`` is on the right side of ``p``."""
    alpha = 1.0 - level
    k_all = np.arange(n + 1)
    if side == "lower":
        covered = cp_lower(k_all, n, alpha) <= p
    else:
        covered = cp_upper(k_all, n, alpha) >= p
    exact = float(stats.binom.pmf(k_all, n, p)[covered].sum())
    draws = rng.binomial(n, p, size=DRAWS)
    simulated = float(covered[draws].mean())
    return simulated, exact


@pytest.mark.parametrize("level_side", [(CONFIDENCE, "lower"), (1 - 0.05 / 30, "upper"), (1 - 0.05 / 2, "upper")])
def test_decision_bounds_cover_at_least_nominally(level_side: tuple[float, str]) -> None:
    """Verification's lower bound (95%) and refutation's corrected upper bounds (alpha / m for m = 2 and 30).

    The exact coverage (from the pmf) is at least nominal in every cell.  The
    simulated one is a Monte Carlo estimate of it: it must not fall more than
    4 standard errors of a binomial proportion at the nominal level below
    nominal (with 20,000 draws: 0.0062 for 95%), and it must agree with the
    exact coverage within the same tolerance.
    """
    level, side = level_side
    rng = np.random.default_rng(12)
    tolerance = 4 * math.sqrt(level * (1 - level) / DRAWS)
    for p in PS:
        for n in NS:
            simulated, exact = coverage(p, n, level, side, rng)
            assert exact >= level, (p, n, exact)
            assert simulated >= level - tolerance, (p, n, simulated)
            assert abs(simulated - exact) <= tolerance, (p, n, simulated, exact)


def test_wilson_would_not_have_covered() -> None:
    """Why the intervals changed: the 95% Wilson interval misses p = 0.99 at n = 50 too often, on the refuting side."""
    from causalabs.metrics.estimate import proportion

    n, p = 50, 0.99
    k = np.arange(n + 1)
    wilson = [proportion(int(x), n) for x in k]
    pmf = stats.binom.pmf(k, n, p)
    lo, hi = np.array([e.lo for e in wilson]), np.array([e.hi for e in wilson])
    covered = float(pmf[(lo <= p) & (p <= hi)].sum())
    assert abs(covered - 0.911) < 0.001  # the figure
    assert float(pmf[hi < p].sum()) == pytest.approx(1 - covered)  # every miss: an upper end below p


def test_bounds_equal_scipys_exact_one_sided_intervals() -> None:
    for k, n in [(0, 10), (3, 10), (10, 10), (37, 120), (999, 1000), (1000, 1000)]:
        greater = stats.binomtest(k, n, alternative="greater").proportion_ci(0.95, method="exact")
        less = stats.binomtest(k, n, alternative="less").proportion_ci(0.99, method="exact")
        assert math.isclose(float(cp_lower(k, n, 0.05)), greater.low, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(float(cp_upper(k, n, 0.01)), less.high, rel_tol=1e-9, abs_tol=1e-12)


def test_pairs_to_decide_is_the_smallest_deciding_size() -> None:
    # no failure in n pairs: the lower bound is 0.05 ** (1 / n); it reaches 0.999 first at n = 2995
    assert pairs_to_decide(1000, 1000, 0.999, 0.05, 0.01) == 2995
    assert cp_lower(2995, 2995, 0.05) >= 0.999 > cp_lower(2994, 2994, 0.05)
    # below the threshold: the size whose upper bound falls under it
    assert pairs_to_decide(980, 1000, 0.99, 0.05, 0.01) == 1000  # already decided
    need = pairs_to_decide(985, 1000, 0.99, 0.05, 0.01)
    assert need is not None and need > 1000
    assert cp_upper(0.985 * need, need, 0.01) < 0.99 <= cp_upper(0.985 * (need - 1), need - 1, 0.01)
    assert pairs_to_decide(990, 1000, 0.99, 0.05, 0.01) is None  # the rate is the threshold: nothing decides
    assert pairs_to_decide(1000, 1000, 1.0, 0.05, 0.01) is None  # threshold 1: no sample verifies


# --- the planted organisms' exact tables --------------------------------------------------


def carry_bypass() -> list[SetCounts]:
    o = load_organism(MODELS / "planted_carry_bypass.py")
    return [SetCounts(vs, t["changed"], t["unchanged"]) for vs, t in o.source.EXACT.items()]


def unused_copy_noop() -> list[SetCounts]:
    o = load_organism(MODELS / "planted_unused_copy.py")
    return [SetCounts(vs, t["changed"], t["unchanged"]) for vs, t in o.source.NOOP_EXACT.items()]


def modsum() -> list[SetCounts]:
    """15 sets: 1296^(1+k) pairs for k variables, two thirds changed, IIA 1233/1296 on both strata."""
    o = load_organism(MODELS / "planted_modsum.py")
    good, inputs = o.source.EXACT_IIA
    out = []
    for vs in (e for e in _sets(["v1", "v2", "v3", "v4"])):
        total = inputs ** (1 + len(vs))
        changed = total * 2 // 3
        out.append(SetCounts(vs, (changed // inputs * good, changed), ((total - changed) // inputs * good, total - changed)))
    return out


def _sets(names: list[str]) -> list[tuple[str, ...]]:
    from causalabs.verification.exhaustive import variable_sets

    return variable_sets(names)


FALSE_CLAIMS = [
    pytest.param(carry_bypass, 1.0, id="carry_bypass-t1"),
    pytest.param(carry_bypass, 0.995, id="carry_bypass-t0.995"),
    pytest.param(unused_copy_noop, 0.95, id="unused_copy_noop-t0.95"),
]


@pytest.mark.parametrize("sampling", ["balanced", "random"])
@pytest.mark.parametrize(("claim", "threshold"), FALSE_CLAIMS)
def test_false_claims_are_never_verified(claim, threshold: float, sampling: str) -> None:  # type: ignore[no-untyped-def]
    sets = claim()
    assert decide(sets, threshold=threshold, exact=True).verdict == "refuted"  # false, as the exhaustive run says
    got = verdicts(sets, n=N, threshold=threshold, runs=RUNS, seed=1, sampling=sampling)
    assert sum(got.values()) == RUNS
    assert got["verified"] == 0, got
    if threshold == 1.0 or claim is unused_copy_noop:
        # a failing pair is found (t = 1), or the no-op's changed pairs all fail: refuted nearly always
        assert got["refuted"] >= 0.99 * RUNS, got


def verify_probability(sets: list[SetCounts], n: int, threshold: float) -> float:
    """The exact probability that balanced sampling (binomial strata of n/2 pairs each) verifies the claim."""
    alpha = 1 - CONFIDENCE
    prob = 1.0
    for s in sets:
        for (k, size), q in ((s.changed, n // 2), (s.unchanged, n - n // 2)):
            x = np.arange(q + 1)
            prob *= float(stats.binom.pmf(x, q, k / size)[cp_lower(x, q, alpha) >= threshold].sum())
    return prob


@pytest.mark.parametrize("sampling", ["balanced", "random"])
def test_a_claim_false_by_a_hair_is_verified_at_most_at_alpha(sampling: str) -> None:
    """At t = 0.99 the carry bypass fails only on the carry's changed pairs (IIA 0.988889, 0.0011 short).

    A lower bound at 95% clears 0.99 on 1,000 such pairs when at most 4 of
    them fail, which happens with probability 1.36%, and the claim is
    verified only if every other bound clears it too: 0.43% of runs with
    balanced pairs, computed exactly below.  That is the guarantee (at most
    1 - confidence = 5%), not zero: no 95% procedure can tell a gap of 0.0011
    from none with 1,000 pairs.  The simulated count must match the exact
    probability, and stay under 5%.
    """
    sets = carry_bypass()
    assert decide(sets, threshold=0.99, exact=True).verdict == "refuted"
    got = verdicts(sets, n=N, threshold=0.99, runs=RUNS, seed=1, sampling=sampling)
    assert got["verified"] <= 0.05 * RUNS, got
    if sampling == "balanced":
        p = verify_probability(sets, N, 0.99)
        assert 0.001 < p < 0.01  # measured 0.0043
        assert abs(got["verified"] - RUNS * p) <= 4 * math.sqrt(RUNS * p * (1 - p)) + 1, (got, p)


@pytest.mark.parametrize("sampling", ["balanced", "random"])
def test_a_true_claim_at_095_is_rarely_refuted(sampling: str) -> None:
    sets = modsum()
    assert len(sets) == 15
    assert decide(sets, threshold=0.95, exact=True).verdict == "verified"
    got = verdicts(sets, n=N, threshold=0.95, runs=RUNS, seed=2, sampling=sampling)
    assert got["refuted"] <= 0.05 * RUNS, got
    # and with enough pairs it is verified: 1,233/1,296 is only 0.0014 above the threshold, and all 30
    # lower bounds must clear it, so it takes about a million pairs per stratum
    many = verdicts(sets, n=2_000_000, threshold=0.95, runs=200, seed=3, sampling=sampling)
    assert many["refuted"] <= 0.05 * 200 and many["verified"] >= 0.9 * 200, many


def test_refutations_of_a_claim_true_at_the_boundary_stay_under_alpha() -> None:
    """The worst case for false refutation: every stratum of 15 sets exactly at the threshold.

    Without the correction each of the 30 bounds would refute at 5%, together
    far more often; with it the whole claim is refuted in at most 5% of runs.
    """
    big = 10**12
    sets = [SetCounts((f"s{j}",), (big * 95 // 100, big), (big * 95 // 100, big)) for j in range(15)]
    assert decide(sets, threshold=0.95, exact=True).verdict == "verified"
    got = verdicts(sets, n=N, threshold=0.95, runs=RUNS, seed=4, sampling="balanced")
    assert got["refuted"] <= 0.05 * RUNS, got
    assert got["verified"] == 0  # a true claim exactly at the threshold cannot be told from a false one


# --- the simulation against the engine ----------------------------------------------------


@pytest.mark.slow
def test_the_simulation_matches_the_engine_on_the_carry_bypass() -> None:
    """30 end-to-end sample-mode runs of verify(): the counts per stratum agree with the simulated sampler.

    Balanced sampling puts n/2 pairs in each stratum (fewer only by repeated
    pairs, which are counted once), and the failures on the carry's changed
    pairs average 1000 x 550,000 / 49,500,000 = 11.1; the mean over 30 runs
    must lie within 4 standard errors of it.
    """
    o = load_organism(MODELS / "planted_carry_bypass.py")
    h, net, al = o.hypothesis(), o.network, o.alignment()
    failures = []
    for seed in range(30):
        r = verify(h, net, al, mode="sample", seed=seed, sets=[("carry",)], threshold=0.99)
        (e,) = r.per_variable
        assert 995 <= e.changed.n <= 1000 and 995 <= e.unchanged.n <= 1000
        assert e.unchanged.successes == e.unchanged.n  # no unchanged pair fails
        assert r.verdict != "verified"
        failures.append(e.changed.n - e.changed.successes)
    rate = 550_000 / 49_500_000
    mean, se = float(np.mean(failures)), math.sqrt(1000 * rate * (1 - rate) / len(failures))
    assert abs(mean - 1000 * rate) <= 4 * se, (mean, failures)
