"""Estimates and IIA: intervals against closed forms, known values and scipy; exact and empty cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import stats

from causalabs import errors
from causalabs.engine import PairResults
from causalabs.metrics import iia, mean, proportion

CONFIDENCES = st.sampled_from([0.8, 0.9, 0.95, 0.99])


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, 5000))
    return draw(st.integers(0, n)), n


def wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval, written out (no continuity correction)."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return center - half, center + half


def clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """The exact binomial interval from beta quantiles."""
    alpha = 1 - confidence
    lo = 0.0 if k == 0 else stats.beta.ppf(alpha / 2, k, n - k + 1)
    hi = 1.0 if k == n else stats.beta.ppf(1 - alpha / 2, k + 1, n - k)
    return lo, hi


# --- proportion ----------------------------------------------------------------------------


@given(kn=counts(), confidence=CONFIDENCES)
def test_wilson_matches_the_closed_form(kn: tuple[int, int], confidence: float) -> None:
    k, n = kn
    e = proportion(k, n, confidence=confidence)
    lo, hi = wilson(k, n, confidence)
    assert e.lo == pytest.approx(lo, abs=1e-12) and e.hi == pytest.approx(hi, abs=1e-12)
    assert e.value == k / n and e.n == n and e.successes == k and not e.exact
    assert e.lo <= e.value <= e.hi and e.method == "wilson" and e.confidence == confidence


@given(kn=counts(), confidence=CONFIDENCES)
def test_clopper_pearson_matches_beta_quantiles(kn: tuple[int, int], confidence: float) -> None:
    k, n = kn
    e = proportion(k, n, confidence=confidence, method="clopper-pearson")
    lo, hi = clopper_pearson(k, n, confidence)
    assert e.lo == pytest.approx(lo, abs=1e-9) and e.hi == pytest.approx(hi, abs=1e-9)
    assert e.lo <= e.value <= e.hi and e.method == "clopper-pearson"


@given(kn=counts())
def test_higher_confidence_gives_a_wider_interval(kn: tuple[int, int]) -> None:
    k, n = kn
    for method in ("wilson", "clopper-pearson"):
        narrow = proportion(k, n, confidence=0.9, method=method)  # type: ignore[arg-type]
        wide = proportion(k, n, confidence=0.99, method=method)  # type: ignore[arg-type]
        assert wide.lo <= narrow.lo and narrow.hi <= wide.hi


def test_known_values() -> None:
    # Wilson 95% for 8/10 (Newcombe 1998, table I): 0.490 to 0.943
    e = proportion(8, 10)
    assert (round(e.lo, 3), round(e.hi, 3)) == (0.490, 0.943)
    # Clopper-Pearson with no failures or no successes has a closed form: the "rule of three" family
    assert proportion(0, 10, method="clopper-pearson").hi == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)
    assert proportion(10, 10, method="clopper-pearson").lo == pytest.approx(0.025 ** (1 / 10), abs=1e-12)
    assert proportion(0, 10, method="clopper-pearson").lo == 0.0
    assert proportion(10, 10, method="clopper-pearson").hi == 1.0
    # and scipy agrees on a middle case
    ci = stats.binomtest(37, 120).proportion_ci(0.95, method="exact")
    e = proportion(37, 120, method="clopper-pearson")
    assert (e.lo, e.hi) == pytest.approx((ci.low, ci.high), abs=1e-12)


@given(kn=counts(), method=st.sampled_from(["wilson", "clopper-pearson"]))
def test_exact_estimates_collapse(kn: tuple[int, int], method: str) -> None:
    k, n = kn
    e = proportion(k, n, exact=True, method=method)  # type: ignore[arg-type]
    assert e.exact and e.lo == e.hi == e.value == k / n
    assert e.n == n and e.successes == k and e.method == "exact"
    assert "exact" in str(e) and f"({k}/{n})" in str(e)


def test_no_trials_is_no_evidence() -> None:
    for exact in (False, True):
        e = proportion(0, 0, exact=exact)
        assert math.isnan(e.value) and (e.lo, e.hi) == (0.0, 1.0)
        assert e.n == 0 and not e.exact


@pytest.mark.parametrize(("k", "n"), [(3, 2), (-1, 4), (0, -1)])
def test_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(errors.EstimateError, match=f"{k}/{n}") as info:
        proportion(k, n)
    assert isinstance(info.value, ValueError)


def test_unknown_interval_method() -> None:
    with pytest.raises(errors.EstimateError, match="'wilsn'"):
        proportion(1, 2, method="wilsn")  # type: ignore[arg-type]


@given(kn=counts(), confidence=CONFIDENCES, method=st.sampled_from(["wilson", "clopper-pearson"]))
def test_intervals_agree_with_scipy_binomtest(kn: tuple[int, int], confidence: float, method: str) -> None:
    k, n = kn
    ci = stats.binomtest(k, n).proportion_ci(confidence, method="wilson" if method == "wilson" else "exact")
    e = proportion(k, n, confidence=confidence, method=method)  # type: ignore[arg-type]
    assert (e.lo, e.hi) == pytest.approx((ci.low, ci.high), abs=1e-9)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95.0])
def test_confidence_outside_the_unit_interval(confidence: float) -> None:
    with pytest.raises(errors.EstimateError, match="confidence"):
        proportion(1, 2, confidence=confidence)


# --- mean ----------------------------------------------------------------------------------


@given(values=st.lists(st.floats(0, 1), min_size=2, max_size=50), confidence=CONFIDENCES)
def test_mean_has_a_student_t_interval(values: list[float], confidence: float) -> None:
    e = mean(values, confidence=confidence)
    arr = np.asarray(values)
    assert e.value == pytest.approx(arr.mean(), abs=1e-12) and e.n == len(values) and not e.exact
    sem = stats.sem(arr)
    if sem == 0:
        assert e.lo == e.hi == pytest.approx(arr.mean())
    else:
        lo, hi = stats.t.interval(confidence, len(values) - 1, loc=arr.mean(), scale=sem)
        assert (e.lo, e.hi) == pytest.approx((lo, hi), abs=1e-9)


def test_mean_edge_cases() -> None:
    exact = mean([0.25, 0.75, 1.0], exact=True)
    assert exact.exact and exact.lo == exact.hi == exact.value == pytest.approx(2 / 3)
    one = mean([0.4])
    assert one.value == 0.4 and one.n == 1 and not one.exact
    assert math.isnan(one.lo) and math.isnan(one.hi)  # one sample: no standard error, no interval
    empty = mean([])
    assert empty.n == 0 and math.isnan(empty.value)


# --- IIA -----------------------------------------------------------------------------------


def results(
    rng: np.random.Generator, n: int, intervened: tuple[str, ...], *, exhaustive: bool, probs: bool = True
) -> PairResults:
    expected = rng.integers(0, 3, n)
    base_output = np.where(rng.random(n) < 0.5, expected, rng.integers(0, 3, n))
    predicted = np.where(rng.random(n) < 0.7, expected, rng.integers(0, 3, n))
    return PairResults(
        intervened=intervened,
        predicted=predicted,
        expected=expected,
        base_output=base_output,
        prob_expected=rng.random(n) if probs else None,
        exhaustive=exhaustive,
    )


def tally(rs: list[PairResults]) -> dict[str, tuple[int, int]]:
    """(successes, n) of all, changed and unchanged pairs, one pair at a time."""
    out = {"overall": [0, 0], "changed": [0, 0], "unchanged": [0, 0]}
    for r in rs:
        for p, e, b in zip(r.predicted.tolist(), r.expected.tolist(), r.base_output.tolist()):
            for key in ("overall", "changed" if e != b else "unchanged"):
                out[key][0] += p == e
                out[key][1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def check(est: object, rs: list[PairResults]) -> None:
    for key, (k, n) in tally(rs).items():
        e = getattr(est, key)
        assert (e.successes, e.n) == (k, n), key
        assert e.exact == (all(r.exhaustive for r in rs) and n > 0)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 200), exhaustive=st.booleans())
def test_iia_splits_changed_and_unchanged_pairs(seed: int, n: int, exhaustive: bool) -> None:
    r = results(np.random.default_rng(seed), n, ("left",), exhaustive=exhaustive)
    report = iia(r)
    check(report.overall, [r])
    check(report.per_variable["left"], [r])
    assert report.overall.soft is not None
    assert report.overall.soft.value == pytest.approx(float(np.mean(r.prob_expected)))


@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(1, 60), min_size=3, max_size=3))
def test_iia_pools_results_of_the_same_variable_set(seed: int, sizes: list[int]) -> None:
    rng = np.random.default_rng(seed)
    left1 = results(rng, sizes[0], ("left",), exhaustive=True)
    left2 = results(rng, sizes[1], ("left",), exhaustive=True)
    both = results(rng, sizes[2], ("left", "right"), exhaustive=False, probs=False)
    report = iia([left1, both, left2], method="clopper-pearson")
    assert set(report.per_variable) == {"left", "left+right"}
    check(report.per_variable["left"], [left1, left2])
    check(report.per_variable["left+right"], [both])
    check(report.overall, [left1, left2, both])
    assert report.overall.overall.method == "clopper-pearson"
    soft = report.per_variable["left"].soft
    assert soft is not None and soft.value == pytest.approx(
        float(np.mean(np.r_[left1.prob_expected, left2.prob_expected]))
    )
    assert report.overall.soft is None  # one result has no scores


def test_iia_with_no_changed_pairs_reports_no_evidence_for_them() -> None:
    r = PairResults(("left",), np.array([1, 0]), np.array([1, 1]), np.array([1, 1]), None, True)
    report = iia(r)
    assert report.overall.changed.n == 0 and math.isnan(report.overall.changed.value)
    assert (report.overall.unchanged.successes, report.overall.unchanged.n) == (1, 2)
    json.dumps(report.to_dict())  # serialisable, NaN included
    assert "IIA" in str(report)


def test_iia_of_nothing() -> None:
    with pytest.raises(errors.EstimateError, match="no results"):
        iia([])
