"""The sequential rule: when a claim checked on growing batches of pairs may stop, and with which verdict.

Pure and vectorised over *runs* (independent repetitions): the verifier
calls :func:`run_sequential` with one run and a ``draw`` that evaluates the
network on fresh pairs; ``benchmarks/sequential_sim.py`` and the tests call
the same function with thousands of runs and a ``draw`` that returns
binomial counts (:func:`bernoulli_draw`).  So the procedure whose error rates
are simulated is the one that decides real claims.

Per variable set and stratum (changed / unchanged pairs) the counts feed the
beta-binomial mixture confidence sequence of :mod:`causalabs.metrics.confseq`,
valid at every batch at once:

* a stratum **holds** once its lower end (level ``confidence``) is ``>= t``;
  it then stays held (the sequence covers at every time, so the first
  crossing is as valid as any).  The claim is **verified** once every
  stratum of every set holds (or is proven empty): an intersection-union
  test, so no correction.  A set whose strata all hold draws no more pairs;
* a stratum **fails** once its upper end at level ``1 - alpha / m`` is
  ``< t``, with ``m`` = 2 x the number of sets, fixed before any pair is
  drawn (union bound); at ``t = 1`` one disagreeing pair fails it.  One
  failing stratum **refutes** the claim at once;
* when the budget runs out (``max_pairs`` per set, or ``max_seconds``) with
  neither, the claim is **inconclusive**.

At ``t = 1`` nothing verifies (a sequence from finitely many pairs never
excludes every value below 1).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from causalabs.errors import BudgetError
from causalabs.metrics import confseq

#: The first batch, in pairs per variable set, and the factor by which the total grows at each batch.
FIRST_BATCH = 100
GROWTH = 1.25
#: Default budget: pairs per variable set (10x the fixed-n default of sample mode).
MAX_PAIRS = 20_000
#: Verdict codes of :class:`Outcome`.
UNDECIDED, VERIFIED, REFUTED = 0, 1, -1
RULE = (
    "stop at the first batch where every stratum's lower bound >= t (verified) or some stratum's upper bound "
    "< t (refuted; at t = 1 one disagreeing pair), else when the budget is spent (inconclusive)"
)


@attrs.frozen
class Rule:
    """The claim's threshold and confidence, the number of variable sets, and the batch schedule."""

    threshold: float
    confidence: float
    sets: int
    max_pairs: int = MAX_PAIRS
    first: int = FIRST_BATCH
    growth: float = GROWTH
    concentration: float = confseq.CONCENTRATION

    def __attrs_post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise BudgetError(f"threshold must be a number in (0, 1], got {self.threshold!r}")
        if not 0.0 < self.confidence < 1.0:
            raise BudgetError(f"confidence must be a number in (0, 1), got {self.confidence!r}")
        if self.sets < 1:
            raise BudgetError(f"sets: the sequential rule needs at least one variable set, got {self.sets}")
        if isinstance(self.max_pairs, bool) or not isinstance(self.max_pairs, (int, np.integer)) or self.max_pairs < 2:
            raise BudgetError(f"max_pairs must be an integer >= 2 (pairs per variable set), got {self.max_pairs!r}")
        if self.first < 2 or not self.growth > 1.0:
            raise BudgetError(f"sequential rule: first batch >= 2 and growth > 1, got {self.first}, {self.growth}")

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def bounds_tested(self) -> int:
        return 2 * self.sets

    @property
    def alpha_upper(self) -> float:
        return self.alpha / self.bounds_tested

    @property
    def prior(self) -> tuple[float, float]:
        return confseq.prior(self.threshold, self.concentration)

    def schedule(self) -> list[int]:
        """The total pairs per set after each batch: even numbers growing by ``growth``, ending at ``max_pairs``."""
        out: list[int] = []
        total = float(self.first)
        while True:
            n = min(int(self.max_pairs), 2 * math.ceil(total / 2))
            if out and n <= out[-1]:
                n = out[-1] + 2
            out.append(min(n, int(self.max_pairs)))
            if out[-1] >= self.max_pairs:
                return out
            total *= self.growth

    def statistics(self) -> dict[str, Any]:
        """How the verdict is decided, for the report's ``statistics``."""
        return {
            "interval": confseq.METHOD,
            "sides": "one-sided",
            "correction": "bonferroni",
            "bounds_tested": self.bounds_tested,
            "lower_level": self.confidence,
            "upper_level": 1.0 - self.alpha_upper,
            "threshold": self.threshold,
            "prior": {"a": self.prior[0], "b": self.prior[1]},
            "citation": confseq.CITATION,
        }


def status(rule: Rule, k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(holds, fails) per stratum from cumulative counts ``k`` of ``n`` (arrays of any one shape)."""
    t = rule.threshold
    if t == 1.0:
        return np.zeros(np.shape(n), dtype=bool), np.asarray(k) < np.asarray(n)
    holds = confseq.excludes_below(k, n, t, rule.alpha, rule.prior)
    fails = confseq.excludes_above(k, n, t, rule.alpha_upper, rule.prior)
    return holds, fails


#: draw(batch index, active (runs, sets) bool mask, pairs per active set) -> (agreeing, drawn), each (runs, sets, 2).
Draw = Callable[[int, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@attrs.frozen(eq=False)
class Outcome:
    """Per run: the verdict code, the batches run, why it stopped, and the counts at the stop (runs, sets, 2)."""

    verdict: np.ndarray
    batches: np.ndarray
    stopped_by: list[str]
    successes: np.ndarray
    totals: np.ndarray
    held: np.ndarray
    failed: np.ndarray

    @property
    def pairs(self) -> np.ndarray:
        """Pairs used per run (every set, both strata)."""
        return self.totals.sum(axis=(1, 2))


def run_sequential(
    rule: Rule,
    draw: Draw,
    *,
    runs: int = 1,
    empty: np.ndarray | None = None,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Outcome:
    """Draw batches until every run is decided or its budget is spent (see the module's rule).

    ``empty``: (sets, 2) strata proven to hold no pair (they hold vacuously).
    ``max_seconds``: stop every undecided run after the batch during which it ran out (not deterministic).
    """
    shape = (runs, rule.sets, 2)
    k, n = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    known_empty = np.zeros((rule.sets, 2), dtype=bool) if empty is None else np.asarray(empty, dtype=bool)
    held = np.broadcast_to(known_empty, shape).copy()
    failed = np.zeros(shape, dtype=bool)
    verdict = np.full(runs, UNDECIDED, dtype=np.int8)
    batches = np.zeros(runs, dtype=np.int64)
    stopped = ["max_pairs"] * runs
    start, drawn = clock(), 0
    for b, total in enumerate(rule.schedule()):
        active = (verdict == UNDECIDED)[:, None] & ~held.all(axis=2)
        if not active.any():
            break
        dk, dn = draw(b, active, total - drawn)
        drawn = total
        k += np.where(active[:, :, None], dk, 0)
        n += np.where(active[:, :, None], dn, 0)
        holds, fails = status(rule, k, n)
        live = (verdict == UNDECIDED)[:, None, None]
        failed |= live & fails & ~held
        held |= live & holds & ~failed
        batches = np.where(verdict == UNDECIDED, b + 1, batches)
        refuted = (verdict == UNDECIDED) & failed.any(axis=(1, 2))
        verified = (verdict == UNDECIDED) & ~refuted & held.all(axis=(1, 2))
        verdict[refuted], verdict[verified] = REFUTED, VERIFIED
        for i in np.flatnonzero(refuted | verified):
            stopped[i] = "refuted" if refuted[i] else "verified"
        if max_seconds is not None and clock() - start >= max_seconds:
            for i in np.flatnonzero(verdict == UNDECIDED):
                stopped[i] = "max_seconds"
            break
    return Outcome(verdict, batches, stopped, k, n, held, failed)


def bernoulli_draw(iia: np.ndarray, seed: int, runs: int) -> Draw:
    """A ``draw`` of balanced pairs from strata with true IIA ``iia`` ((sets, 2)): half of each batch per stratum."""
    p = np.asarray(iia, dtype=np.float64)
    rng = np.random.default_rng(seed)

    def draw(b: int, active: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        half = np.array([size - size // 2, size // 2])
        dn = np.broadcast_to(half, (runs, p.shape[0], 2)).copy()
        dk = rng.binomial(dn, np.broadcast_to(p, dn.shape))
        return dk, dn

    return draw
