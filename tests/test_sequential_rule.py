"""The confidence sequence and the sequential rule, pure: validity of the mixture, its bounds, the schedule,
error rates under optional stopping (a small version of benchmarks/sequential_sim.py), and planning."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from causalabs.errors import BudgetError
from causalabs.metrics import confseq
from causalabs.verification.planning import fixed_decides, fixed_n, plan
from causalabs.verification.stopping import REFUTED, VERIFIED, Rule, bernoulli_draw, run_sequential
from causalabs.verification.verdict import SetCounts, decide


@pytest.mark.parametrize("p", [0.3, 0.9, 0.97])
@pytest.mark.parametrize("n", [1, 10, 300])
def test_mixture_is_a_martingale_with_mean_one(p: float, n: int) -> None:
    # E_p[M_n(p)] = sum_k binom(k; n, p) m_n(k) / L_n(p; k) = 1 for every n: what Ville's inequality needs
    k = np.arange(n + 1)
    terms = stats.binom.logpmf(k, n, p) + confseq.log_evidence(k, n, p, confseq.prior(0.95))
    mean = float(np.exp(special.logsumexp(terms)))
    assert mean == pytest.approx(1.0, abs=1e-9)


def test_bounds_agree_with_the_decisions_and_contain_the_rate() -> None:
    ab = confseq.prior(0.9)
    k = np.array([0, 5, 90, 95, 180, 199, 200, 1900, 1990])
    n = np.array([10, 10, 100, 100, 200, 200, 200, 2000, 2000])
    lo, hi = confseq.bounds(k, n, 0.05, ab)
    assert np.all(lo <= k / n) and np.all(k / n <= hi)
    assert lo[0] == 0.0 and hi[6] == 1.0
    for t in (0.5, 0.85, 0.9, 0.93):
        far = np.abs(lo - t) > 1e-9  # bisection to ~1e-15: away from the edge the two must agree
        assert np.array_equal(confseq.excludes_below(k, n, t, 0.05, ab)[far], (lo >= t)[far])
        far = np.abs(hi - t) > 1e-9
        assert np.array_equal(confseq.excludes_above(k, n, t, 0.05, ab)[far], (hi < t)[far])
    empty_lo, empty_hi = confseq.bounds(0, 0, 0.05, ab)
    assert (float(empty_lo), float(empty_hi)) == (0.0, 1.0)


def test_sequence_is_wider_than_a_fixed_n_interval() -> None:
    # the price of looking after every batch: at n = 1000 the anytime lower bound sits below Clopper-Pearson's
    from causalabs.metrics.bounds import cp_lower

    lo, _ = confseq.bounds(970, 1000, 0.05, confseq.prior(0.95))
    assert float(lo) < float(cp_lower(970, 1000, 0.05)) < 0.97


def test_schedule_grows_in_even_steps_and_ends_at_the_budget() -> None:
    s = Rule(0.95, 0.95, 2, max_pairs=5001).schedule()
    assert s[0] == 100 and s[-1] == 5001 and all(b > a for a, b in zip(s, s[1:]))
    assert all(x % 2 == 0 for x in s[:-1])
    assert Rule(0.95, 0.95, 1, max_pairs=50).schedule() == [50]


@pytest.mark.parametrize("bad", [{"max_pairs": 1}, {"max_pairs": 2.5}, {"max_pairs": True}, {"sets": 0}])
def test_rule_refuses_an_impossible_budget(bad: dict) -> None:
    args = {"threshold": 0.9, "confidence": 0.95, "sets": 1, **bad}
    with pytest.raises(BudgetError) as info:
        Rule(**args)
    assert isinstance(info.value, ValueError) and next(iter(bad)) in str(info.value)


@pytest.mark.parametrize("t", [0.9, 0.95, 0.99])
def test_error_rates_under_optional_stopping_stay_under_nominal(t: float) -> None:
    """2,000 runs per cell, stopping at the first batch that decides (benchmarks/sequential_sim.py, small)."""
    runs, alpha = 2000, 0.05
    rule = Rule(t, 1 - alpha, 1, max_pairs=20_000)
    # claim false by 0.005 on one stratum, the other perfect (it verifies soonest): verified at most alpha
    low = run_sequential(rule, bernoulli_draw(np.array([[t - 0.005, 1.0]]), 1, runs), runs=runs)
    # claim true with both strata exactly at t (the hardest true claim): refuted at most alpha
    edge = run_sequential(rule, bernoulli_draw(np.array([[t, t]]), 2, runs), runs=runs)
    assert (low.verdict == VERIFIED).mean() <= alpha
    assert (edge.verdict == REFUTED).mean() <= alpha
    assert (low.verdict == REFUTED).mean() > 0.05  # the simulation decides things: not a procedure that never stops
    # far from t the rule decides, the right way, long before the budget
    far = run_sequential(rule, bernoulli_draw(np.array([[t - 0.02, t - 0.02]]), 3, runs), runs=runs)
    assert (far.verdict == REFUTED).mean() > 0.99 and np.median(far.pairs) < 20_000


def test_exact_claim_is_refuted_by_one_failure_and_never_verified() -> None:
    rule = Rule(1.0, 0.95, 2, max_pairs=400)
    perfect = run_sequential(rule, bernoulli_draw(np.ones((2, 2)), 0, 50), runs=50)
    assert (perfect.verdict == 0).all() and (perfect.pairs == 2 * 400).all()
    assert perfect.stopped_by == ["max_pairs"] * 50
    flawed = run_sequential(rule, bernoulli_draw(np.array([[1.0, 1.0], [0.999, 1.0]]), 0, 50), runs=50)
    stopped = flawed.verdict == REFUTED
    assert stopped.any() and (flawed.totals[stopped, 1, 0] > flawed.successes[stopped, 1, 0]).all()


def test_runs_are_deterministic_for_a_seed_and_a_time_budget_stops_after_a_batch() -> None:
    rule = Rule(0.95, 0.95, 3, max_pairs=3000)
    iia = np.full((3, 2), 0.96)
    a = run_sequential(rule, bernoulli_draw(iia, 7, 100), runs=100)
    b = run_sequential(rule, bernoulli_draw(iia, 7, 100), runs=100)
    assert np.array_equal(a.totals, b.totals) and np.array_equal(a.verdict, b.verdict)
    ticks = iter(range(100))
    timed = run_sequential(rule, bernoulli_draw(iia, 7, 4), runs=4, max_seconds=0.5, clock=lambda: next(ticks))
    assert timed.stopped_by == ["max_seconds"] * 4 and (timed.batches == 1).all()
    assert (timed.totals.sum(axis=2) == 100).all()


def test_fixed_n_decision_probability_matches_sample_modes_verdict() -> None:
    """fixed_decides is exact from the binomial; check it against decide(), the function sample mode runs."""
    rng = np.random.default_rng(0)
    t, iia, pairs, runs = 0.95, 0.97, 600, 3000
    k = rng.binomial(pairs // 2, iia, size=(runs, 2))
    verdicts = [decide([SetCounts(("x",), (int(a), pairs // 2), (int(b), pairs // 2))], threshold=t, exact=False).verdict
                for a, b in k]
    observed = np.mean([v == "verified" for v in verdicts])
    expected = fixed_decides(t, 0.95, iia, pairs, 1)
    assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / runs)  # 4 standard errors
    n = fixed_n(t, 0.95, iia, 1)
    assert n is not None and fixed_decides(t, 0.95, iia, n, 1) >= 0.95 > fixed_decides(t, 0.95, iia, n // 2, 1)


def test_plan_rows_and_refusals() -> None:
    p = plan(0.95, iia=0.97, runs=300)
    first = p.rows[0]
    assert first.iia == 0.97 and first.decision == "verify" and first.sequential_decided > 0.95
    assert first.sequential_median is not None and first.fixed_n is not None
    assert [r.iia for r in p.rows] == [0.97, 0.95, 0.96, 0.98, 0.99]
    edge = p.rows[1]
    assert edge.decision == "neither" and edge.fixed_n is None and edge.fixed_default_decides == 0.0
    assert "fixed-n" in str(p) and p.to_dict()["rows"][0]["iia"] == 0.97
    with pytest.raises(BudgetError):
        plan(0.95, iia=1.5)
    with pytest.raises(BudgetError):
        plan(0.95)
