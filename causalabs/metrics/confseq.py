"""An anytime-valid confidence sequence for a Bernoulli mean: the beta-binomial mixture martingale.

For pairs that agree (1) or not (0) independently with probability ``p``,
after ``n`` pairs with ``k`` agreeing the likelihood of ``q`` is
``L_n(q) = q**k (1-q)**(n-k)``.  Mixing the likelihood ratio against a
Beta(a, b) prior fixed in advance gives

    M_n(p) = m_n / L_n(p),   m_n = B(a + k, b + n - k) / B(a, b)

(the marginal likelihood over the prior), a nonnegative martingale with
mean 1 under ``p`` (Robbins 1970; the "beta-binomial" conjugate mixture of
Howard, Ramdas, McAuliffe & Sekhon 2021, *Time-uniform, nonparametric,
nonasymptotic confidence sequences*, Ann. Statist. 49(2), 1055-1080: the
conjugate beta-binomial mixture).  By Ville's inequality ``P(exists n: M_n(p) >= 1/alpha) <= alpha``,
so

    C_n = {p : M_n(p) < 1/alpha} = {p : log L_n(p) > log m_n - log(1/alpha)}

covers the true ``p`` at *every* ``n`` at once with probability at least
``1 - alpha``: a verdict may look at the counts after every batch and stop
whenever it likes.  ``log L_n`` is concave in ``p``, so ``C_n`` is an
interval around ``k / n``; its ends are found by bisection.  A decision
only needs the sign at the threshold: the lower end clears ``t`` iff
``k / n > t`` and ``M_n(t) >= 1/alpha``.

The prior is Beta(rho * c, rho * (1 - c)) centred on ``c`` (the threshold,
kept inside [1/rho, 1 - 1/rho]), with ``rho`` (:data:`CONCENTRATION`)
chosen by simulation (``benchmarks/sequential_sim.py``) to decide quickly
when the IIA is 0.01 to 0.05 away from thresholds between 0.9 and 0.99.
Any prior fixed before the data keeps the guarantee; it only moves where
the sequence is tight.

Everything is vectorised over arrays of counts (simulations decide
thousands of runs at once with the very functions the verifier calls).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from causalabs.errors import EstimateError

#: The prior's concentration rho (a + b): its spread around the threshold is about sqrt(t (1 - t) / rho).
CONCENTRATION = 100.0
#: How this sequence is named in reports.
METHOD = "beta-binomial mixture confidence sequence"
CITATION = (
    "Howard, Ramdas, McAuliffe & Sekhon (2021), Time-uniform, nonparametric, nonasymptotic confidence "
    "sequences, Ann. Statist. 49(2); Robbins (1970)"
)
_BISECTIONS = 60


def prior(centre: float, concentration: float = CONCENTRATION) -> tuple[float, float]:
    """Beta(a, b) with mean ``centre`` (clipped to [1/rho, 1 - 1/rho]) and ``a + b = concentration``."""
    if not concentration > 2.0:
        raise EstimateError(f"confidence sequence: concentration must exceed 2, got {concentration}")
    c = min(max(float(centre), 1.0 / concentration), 1.0 - 1.0 / concentration)
    return concentration * c, concentration * (1.0 - c)


def _check(k: np.ndarray, n: np.ndarray, alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise EstimateError(f"confidence sequence: alpha must lie in (0, 1), got {alpha}")
    if np.any(k < 0) or np.any(k > n):
        raise EstimateError("confidence sequence: need 0 <= successes <= n")


def log_likelihood(k: np.ndarray, n: np.ndarray, p: np.ndarray | float) -> np.ndarray:
    """``k log p + (n - k) log(1 - p)`` (0 * log 0 = 0)."""
    return special.xlogy(k, p) + special.xlog1py(n - k, -np.asarray(p, dtype=np.float64))


def log_marginal(k: np.ndarray, n: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """``log m_n``: the log marginal likelihood of the counts under the Beta(a, b) prior."""
    a, b = ab
    return special.betaln(a + k, b + n - k) - special.betaln(a, b)


def log_evidence(k: np.ndarray | int, n: np.ndarray | int, p: float, ab: tuple[float, float]) -> np.ndarray:
    """``log M_n(p)``: the log of the mixture martingale against the value ``p`` (0 where ``n == 0``)."""
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    return log_marginal(k, n, ab) - log_likelihood(k, n, p)


def excludes_below(k: np.ndarray | int, n: np.ndarray | int, t: float, alpha: float, ab: tuple[float, float]) -> np.ndarray:
    """Whether the level-``1 - alpha`` sequence's lower end is ``>= t`` (every value ``<= t`` excluded)."""
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    _check(k, n, alpha)
    above = k > t * n
    return above & (log_evidence(k, n, t, ab) >= np.log(1.0 / alpha))


def excludes_above(k: np.ndarray | int, n: np.ndarray | int, t: float, alpha: float, ab: tuple[float, float]) -> np.ndarray:
    """Whether the level-``1 - alpha`` sequence's upper end is ``< t`` (every value ``>= t`` excluded)."""
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    _check(k, n, alpha)
    below = k < t * n
    return below & (log_evidence(k, n, t, ab) >= np.log(1.0 / alpha))


def bounds(k: np.ndarray | int, n: np.ndarray | int, alpha: float, ab: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The sequence's ends ``(lo, hi)`` after ``n`` pairs with ``k`` agreeing ([0, 1] where ``n == 0``).

    Bisection to about 1e-15 on each side of ``k / n`` (``log L_n`` is concave, so the set is an interval).
    """
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    _check(k, n, alpha)
    level = log_marginal(k, n, ab) - np.log(1.0 / alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        mle = np.where(n > 0, k / np.where(n > 0, n, 1.0), 0.5)

    def inside(p: np.ndarray) -> np.ndarray:
        return log_likelihood(k, n, p) > level

    lo_out, lo_in = np.zeros_like(mle), mle.copy()  # p = 0 is outside unless k == 0
    hi_in, hi_out = mle.copy(), np.ones_like(mle)
    for _ in range(_BISECTIONS):
        mid = (lo_out + lo_in) / 2
        ok = inside(mid)
        lo_in, lo_out = np.where(ok, mid, lo_in), np.where(ok, lo_out, mid)
        mid = (hi_in + hi_out) / 2
        ok = inside(mid)
        hi_in, hi_out = np.where(ok, mid, hi_in), np.where(ok, hi_out, mid)
    lo = np.where(k == 0, 0.0, lo_out)
    hi = np.where(k == n, 1.0, hi_out)
    return np.where(n > 0, lo, 0.0), np.where(n > 0, hi, 1.0)
