"""Decisive experiments: interchange experiments on which a rival predicts otherwise than the claim.

An *experiment* is (intervened variables, base input, source input): every
intervened variable takes its value on the source, and the output is read on
the base.  For a claim and its rivals, :func:`decisive`

1. evaluates a pool of experiments for each intervened set (each aligned
   variable alone, and all of them together): every (base, source) pair when
   there are at most :data:`POOL_LIMIT`, else a seeded uniform sample;
2. asks z3, for every rival the pool does not separate, for an experiment
   that does (the claim and the rival encoded twice, on a base and a source,
   their outputs required to differ); an unsat answer on every set proves
   that no such experiment exists;
3. chooses a small set of experiments covering every separated rival
   (:func:`smallest_cover`: greedy, then an exact integer program where
   the greedy set is not proven smallest), with a lower bound on every such
   set (:func:`cover_lower_bound`): fewer experiments than that cannot
   separate every rival, whatever method chooses them from the pool.

Rivals no experiment separates are *indistinguishable by interventions on
the aligned variables*: no interchange on those sites can tell them from the
claim, whatever the network does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import z3

from causalabs.rivals.equivalence import Z3_TIMEOUT_MS
from causalabs.scm._z3translate import to_z3
from causalabs.scm.domains import values_at
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import HypothesisLike, enumerate_inputs, interchange, model_of

#: Pairs per intervened set up to which the whole (base, source) space is the pool.
POOL_LIMIT = 70_000
#: Sampled pairs per intervened set above it.
POOL_SAMPLE = 20_000

Row = dict[str, int]


@attrs.frozen
class Experiment:
    """Set ``variables`` to their values on ``source``, run ``base``."""

    variables: tuple[str, ...]
    base: Row
    source: Row

    def prediction(self, hypothesis: HypothesisLike) -> tuple[int, ...]:
        """The hypothesis' outputs on this experiment."""
        m = model_of(hypothesis)
        values = interchange(m, {k: [v] for k, v in self.base.items()},
                             {v: {k: [x] for k, x in self.source.items()} for v in self.variables})
        return tuple(int(values[o][0]) for o in m.outputs)

    def to_dict(self) -> dict[str, object]:
        return {"variables": list(self.variables), "base": dict(self.base), "source": dict(self.source)}


@attrs.frozen
class DecisiveSet:
    """Experiments covering every distinguishable rival, and what could not be separated.

    ``separated``: rival name -> index (in ``experiments``) of an experiment
    on which it predicts otherwise than the claim.  ``indistinguishable``:
    rivals proven to agree with the claim on every experiment over the
    checked sets.  ``undecided``: z3 could not say.  ``random_rate``: the
    fraction of uniformly drawn experiments (set, base, source) that
    separate each rival, exact when ``exact`` (the pool was every pair).
    """

    claim: str
    sets: tuple[tuple[str, ...], ...]
    experiments: tuple[Experiment, ...]
    separated: dict[str, int]
    indistinguishable: tuple[str, ...]
    undecided: tuple[str, ...]
    random_rate: dict[str, float]
    exact: bool
    pool: int
    #: no set of the pool's experiments separating every separated rival is smaller than this
    #: (:func:`cover_lower_bound`, or the exact minimum where the cover was solved)
    fewest_possible: int = 0
    #: ``experiments`` is a smallest such set (it has ``fewest_possible`` experiments)
    optimal: bool = False


def intervened_sets(variables: Sequence[str]) -> list[tuple[str, ...]]:
    """Each variable alone, and all of them together (one shared source)."""
    sets = [(v,) for v in variables]
    if len(variables) > 1:
        sets.append(tuple(variables))
    return sets


def _pool(model: CausalModel, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], bool]:
    n = model.input_space_size
    if n * n <= POOL_LIMIT:
        inputs = enumerate_inputs(model)
        b, s = np.divmod(np.arange(n * n), n)
        return {k: v[b] for k, v in inputs.items()}, {k: v[s] for k, v in inputs.items()}, True
    rng = np.random.default_rng(seed)
    base, src = {}, {}
    for k in model.inputs:
        d = model.variables[k].domain
        base[k] = values_at(d, rng.integers(0, len(d), POOL_SAMPLE))
        src[k] = values_at(d, rng.integers(0, len(d), POOL_SAMPLE))
    return base, src, False


def _outputs(model: CausalModel, base: Mapping[str, np.ndarray], src: Mapping[str, np.ndarray],
             vs: tuple[str, ...]) -> np.ndarray:
    values = interchange(model, base, {v: src for v in vs})
    return np.stack([values[o] for o in model.outputs], axis=1)


def _separations(cm: CausalModel, rms: Sequence[CausalModel], base: Mapping[str, np.ndarray],
                 src: Mapping[str, np.ndarray], vs: tuple[str, ...]) -> np.ndarray:
    """(pairs, rivals) bool: which rival predicts otherwise than the claim on each pair, intervening on ``vs``."""
    ref = _outputs(cm, base, src, vs)
    size = len(next(iter(base.values())))
    if not rms:
        return np.zeros((size, 0), dtype=bool)
    return np.stack([(_outputs(r, base, src, vs) != ref).any(axis=1) for r in rms], axis=1)


def _z3_witness(claim: CausalModel, rival: CausalModel, vs: tuple[str, ...], timeout_ms: int
                ) -> tuple[str, Experiment | None]:
    cs = to_z3(claim, "cs.")
    cb = to_z3(claim, "cb.", {v: cs[v] for v in vs}, needed=claim.outputs)
    rs = to_z3(rival, "rs.")
    rb = to_z3(rival, "rb.", {v: rs[v] for v in vs}, needed=rival.outputs)
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*cs.constraints, *cb.constraints, *rs.constraints, *rb.constraints)
    for k in claim.inputs:
        s.add(rs.values[k] == cs.values[k])
        if k in cb.values and k in rb.values:
            s.add(rb.values[k] == cb.values[k])
    s.add(z3.Or([cb.values[o] != rb.values[o] for o in claim.outputs]))
    answer = s.check()
    if answer == z3.unsat:
        return "none", None
    if answer != z3.sat:
        return "unknown", None
    sol = s.model()

    def read(enc: object, fallback: object) -> Row:
        return {k: sol.eval(enc.values[k] if k in enc.values else fallback.values[k],  # type: ignore[attr-defined]
                            model_completion=True).as_long() for k in claim.inputs}

    exp = Experiment(vs, read(cb, cs), read(cs, cs))
    if exp.prediction(claim) == exp.prediction(rival):  # replay: never trust an unconfirmed witness
        return "unknown", None
    return "found", exp


def decisive(
    claim: HypothesisLike,
    rivals: Sequence[HypothesisLike],
    variables: Sequence[str] | None = None,
    *,
    seed: int = 0,
    timeout_ms: int = Z3_TIMEOUT_MS,
) -> DecisiveSet:
    """Experiments separating each rival from ``claim`` over interventions on ``variables``.

    ``variables``: the aligned intermediates (default: all of the claim's).
    """
    cm = model_of(claim)
    rms = [model_of(r) for r in rivals]
    names = [r.name for r in rms]
    variables = list(cm.internals if variables is None else variables)
    sets = intervened_sets(variables)
    base, src, exact = _pool(cm, seed)
    size = len(next(iter(base.values())))
    rows: list[tuple[int, int]] = []  # (set index, pair index) of each candidate column
    hits: list[np.ndarray] = []  # per set: (pairs, rivals) bool
    for vs in sets:
        hits.append(_separations(cm, rms, base, src, vs))
    rate = {n: float(np.mean([h[:, i].mean() for h in hits])) for i, n in enumerate(names)}
    table = np.concatenate(hits, axis=0) if hits else np.zeros((0, len(rms)), dtype=bool)
    for j in range(len(sets)):
        rows += [(j, i) for i in range(size)]
    extra: list[Experiment] = []
    undecided, indistinguishable = [], []
    covered = table.any(axis=0) if len(table) else np.zeros(len(rms), dtype=bool)
    for i, r in enumerate(rms):
        if covered[i]:
            continue
        if exact:
            indistinguishable.append(r.name)
            continue
        answers = []
        for vs in sets:
            status, exp = _z3_witness(cm, r, vs, timeout_ms)
            answers.append(status)
            if exp is not None:
                extra.append(exp)
                break
        else:
            (indistinguishable if all(a == "none" for a in answers) else undecided).append(r.name)
    if extra:
        more = np.array([[e.prediction(cm) != e.prediction(r) for r in rms] for e in extra], dtype=bool)
        table = np.concatenate([table, more], axis=0)
    chosen, fewest, optimal = smallest_cover(table)

    def experiment(k: int) -> Experiment:
        if k >= len(rows):
            return extra[k - len(rows)]
        j, i = rows[k]
        return Experiment(sets[j], {n: int(base[n][i]) for n in cm.inputs}, {n: int(src[n][i]) for n in cm.inputs})

    chosen_exps = [experiment(k) for k in chosen]
    separated = {}
    for i, n in enumerate(names):
        for pos, k in enumerate(chosen):
            if table[k, i]:
                separated[n] = pos
                break
    return DecisiveSet(cm.name, tuple(sets), tuple(chosen_exps), separated, tuple(indistinguishable),
                       tuple(undecided), rate, exact, size * len(sets), fewest, optimal)


#: Branch-and-bound nodes the exact cover may use (a count, not seconds: the result is deterministic).
COVER_NODES = 2_000
#: Distinct experiments above which the exact cover is not tried (the greedy set stands).
COVER_ROWS = 50_000


def _distinct(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows over the coverable, distinct columns, and each one's first row index in ``table``."""
    t = np.ascontiguousarray(table[:, table.any(axis=0)])
    t = np.unique(t, axis=1)  # rivals separated by the same experiments: one constraint
    _, first = np.unique(np.packbits(t, axis=1), axis=0, return_index=True)
    first = np.sort(first)
    return t[first], first


def smallest_cover(table: np.ndarray) -> tuple[list[int], int, bool]:
    """Rows of ``table`` (experiments x rivals, bool) covering every coverable column: (rows, lower bound, optimal).

    Greedy first (the row separating most uncovered rivals, ties to the lowest index); where it is
    larger than :func:`cover_lower_bound`, the cover is solved exactly (scipy's HiGHS, at most
    :data:`COVER_NODES` nodes, only up to :data:`COVER_ROWS` distinct experiments) and the smaller set
    kept, its rows ordered by how many rivals each separates.
    """
    chosen: list[int] = []
    todo = table.any(axis=0)
    while todo.any():
        best = int(np.argmax((table & todo).sum(axis=1)))
        chosen.append(best)
        todo &= ~table[best]
    if not chosen:
        return [], 0, True
    rows, first = _distinct(table)
    bound = _relaxation_bound(rows)
    if len(chosen) == bound:
        return chosen, bound, True
    if len(rows) > COVER_ROWS:
        return chosen, bound, False
    from scipy.optimize import Bounds, LinearConstraint, milp

    res = milp(np.ones(len(rows)), integrality=np.ones(len(rows)), bounds=Bounds(0, 1),
               constraints=LinearConstraint(rows.T.astype(float), lb=1.0, ub=np.inf),
               options={"node_limit": COVER_NODES})
    if res.x is None:
        return chosen, bound, False
    picked = [int(first[k]) for k in np.flatnonzero(res.x > 0.5)]
    optimal = res.status == 0
    if optimal:
        bound = len(picked)
    if len(picked) >= len(chosen):
        return chosen, bound, optimal and len(chosen) == bound
    picked.sort(key=lambda k: (-int(table[k].sum()), k))
    return picked, bound, optimal


def cover_lower_bound(table: np.ndarray) -> int:
    """No choice of rows of ``table`` (experiments x rivals, bool) covering every coverable column has fewer rows.

    The ceiling of the linear-programming relaxation of the set cover (scipy's HiGHS, deterministic),
    over the distinct rows and columns: every integer cover is a feasible point of the relaxation.
    """
    if not table.any():
        return 0
    return _relaxation_bound(_distinct(table)[0])


def _relaxation_bound(rows: np.ndarray) -> int:
    """The ceiling of the LP relaxation's optimum of covering every column of ``rows`` (each coverable)."""
    from scipy.optimize import linprog

    res = linprog(np.ones(rows.shape[0]), A_ub=-rows.T.astype(float), b_ub=-np.ones(rows.shape[1]),
                  bounds=(0, 1), method="highs")
    if res.status != 0:  # the relaxation of a coverable table is always feasible and bounded
        raise RuntimeError(f"the set-cover relaxation did not solve: {res.message}")
    return max(1, math.ceil(float(res.fun) - 1e-7))


def random_pairs_needed(rates: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Uniform random experiments needed to separate every rival with probability ``confidence``.

    ``lower``: the most any single rival needs alone (no fewer can do);
    ``union``: enough by the union bound (sum of miss probabilities <= 1 - confidence).
    Infinite when a rival's rate is 0.
    """
    alpha = 1.0 - confidence
    if not rates:
        return {"lower": 0.0, "union": 0.0}
    if min(rates) <= 0.0:
        return {"lower": math.inf, "union": math.inf}
    lower = max(math.ceil(math.log(alpha) / math.log1p(-p)) if p < 1 else 1 for p in rates)
    n = lower
    while sum((1 - p) ** n for p in rates) > alpha:
        n = math.ceil(n * 1.05) + 1
    lo, hi = lower, n
    while lo < hi:
        mid = (lo + hi) // 2
        if sum((1 - p) ** mid for p in rates) <= alpha:
            hi = mid
        else:
            lo = mid + 1
    return {"lower": float(lower), "union": float(lo)}


@attrs.frozen
class RandomNeed:
    """Uniform random experiments needed to separate every separable rival, by simulation.

    ``needed``: the ``confidence`` quantile, over ``runs`` simulated runs, of
    the number of experiments drawn (intervened set, base, source, each
    uniform; from the pool of :func:`decisive`) until every rival that some
    pool experiment separates is separated.  ``classes``: the number of
    *distinguishing classes* among those rivals (rivals separated by exactly
    the same pool experiments form one class).
    """

    needed: int
    runs: int
    confidence: float
    classes: int
    rivals: int


def simulate_random_pairs(claim: HypothesisLike, rivals: Sequence[HypothesisLike],
                          variables: Sequence[str] | None = None, *, confidence: float = 0.95,
                          runs: int = 2_000, seed: int = 0) -> RandomNeed:
    """How many uniform random experiments separate every pool-separable rival (see :class:`RandomNeed`)."""
    cm = model_of(claim)
    rms = [model_of(r) for r in rivals]
    sets = intervened_sets(list(cm.internals if variables is None else variables))
    base, src, _ = _pool(cm, seed)
    table = np.concatenate([_separations(cm, rms, base, src, vs) for vs in sets], axis=0)
    table = table[:, table.any(axis=0)]
    classes = len({col.tobytes() for col in np.packbits(table, axis=0).T}) if table.size else 0
    if table.shape[1] == 0:
        return RandomNeed(0, runs, confidence, 0, 0)
    rng = np.random.default_rng(seed)
    counts = np.empty(runs, dtype=np.int64)
    chunk = 256
    for k in range(runs):
        first = np.full(table.shape[1], -1, dtype=np.int64)
        drawn = 0
        while (first < 0).any():
            rows = table[rng.integers(0, len(table), chunk)]
            hit = rows.any(axis=0) & (first < 0)
            first[hit] = drawn + rows[:, hit].argmax(axis=0)
            drawn += chunk
        counts[k] = first.max() + 1
    return RandomNeed(int(np.quantile(counts, confidence, method="higher")), runs, confidence, classes,
                      table.shape[1])
