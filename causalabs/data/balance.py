"""Balanced counterfactual datasets: a set share of changed outputs, even source values.

``balanced`` builds candidate pairs in bulk, puts each in a *cell* —
(does the intervention change the output?, the intervened variables' values
on their sources) — and fills per-cell quotas by indexing, never by a Python
loop over pairs.

Candidates come from one of two places:

* **enumerated** (exact): when every (base, sources) tuple over the input
  space or pool numbers at most ``enumerate_limit``, all of them are built.
  An empty class is then proven impossible.
* **sampled**: otherwise, rounds of uniform random pairs are drawn until
  every quota is met or ``max_candidates`` pairs were drawn.  A class that
  occurs in fewer than about 1 / max_candidates of pairs may be missed (an
  empty class is then only "not found"); pass a pool small enough to
  enumerate, or find inputs with a solver, for such rare classes.

Inside a cell, rows are taken without replacement in random order; a cell
with fewer candidates than its quota repeats them as evenly as possible (in
sampled mode this also warns, since more candidates would have helped).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from causalabs.data.dataset import CounterfactualDataset
from causalabs.data.generate import (
    Intervened,
    all_pairs,
    build,
    check_n,
    check_seed,
    evaluate,
    resolve,
)
from causalabs.data.spaces import InputSpace, PoolLike, input_space, pair_count, take
from causalabs.errors import DatasetError
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import Batch, run

#: Enumerate every candidate pair when there are at most this many.
ENUMERATE_LIMIT = 2_000_000
#: In sampled mode, stop drawing candidates after this many.
MAX_CANDIDATES = 10_000_000
#: Cell ids below this are grouped by counting (O(n)) rather than by sorting.
_DENSE_SPAN = 1 << 22


class _Candidates:
    """Candidate pairs with their outputs and cell ids (plain arrays, row-aligned)."""

    def __init__(
        self,
        base: Batch,
        sources: dict[str, Batch],
        expected: np.ndarray,
        base_output: np.ndarray,
        cell: np.ndarray,
    ) -> None:
        self.base, self.sources = base, sources
        self.expected, self.base_output, self.cell = expected, base_output, cell

    def take(self, index: np.ndarray) -> _Candidates:
        return _Candidates(
            take(self.base, index),
            {v: take(s, index) for v, s in self.sources.items()},
            self.expected[index],
            self.base_output[index],
            self.cell[index],
        )

    @staticmethod
    def join(a: _Candidates, b: _Candidates) -> _Candidates:
        cat = np.concatenate
        return _Candidates(
            {k: cat([a.base[k], b.base[k]]) for k in a.base},
            {v: {k: cat([a.sources[v][k], b.sources[v][k]]) for k in s} for v, s in a.sources.items()},
            cat([a.expected, b.expected]),
            cat([a.base_output, b.base_output]),
            cat([a.cell, b.cell]),
        )


def _value_radix(model: CausalModel, names: tuple[str, ...], balance_values: bool) -> int:
    if not balance_values:
        return 1
    size = math.prod(len(model.variables[v].domain) for v in names)
    if 2 * size > 2**62:
        raise DatasetError(
            f"{model.name}: the joint values of {list(names)} are too many to balance; "
            "pass balance_values=False"
        )
    return size


def _candidates(
    model: CausalModel,
    names: tuple[str, ...],
    base: Batch,
    sources: dict[str, Batch],
    by_change: bool,
    balance_values: bool,
    radix: int,
) -> _Candidates:
    expected, base_output = evaluate(model, base, sources)
    code = np.zeros(len(expected), dtype=np.int64)
    if balance_values:
        for v in names:
            value = run(model, sources[v])[v]
            code = code * len(model.variables[v].domain) + model.domain_index(v, value)
    if by_change:
        code = code + radix * (expected != base_output)
    return _Candidates(base, sources, expected, base_output, code)


def _class_quotas(n: int, changed_fraction: float | None) -> dict[int, int]:
    """Rows wanted per class: class 1 = changed, 0 = unchanged (one class 0 when not balancing)."""
    if changed_fraction is None:
        return {0: n}
    n_changed = int(round(n * changed_fraction))
    return {1: n_changed, 0: n - n_changed}


def _cell_counts(cell: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct cell ids, rows per cell), ids sorted."""
    if span <= _DENSE_SPAN:
        counts = np.bincount(cell, minlength=span)
        uniq = np.flatnonzero(counts)
        return uniq, counts[uniq]
    return np.unique(cell, return_counts=True)


def _group(cell: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stable grouping: (order, distinct ids, start of each group in order, group sizes)."""
    uniq, count = _cell_counts(cell, span)
    if span <= _DENSE_SPAN and len(uniq) <= 2**16:
        lut = np.zeros(span, dtype=np.uint16)
        lut[uniq] = np.arange(len(uniq), dtype=np.uint16)
        order = np.argsort(lut[cell], kind="stable")  # radix sort on 16-bit keys: O(n)
    else:
        order = np.argsort(cell, kind="stable")
    start = np.cumsum(count) - count
    return order, uniq, start, count


def _class_cells(cell: np.ndarray, radix: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per class: (its cells, rows per cell)."""
    uniq, counts = _cell_counts(cell, 2 * radix)
    return {c: (uniq[uniq // radix == c], counts[uniq // radix == c]) for c in (0, 1)}


def _shortfall(cand: _Candidates, radix: int, quotas: dict[int, int]) -> float:
    """How many times more candidates the emptiest cell needs (0 when every quota is met).

    Uses each cell's largest possible quota; a requested class with no cell yet gives inf.
    """
    worst = 0.0
    for cls, (cells, counts) in _class_cells(cand.cell, radix).items():
        q = quotas.get(cls, 0)
        if not q:
            continue
        if len(cells) == 0:
            return float("inf")
        need = -(-q // len(cells))
        if counts.min() < need:
            worst = max(worst, need / counts.min())
    return worst


def _keep_first(cell: np.ndarray, span: int, cap: int) -> np.ndarray | None:
    """Positions of the first ``cap`` rows of each cell in original order (None: keep all)."""
    order, _, start, count = _group(cell, span)
    if count.max(initial=0) <= cap:
        return None
    rank = np.arange(len(order)) - np.repeat(start, count)
    return np.sort(order[rank < cap])


def _pick(cell: np.ndarray, span: int, quota: dict[int, int], rng: np.random.Generator) -> np.ndarray:
    """Row positions filling each cell's quota (random order inside a cell, cycling when short)."""
    perm = rng.permutation(len(cell))
    order, uniq, start, count = _group(cell[perm], span)
    order = perm[order]
    q = np.array([quota.get(int(c), 0) for c in uniq], dtype=np.int64)
    which = np.repeat(np.arange(len(uniq)), q)
    rank = np.arange(int(q.sum())) - np.repeat(np.cumsum(q) - q, q)
    picks = order[start[which] + rank % count[which]]
    return picks[rng.permutation(len(picks))]


def _impossible(
    model: CausalModel, names: tuple[str, ...], cls: int, exact: bool, drawn: int, space: InputSpace
) -> DatasetError:
    what = "changes" if cls == 1 else "leaves unchanged"
    where = f"intervening on {', '.join(names)}"
    if exact:
        return DatasetError(
            f"{model.name}: no (base, source) pair over the {space.size:,} inputs {what} the output "
            f"{model.output!r} when {where}; ask for changed_fraction="
            f"{'0' if cls == 1 else '1'} or another variable"
        )
    return DatasetError(
        f"{model.name}: none of {drawn:,} sampled pairs {what} the output {model.output!r} when "
        f"{where}; the class may be rare rather than impossible: pass a pool small enough to "
        "enumerate, raise max_candidates, or find inputs with a solver"
    )


def balanced(
    hypothesis: Any,
    intervened: Intervened,
    n: int,
    seed: int | None = 0,
    *,
    changed_fraction: float | None = 0.5,
    balance_values: bool = True,
    pool: PoolLike = None,
    enumerate_limit: int = ENUMERATE_LIMIT,
    max_candidates: int = MAX_CANDIDATES,
) -> CounterfactualDataset:
    """``n`` pairs with ``round(n * changed_fraction)`` whose intervention changes the output.

    With ``balance_values``, each class (changed / unchanged) splits its rows
    equally among the values the intervened variables take on their sources
    (for several variables, among their joint values), over the values that
    occur in that class.  ``changed_fraction=None`` balances values only.
    See the module docstring for enumerated versus sampled candidates.
    Raises :class:`DatasetError` when a requested class has no pair.
    """
    model, names = resolve(hypothesis, intervened)
    seed = check_seed(model, seed)
    n = check_n(model, n)
    if changed_fraction is not None:
        f = float(changed_fraction)
        if not 0.0 <= f <= 1.0:
            raise DatasetError(
                f"{model.name}: changed_fraction must lie in [0, 1] or be None, got {changed_fraction!r}"
            )
        changed_fraction = f
    by_change = changed_fraction is not None
    radix = _value_radix(model, names, balance_values)
    rng = np.random.default_rng(seed)
    space = input_space(model, pool, rng)
    quotas = _class_quotas(n, changed_fraction)
    exact = pair_count(space, len(names)) <= enumerate_limit
    if exact:
        base, sources = all_pairs(model, names, space, enumerate_limit)
        cand = _candidates(model, names, base, sources, by_change, balance_values, radix)
        drawn = len(cand.cell)
    else:
        if max_candidates < 1:
            raise DatasetError(f"{model.name}: max_candidates must be at least 1, got {max_candidates}")
        cand, drawn, want, short = None, 0, max(2 * n, 65_536), float("inf")
        while drawn < max_candidates:
            # Rounds stay under max(2n, 2^20) rows so memory is bounded by about (cells + 2) * n rows.
            m = int(min(max(want, 65_536), max(2 * n, 1 << 20), max_candidates - drawn))
            base = space.draw(rng, m)
            sources = {v: space.draw(rng, m) for v in names}
            more = _candidates(model, names, base, sources, by_change, balance_values, radix)
            cand = more if cand is None else _Candidates.join(cand, more)
            keep = _keep_first(cand.cell, 2 * radix, max(n, 1))
            if keep is not None:
                cand = cand.take(keep)
            drawn += m
            short = _shortfall(cand, radix, quotas)
            if short == 0:
                break
            # Draw about what the emptiest cell still lacks (at least double when a class is unseen).
            want = drawn * (2.0 if short == float("inf") else short * 1.1 - 1.0)
        assert cand is not None
        if 0 < short < float("inf"):
            warnings.warn(
                f"{model.name}: after {drawn:,} sampled pairs, some (changed, value) cells of "
                f"{', '.join(names)} hold about {short:.1f}x fewer distinct pairs than their quota; "
                "their pairs repeat (raise max_candidates, or use a pool small enough to enumerate)",
                stacklevel=2,
            )
    by_class = _class_cells(cand.cell, radix)
    cell_quota: dict[int, int] = {}
    for cls, q in quotas.items():
        cells = by_class[cls][0]
        if q == 0:
            continue
        if len(cells) == 0:
            raise _impossible(model, names, cls, exact, drawn, space)
        each = np.full(len(cells), q // len(cells), dtype=np.int64)
        each[rng.choice(len(cells), q % len(cells), replace=False)] += 1
        cell_quota.update(zip(map(int, cells), map(int, each)))
    chosen = cand.take(_pick(cand.cell, 2 * radix, cell_quota, rng))
    return build(
        model,
        names,
        chosen.base,
        chosen.sources,
        "balanced",
        seed,
        computed=(chosen.expected, chosen.base_output),
    )
