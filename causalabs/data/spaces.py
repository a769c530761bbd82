"""Where bases and sources come from: the whole input space, or a finite pool of inputs.

An :class:`InputSpace` draws uniform random rows (``draw``), lists every row
(``rows``, for exhaustive work) and says how many distinct rows it has.
Real counterfactual datasets draw bases and sources from a pool (a finite
set of inputs); the engine then computes each distinct input once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Union

import attrs
import numpy as np

from causalabs.errors import DatasetError
from causalabs.scm import space as admissible
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import Batch, as_batch, batch_size, enumerate_inputs

#: ``pool=``: a batch of allowed inputs, the size of a seeded pool to draw, or None (whole space).
PoolLike = Union[None, int, Mapping[str, Any], np.ndarray]

_INT64_SAFE = 2**62


def take(batch: Batch, index: np.ndarray) -> Batch:
    """The rows ``index`` of a batch."""
    return {k: v[index] for k, v in batch.items()}


def unique_rows(model: CausalModel, batch: Batch) -> Batch:
    """The distinct rows of a batch, in order of first occurrence."""
    n = batch_size(batch)
    if n == 0:
        return batch
    table = np.stack([batch[k] for k in model.inputs], axis=1)
    _, first = np.unique(table, axis=0, return_index=True)
    return take(batch, np.sort(first))


@attrs.frozen(eq=False)
class InputSpace:
    """The inputs of ``model`` that bases and sources are drawn from.

    ``pool`` is None for the whole input space (every combination of the
    input domains), or a batch of distinct allowed inputs.
    """

    model: CausalModel
    pool: Batch | None = None

    @property
    def size(self) -> int:
        """Number of distinct inputs (a Python int: the whole space may exceed int64)."""
        return self.model.input_space_size if self.pool is None else batch_size(self.pool)

    def draw(self, rng: np.random.Generator, n: int) -> Batch:
        """``n`` rows drawn uniformly and independently (inputs in model order).

        From the whole space, only inputs satisfying the hypothesis'
        requirements (``ca.require``; drawn by rejection, see
        :func:`causalabs.scm.space.draw`).
        """
        if self.pool is not None:
            return take(self.pool, rng.integers(0, self.size, n))
        return admissible.draw(self.model, rng, n)

    def rows(self, *, limit: int) -> Batch:
        """Every distinct input (the pool, or the whole space in lexicographic order, less what requirements exclude)."""
        if self.pool is not None:
            return self.pool
        if self.size > limit:
            raise DatasetError(
                f"{self.model.name}: the input space has {self.size:,} inputs, more than the limit "
                f"{limit:,}; pass pool=... (a batch of inputs, or a pool size to draw)"
            )
        return enumerate_inputs(self.model, limit=limit)


def distinct_inputs(model: CausalModel, rng: np.random.Generator, size: int) -> Batch:
    """``size`` distinct inputs drawn uniformly without replacement from the whole space.

    With requirements (``ca.require``), from the inputs satisfying them.
    """
    total = model.input_space_size
    if size > total:
        raise DatasetError(
            f"{model.name}: a pool of {size:,} distinct inputs was asked for, but the input space "
            f"has only {total:,}"
        )
    if total <= _INT64_SAFE and (not model.constrained or admissible.count(model) is not None):
        flat = rng.choice(total, size=size, replace=False)
        return admissible.rows_at(model, flat)
    # Too many inputs to index by one int64 (or to count under requirements): draw rows in bulk,
    # keep the distinct ones.
    space = InputSpace(model)
    rows: Batch = {n: np.zeros(0, dtype=np.int64) for n in model.inputs}
    stalled = 0
    while batch_size(rows) < size:
        had = batch_size(rows)
        more = space.draw(rng, 2 * (size - had) + 16)
        rows = unique_rows(model, {k: np.concatenate([rows[k], more[k]]) for k in rows})
        stalled = 0 if batch_size(rows) > had else stalled + 1
        if stalled >= 32:  # only an uncounted space under requirements can hold fewer inputs than asked
            raise DatasetError(
                f"{model.name}: a pool of {size:,} distinct inputs was asked for, but 32 rounds of draws "
                f"found no input beyond {had:,}; its requirements may admit fewer"
            )
    return take(rows, np.arange(size))


def input_space(model: CausalModel, pool: PoolLike, rng: np.random.Generator | None) -> InputSpace:
    """Resolve a ``pool=`` argument (drawing a seeded pool from ``rng`` when it is a size)."""
    if pool is None:
        return InputSpace(model)
    if isinstance(pool, (int, np.integer)) and not isinstance(pool, bool):
        if pool < 1:
            raise DatasetError(f"{model.name}: pool size must be at least 1, got {pool}")
        if rng is None:
            raise DatasetError(f"{model.name}: a pool size needs a seed; pass a batch of inputs instead")
        return InputSpace(model, distinct_inputs(model, rng, int(pool)))
    batch = unique_rows(model, as_batch(model, pool))
    if batch_size(batch) == 0:
        raise DatasetError(f"{model.name}: the pool of inputs is empty")
    admissible.check_admissible(model, batch, "the pool of inputs")
    return InputSpace(model, {k: np.ascontiguousarray(v) for k, v in batch.items()})


def pair_count(space: InputSpace, k: int) -> int:
    """Number of (base, source_1, ..., source_k) tuples over a space."""
    return math.prod([space.size] * (1 + k))
