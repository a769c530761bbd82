"""Random and exhaustive counterfactual datasets.

Every generator takes a hypothesis class (or its :class:`CausalModel`), the
intervened variables (names or class-attribute symbols; one or several, each
with its own source) and, where random, a seed for ``numpy.random.default_rng``.
Expected outputs come from :func:`causalabs.interchange`, base outputs from
:func:`causalabs.run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np
import sympy as sp

from causalabs.data.dataset import CounterfactualDataset
from causalabs.data.spaces import InputSpace, PoolLike, input_space, pair_count, take
from causalabs.errors import DatasetError
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import Batch, interchange, model_of, run, var_name

VarRef = Union[str, sp.Symbol]
Intervened = Union[VarRef, Sequence[VarRef]]

#: ``exhaustive_pairs`` refuses more (base, sources) rows than this unless given a larger limit.
MAX_PAIRS = 4_000_000


def resolve(hypothesis: Any, intervened: Intervened) -> tuple[CausalModel, tuple[str, ...]]:
    """The model and the intervened variable names, in model order, checked."""
    model = model_of(hypothesis)
    refs = [intervened] if isinstance(intervened, (str, sp.Symbol)) else list(intervened)
    if not refs:
        raise DatasetError(f"{model.name}: give at least one variable to intervene on")
    names = [var_name(model, r) for r in refs]
    if len(set(names)) != len(names):
        raise DatasetError(f"{model.name}: a variable is listed twice in intervened={names}")
    order = {n: i for i, n in enumerate(model.variables)}
    return model, tuple(sorted(names, key=order.__getitem__))


def check_seed(model: CausalModel, seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"{model.name}: seed must be a non-negative int or None, got {seed!r}")
    return int(seed)


def check_n(model: CausalModel, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise DatasetError(f"{model.name}: n must be a non-negative int, got {n!r}")
    return int(n)


def evaluate(model: CausalModel, base: Batch, sources: dict[str, Batch]) -> tuple[np.ndarray, np.ndarray]:
    """(expected, base_output) of the model's output for these pairs."""
    out = model.output
    expected = interchange(model, base, sources)[out]
    base_output = run(model, base)[out]
    return expected, base_output


def build(
    model: CausalModel,
    names: tuple[str, ...],
    base: Batch,
    sources: dict[str, Batch],
    mode: str,
    seed: int | None,
    computed: tuple[np.ndarray, np.ndarray] | None = None,
) -> CounterfactualDataset:
    expected, base_output = computed if computed is not None else evaluate(model, base, sources)
    return CounterfactualDataset(
        model.name, base, {v: sources[v] for v in names}, names, expected, base_output, mode, seed
    )


def random_pairs(
    hypothesis: Any,
    intervened: Intervened,
    n: int,
    seed: int | None = 0,
    *,
    pool: PoolLike = None,
) -> CounterfactualDataset:
    """``n`` random (base, sources) rows, uniform over the inputs.

    Bases and each intervened variable's source are drawn independently and
    uniformly from the whole input space, or from ``pool``: a batch of
    allowed inputs (duplicates dropped), or an int, the size of a pool of
    distinct inputs drawn first from the same seeded generator.  Draw order
    (for bit-for-bit reproducibility): pool, bases, then sources in model
    order.
    """
    model, names = resolve(hypothesis, intervened)
    seed = check_seed(model, seed)
    n = check_n(model, n)
    rng = np.random.default_rng(seed)
    space = input_space(model, pool, rng)
    base = space.draw(rng, n)
    sources = {v: space.draw(rng, n) for v in names}
    return build(model, names, base, sources, "random", seed)


def pair_indices(size: int, k: int) -> list[np.ndarray]:
    """Row indices of every (base, source_1..k) tuple over ``size`` inputs, base slowest."""
    total = size ** (1 + k)
    out = []
    for axis in range(1 + k):
        inner = size ** (k - axis)
        out.append(np.tile(np.repeat(np.arange(size, dtype=np.int64), inner), total // (inner * size)))
    return out


def all_pairs(
    model: CausalModel, names: tuple[str, ...], space: InputSpace, limit: int
) -> tuple[Batch, dict[str, Batch]]:
    """Every (base, sources) tuple over ``space``; DatasetError above ``limit`` rows."""
    count = pair_count(space, len(names))
    if count > limit:
        raise DatasetError(
            f"{model.name}: every (base, source) pair for intervened={list(names)} is "
            f"{space.size:,}^{1 + len(names)} = {count:,} rows, more than the limit {limit:,}; "
            "use random_pairs or balanced, pass a smaller pool=, or raise limit="
        )
    rows = space.rows(limit=limit)
    idx = pair_indices(space.size, len(names))
    return take(rows, idx[0]), {v: take(rows, i) for v, i in zip(names, idx[1:])}


def exhaustive_pairs(
    hypothesis: Any,
    intervened: Intervened,
    *,
    pool: PoolLike = None,
    limit: int = MAX_PAIRS,
) -> CounterfactualDataset:
    """Every (base, source per variable) tuple over the finite input space (or ``pool``).

    With N inputs and k intervened variables there are N ** (1 + k) rows,
    each tuple exactly once, base varying slowest, then each variable's
    source in model order; inputs in lexicographic order of the domains (or
    pool order).  Raises :class:`DatasetError` above ``limit`` rows.  ``pool``
    must be a batch here (an int pool size would need a seed).
    """
    model, names = resolve(hypothesis, intervened)
    if isinstance(pool, (int, np.integer)) and not isinstance(pool, bool):
        raise DatasetError(
            f"{model.name}: exhaustive_pairs takes a batch of inputs as pool=, not a size; "
            "draw one with random_pairs(..., pool=size) or causalabs.data.distinct_inputs"
        )
    space = input_space(model, pool, None)
    base, sources = all_pairs(model, names, space, limit)
    return build(model, names, base, sources, "exhaustive", None)
