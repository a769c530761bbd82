"""Sampled verdicts simulated from exact stratum counts, through the verdict code verify() itself uses.

An exhaustive run gives, for each variable set, the number of agreeing
pairs and of pairs in each stratum (changed / unchanged) over the whole
domain.  That table fixes the distribution of what sample mode counts:

* ``sampling="random"``: ``n`` uniform pairs drawn independently, so the
  four counts (agree/disagree x changed/unchanged) are multinomial with the
  table's proportions -- exactly;
* ``sampling="balanced"``: half the pairs (``round(n / 2)``) from the
  changed stratum, the rest from the unchanged one, each uniformly.  Where
  the set's pair space is small enough for ``balanced`` to enumerate it
  (``ENUMERATE_LIMIT`` pairs), the draw is without replacement:
  hypergeometric counts, exactly.  Otherwise candidates are independent
  uniform draws, so the counts are binomial; verify() counts distinct pairs
  only, and the rare repeat among ``n / 2`` draws from a stratum of
  ``10^6`` or more pairs is ignored here.  A stratum with no pair at all
  falls back to random pairs, with the stratum known empty where enumerated.

Each simulated run's counts go to :func:`causalabs.verification.verdict.decide`,
the function that turns verify()'s counts into its verdict.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

import numpy as np

from causalabs.data.balance import ENUMERATE_LIMIT
from causalabs.verification.verdict import STRATA, SetCounts, decide


def table(report) -> list[SetCounts]:  # type: ignore[no-untyped-def]
    """The exact stratum counts of an exhaustive report."""
    assert report.iia.exact
    return [
        SetCounts(e.variables, (e.changed.successes, e.changed.n), (e.unchanged.successes, e.unchanged.n))
        for e in report.per_variable
    ]


def _draw_set(s: SetCounts, n: int, sampling: str, rng: np.random.Generator, runs: int) -> list[SetCounts]:
    (kc, nc), (ku, nu) = s.changed, s.unchanged
    total = nc + nu
    if sampling == "balanced" and nc and nu:
        quota = {"changed": int(round(n * 0.5))}
        quota["unchanged"] = n - quota["changed"]
        drawn = {}
        for name, (k, size) in (("changed", (kc, nc)), ("unchanged", (ku, nu))):
            q = quota[name]
            if total <= ENUMERATE_LIMIT:
                if q >= size:  # the whole stratum, repeated: its distinct pairs are all of it
                    drawn[name] = (np.full(runs, k), np.full(runs, size))
                else:
                    drawn[name] = (rng.hypergeometric(k, size - k, q, size=runs), np.full(runs, q))
            else:
                drawn[name] = (rng.binomial(q, k / size, size=runs), np.full(runs, q))
        return [
            SetCounts(s.variables, (int(drawn["changed"][0][i]), int(drawn["changed"][1][i])),
                      (int(drawn["unchanged"][0][i]), int(drawn["unchanged"][1][i])))
            for i in range(runs)
        ]
    empty = frozenset(
        name for name, size in zip(STRATA, (nc, nu)) if size == 0
    ) if sampling == "balanced" and total <= ENUMERATE_LIMIT else frozenset()
    p = np.array([kc, nc - kc, ku, nu - ku], dtype=np.float64) / total
    c = rng.multinomial(n, p, size=runs)
    return [
        SetCounts(s.variables, (int(c[i, 0]), int(c[i, 0] + c[i, 1])), (int(c[i, 2]), int(c[i, 2] + c[i, 3])), empty)
        for i in range(runs)
    ]


def verdicts(
    sets: Sequence[SetCounts],
    *,
    n: int,
    threshold: float,
    runs: int,
    seed: int,
    sampling: str = "balanced",
    confidence: float = 0.95,
) -> collections.Counter[str]:
    """How many of ``runs`` simulated sample-mode checks (``n`` pairs per set) end in each verdict."""
    rng = np.random.default_rng(seed)
    per_set = [_draw_set(s, n, sampling, rng, runs) for s in sets]
    out: collections.Counter[str] = collections.Counter()
    for i in range(runs):
        counts = [draws[i] for draws in per_set]
        out[decide(counts, threshold=threshold, confidence=confidence, exact=False).verdict] += 1
    return out
