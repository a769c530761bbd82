"""One-sided Clopper-Pearson bounds on a proportion, and how many more trials would decide a threshold.

A verdict on "IIA >= t" needs one bound at a time: a *lower* bound to
verify (the claim holds if even the lower bound clears ``t``) and an
*upper* bound to refute (it fails if even the upper bound stays below
``t``).  Each is the one-sided Clopper-Pearson bound, the quantile of a
beta distribution (``scipy.special.betaincinv``; equal to
``scipy.stats.binomtest(k, n, alternative=...).proportion_ci(method="exact")``
and about 4000x faster): for every true proportion ``p``,
``P(lower(X, n, alpha) <= p) >= 1 - alpha`` and
``P(upper(X, n, alpha) >= p) >= 1 - alpha`` with ``X ~ Binomial(n, p)``.
Coverage is therefore at least nominal for every ``p`` and ``n``
(``tests/test_verify_statistics.py`` checks it by simulation and from the
binomial pmf).

Both functions take arrays (simulations draw thousands of counts at once)
and real-valued ``k`` (:func:`pairs_to_decide` asks what a larger sample at
the same rate would give).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from causalabs.errors import EstimateError

#: The largest sample :func:`pairs_to_decide` considers; beyond it, "no number of pairs".
MAX_PAIRS = 10**12


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise EstimateError(f"one-sided bound: alpha must lie in (0, 1), got {alpha}")


def cp_lower(k: np.ndarray | float, n: np.ndarray | float, alpha: float) -> np.ndarray:
    """One-sided Clopper-Pearson lower bound at level ``1 - alpha`` (0 where ``k == 0``)."""
    _check_alpha(alpha)
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    safe = np.where(k > 0, k, 1.0)
    return np.where(k > 0, special.betaincinv(safe, n - safe + 1.0, alpha), 0.0)


def cp_upper(k: np.ndarray | float, n: np.ndarray | float, alpha: float) -> np.ndarray:
    """One-sided Clopper-Pearson upper bound at level ``1 - alpha`` (1 where ``k == n``)."""
    _check_alpha(alpha)
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    safe = np.where(k < n, k, n - 1.0)
    return np.where(k < n, special.betaincinv(safe + 1.0, n - safe, 1.0 - alpha), 1.0)


def pairs_to_decide(k: int, n: int, threshold: float, alpha_lower: float, alpha_upper: float) -> int | None:
    """The smallest sample size at which the observed rate ``k / n`` would decide ``IIA >= threshold``.

    Above the threshold: the size whose lower bound (level ``1 - alpha_lower``)
    reaches it; below: the size whose upper bound (level ``1 - alpha_upper``)
    falls under it.  None when the rate equals the threshold (at threshold 1
    with no failure, no sample ever verifies) or more than :data:`MAX_PAIRS`
    would be needed.  An estimate: the next sample's rate will differ.
    """
    if n <= 0:
        return None
    p = k / n
    if p == threshold:
        return None
    if p > threshold:
        def decided(size: int) -> bool:
            return bool(cp_lower(p * size, size, alpha_lower) >= threshold)
    else:
        def decided(size: int) -> bool:
            return bool(cp_upper(p * size, size, alpha_upper) < threshold)
    if decided(n):
        return n
    lo, hi = n, 2 * n
    while not decided(hi):
        lo, hi = hi, 2 * hi
        if hi > MAX_PAIRS:
            return None
    while hi - lo > 1:  # decided(hi), not decided(lo)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decided(mid) else (mid, hi)
    return hi


def rare_bound(n: int, alpha: float) -> float:
    """Upper bound on the share of a kind of pair never seen among ``n`` uniform draws (``1 - alpha**(1/n)``)."""
    _check_alpha(alpha)
    return 1.0 if n <= 0 else -math.expm1(math.log(alpha) / n)
