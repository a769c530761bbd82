"""Estimates with honest uncertainty: every number says n, whether it is exact, and its interval."""

from __future__ import annotations

import math
from typing import Literal

import attrs
from scipy import stats

Method = Literal["wilson", "clopper-pearson"]


@attrs.frozen
class Estimate:
    """A measured quantity.

    ``exact`` is True when the value was computed over a whole finite domain
    (then ``lo == hi == value``); otherwise ``[lo, hi]`` is a ``confidence``
    interval obtained by ``method``.
    """

    value: float
    lo: float
    hi: float
    n: int
    exact: bool
    confidence: float = 0.95
    method: str = "exact"
    successes: int | None = None

    def __str__(self) -> str:
        if self.exact:
            extra = f" ({self.successes}/{self.n})" if self.successes is not None else ""
            return f"{self.value:.4f} exact, n={self.n}{extra}"
        return (
            f"{self.value:.4f} [{self.lo:.4f}, {self.hi:.4f}] "
            f"{self.confidence:.0%} {self.method}, n={self.n}"
        )

    def to_dict(self) -> dict[str, object]:
        return attrs.asdict(self)


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
        raise ValueError(f"proportion: need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return Estimate(math.nan, 0.0, 1.0, 0, False, confidence, method, 0)
    value = successes / n
    if exact:
        return Estimate(value, value, value, n, True, confidence, "exact", successes)
    kind = "wilson" if method == "wilson" else "exact"
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method=kind)
    return Estimate(value, float(ci.low), float(ci.high), n, False, confidence, method, successes)


def mean(values: "list[float] | object", *, confidence: float = 0.95, exact: bool = False) -> Estimate:
    """The mean of ``values`` with a Student-t interval from its standard error."""
    import numpy as np

    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    n = int(arr.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, False, confidence, "t")
    m = float(arr.mean())
    if exact or n == 1:
        return Estimate(m, m, m, n, exact, confidence, "exact" if exact else "t")
    se = float(arr.std(ddof=1) / math.sqrt(n))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return Estimate(m, m - half, m + half, n, False, confidence, "t")
