"""Estimates with honest uncertainty: every number says n, whether it is exact, and its interval."""

from __future__ import annotations

import math
from typing import Literal

import attrs
from scipy import special  # scipy.stats (a second of imports) loads in mean(), where it is used

from causalabs.errors import EstimateError
from causalabs.metrics.bounds import cp_lower, cp_upper

Method = Literal["wilson", "clopper-pearson"]


@attrs.frozen
class Estimate:
    """A measured quantity.

    ``exact`` is True when the value was computed over a whole finite domain
    (then ``lo == hi == value``); otherwise ``[lo, hi]`` is a ``confidence``
    interval obtained by ``method``.  Decision bounds (:func:`decision_bounds`)
    are two one-sided bounds: ``lo`` at level ``confidence`` and ``hi`` at
    level ``hi_confidence`` (None: ``hi`` is at ``confidence`` too).
    """

    value: float
    lo: float
    hi: float
    n: int
    exact: bool
    confidence: float = 0.95
    method: str = "exact"
    successes: int | None = None
    hi_confidence: float | None = None

    def __str__(self) -> str:
        if self.exact:
            extra = f" ({self.successes}/{self.n})" if self.successes is not None else ""
            return f"{self.value:.4f} exact, n={self.n}{extra}"
        if self.hi_confidence is not None:
            return (
                f"{self.value:.4f} [{self.lo:.4f} ({self.confidence:.0%}), {self.hi:.4f} ({self.hi_confidence:.2%})] "
                f"{self.method}, n={self.n}"
            )
        return (
            f"{self.value:.4f} [{self.lo:.4f}, {self.hi:.4f}] "
            f"{self.confidence:.0%} {self.method}, n={self.n}"
        )

    def to_dict(self) -> dict[str, object]:
        d = attrs.asdict(self)
        if self.hi_confidence is None:
            del d["hi_confidence"]
        return d


def proportion(
    successes: int,
    n: int,
    *,
    exact: bool = False,
    confidence: float = 0.95,
    method: Method = "wilson",
) -> Estimate:
    """A proportion ``successes / n`` with a Wilson or Clopper-Pearson interval.

    With ``exact=True`` (the n trials are the whole finite population) the
    interval collapses to the value.  ``n == 0`` gives NaN with the widest
    interval ``[0, 1]``: there is no evidence either way.
    """
    if n < 0 or successes < 0 or successes > n:
        raise EstimateError(f"proportion: need 0 <= successes <= n, got {successes}/{n}")
    if not 0 < confidence < 1:
        raise EstimateError(f"proportion: confidence must lie in (0, 1), got {confidence}")
    if method not in _INTERVALS:
        raise EstimateError(f"proportion: unknown interval method {method!r}; choose {' or '.join(_INTERVALS)}")
    if n == 0:
        return Estimate(math.nan, 0.0, 1.0, 0, False, confidence, method, 0)
    value = successes / n
    if exact:
        return Estimate(value, value, value, n, True, confidence, "exact", successes)
    lo, hi = _INTERVALS[method](successes, n, confidence)
    return Estimate(value, lo, hi, n, False, confidence, method, successes)


def _wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval (Newcombe 1998), as ``scipy.stats.binomtest(...).proportion_ci``."""
    z = float(special.ndtri(0.5 + confidence / 2))
    p = k / n
    denom = 2 * (n + z * z)
    center = (2 * n * p + z * z) / denom
    delta = z / denom * math.sqrt(4 * n * p * (1 - p) + z * z)
    return (0.0 if k == 0 else center - delta), (1.0 if k == n else center + delta)


def _clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson (exact) interval from beta quantiles; scipy's root finding is ~4000x slower."""
    tail = (1 - confidence) / 2
    lo = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, tail))
    hi = 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1 - tail))
    return lo, hi


_INTERVALS = {"wilson": _wilson, "clopper-pearson": _clopper_pearson}

#: ``Estimate.method`` of :func:`decision_bounds`.
ONE_SIDED = "clopper-pearson one-sided"


def decision_bounds(successes: int, n: int, *, confidence: float, hi_confidence: float) -> Estimate:
    """``successes / n`` with the two one-sided Clopper-Pearson bounds a verdict uses.

    ``lo`` is the lower bound at level ``confidence`` (verify if it clears the
    threshold), ``hi`` the upper bound at level ``hi_confidence`` (refute if
    it stays below; the level is raised to correct for several bounds).
    ``n == 0`` gives NaN with ``[0, 1]``: no evidence either way.
    """
    if n < 0 or successes < 0 or successes > n:
        raise EstimateError(f"decision_bounds: need 0 <= successes <= n, got {successes}/{n}")
    for name, level in (("confidence", confidence), ("hi_confidence", hi_confidence)):
        if not 0 < level < 1:
            raise EstimateError(f"decision_bounds: {name} must lie in (0, 1), got {level}")
    if n == 0:
        return Estimate(math.nan, 0.0, 1.0, 0, False, confidence, ONE_SIDED, 0, hi_confidence)
    lo = float(cp_lower(successes, n, 1 - confidence))
    hi = float(cp_upper(successes, n, 1 - hi_confidence))
    return Estimate(successes / n, lo, hi, n, False, confidence, ONE_SIDED, successes, hi_confidence)


def exact_count(successes: int, n: int, *, confidence: float = 0.95) -> Estimate:
    """A proportion over a whole finite population; ``n == 0`` (an empty population) is exact and NaN."""
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, True, confidence, "exact", 0)
    return proportion(successes, n, exact=True, confidence=confidence)


def mean(values: "list[float] | object", *, confidence: float = 0.95, exact: bool = False) -> Estimate:
    """The mean of ``values`` with a Student-t interval from its standard error.

    With ``exact=True`` (the values are the whole population) the interval
    collapses to the mean.  A sample of one value has no standard error: its
    interval is unknown (NaN), never the point itself.
    """
    import numpy as np
    from scipy import stats

    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    n = int(arr.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, False, confidence, "t")
    m = float(arr.mean())
    if exact:
        return Estimate(m, m, m, n, True, confidence, "exact")
    if n == 1:
        return Estimate(m, math.nan, math.nan, 1, False, confidence, "t")
    se = float(arr.std(ddof=1) / math.sqrt(n))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return Estimate(m, m - half, m + half, n, False, confidence, "t")
