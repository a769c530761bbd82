"""The input space of a hypothesis: the box of its input domains, less what its requirements exclude.

The *box* is every combination of the input domains, in lexicographic order
(the first input varies slowest); its size is a product, counted
arithmetically.  A hypothesis may declare requirements on its inputs
(``ca.require(sp.Ne(a, b))``): the *admissible* inputs are the rows of the
box that satisfy all of them, in the box's order.  Everything that draws or
lists inputs goes through this module, so a degenerate input excluded by a
requirement is never enumerated, drawn as a base or a source, or counted.

Without requirements every function here is the plain box (the same rows,
the same random stream as before requirements existed).  With them:

* the admissible inputs are counted once per hypothesis, in blocks of
  :data:`BLOCK` box rows (a prefix count per block, kept with the model), as
  long as the box holds at most :data:`COUNT_LIMIT` rows; the block table
  then maps the k-th admissible input to its box row without listing the
  others, so any range of them is built from its own blocks only;
* above that the count is unknown: :func:`size` gives the box size as an
  upper bound, enumeration is refused, and draws still work (by rejection);
* random rows are drawn by rejection: uniform rows of the box, keeping the
  admissible ones in order of drawing, which is uniform and independent
  over the admissible inputs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from causalabs.errors import BatchShapeError, DomainTooLargeError, EmptyInputSpaceError, InadmissibleInputError
from causalabs.scm.domains import values_at

if TYPE_CHECKING:
    from causalabs.scm.model import CausalModel

Batch = dict[str, np.ndarray]

#: Box rows per block of the prefix-count table.
BLOCK = 1 << 16
#: Admissible inputs are counted (and can be enumerated) when the box holds at most this many rows.
COUNT_LIMIT = 50_000_000
#: A requirement's rejection sampling gives up after this many box rows without one admissible row.
MAX_REJECTED = 10_000_000

__all__ = [
    "BLOCK",
    "COUNT_LIMIT",
    "admissible",
    "box_draw",
    "box_rows",
    "check_admissible",
    "count",
    "draw",
    "requirement_text",
    "rows",
    "rows_at",
    "size",
]


def box_size(model: CausalModel) -> int:
    """Every combination of the input domains (a Python int: it may exceed int64)."""
    return math.prod(len(model.variables[n].domain) for n in model.inputs)


def box_rows(model: CausalModel, start: int, stop: int) -> Batch:
    """Rows ``start..stop-1`` of the box, computed from their indices (memory ~ ``stop - start``)."""
    total = box_size(model)
    if not 0 <= start <= stop <= total:
        raise BatchShapeError(f"{model.name}: rows {start}..{stop} are outside the input space of {total:,} rows")
    domains = [model.variables[n].domain for n in model.inputs]
    if total < 2**63:
        digits = np.unravel_index(np.arange(start, stop, dtype=np.int64), tuple(len(d) for d in domains))
    else:  # mixed radix by hand, in Python integers
        index = list(range(start, stop))
        cols: list[list[int]] = []
        for d in reversed(domains):
            cols.append([i % len(d) for i in index])
            index = [i // len(d) for i in index]
        digits = tuple(np.asarray(c, dtype=np.int64) for c in reversed(cols))
    return {n: values_at(d, i) for n, d, i in zip(model.inputs, domains, digits)}


def box_draw(model: CausalModel, rng: np.random.Generator, n: int) -> Batch:
    """``n`` rows drawn uniformly and independently from the box, input by input in model order."""
    out: Batch = {}
    for name in model.inputs:
        var = model.variables[name]
        if var.contiguous:  # same stream as domain[rng.integers(0, len)], without the gather
            out[name] = rng.integers(var.domain[0], var.domain[-1] + 1, n, dtype=np.int64)
        else:
            out[name] = values_at(var.domain, rng.integers(0, len(var.domain), n))
    return out


def admissible(model: CausalModel, batch: Batch) -> np.ndarray:
    """A boolean mask over the rows of ``batch`` (input columns): which satisfy every requirement."""
    n = len(next(iter(batch.values()))) if batch else 0
    if model.admit is None:
        return np.ones(n, dtype=bool)
    if n == 0:
        return np.zeros(0, dtype=bool)
    got = np.asarray(model.admit(*(np.asarray(batch[k], dtype=np.int64) for k in model.inputs)))
    return np.broadcast_to(got != 0, (n,)).copy()


def requirement_text(model: CausalModel) -> str:
    """The requirements as one line (``Ne(a, b)``, joined by ``and``); empty without requirements."""
    import sympy as sp

    return " and ".join(sp.sstr(r) for r in model.requires)


def _take(batch: Batch, index: np.ndarray) -> Batch:
    return {k: v[index] for k, v in batch.items()}


def _blocks(model: CausalModel) -> np.ndarray | None:
    """Cumulative admissible counts at the end of each block of the box (None: box above COUNT_LIMIT)."""
    cache = model.cache
    if "blocks" not in cache:
        total = box_size(model)
        if total > COUNT_LIMIT:
            cache["blocks"] = None
        else:
            per = np.zeros(-(-total // BLOCK), dtype=np.int64)
            step = 16 * BLOCK
            for start in range(0, total, step):
                stop = min(total, start + step)
                mask = admissible(model, box_rows(model, start, stop))
                per[start // BLOCK : -(-stop // BLOCK)] = np.add.reduceat(mask.astype(np.int64), np.arange(0, stop - start, BLOCK))
            cum = np.cumsum(per)
            if cum[-1] == 0:
                raise EmptyInputSpaceError(
                    f"{model.name}: no input satisfies its requirements ({requirement_text(model)}) "
                    f"among all {total:,} combinations of the input domains"
                )
            cache["blocks"] = cum
    return cache["blocks"]


def count(model: CausalModel) -> int | None:
    """The exact number of admissible inputs; None when requirements exist and the box exceeds :data:`COUNT_LIMIT`."""
    if model.admit is None:
        return box_size(model)
    cum = _blocks(model)
    return None if cum is None else int(cum[-1])


def size(model: CausalModel) -> int:
    """The number of admissible inputs, or the box size (an upper bound) where they cannot be counted."""
    c = count(model)
    return box_size(model) if c is None else c


def _counted(model: CausalModel, what: str) -> np.ndarray:
    cum = _blocks(model)
    if cum is None:
        raise DomainTooLargeError(
            f"{model.name}: {what} needs the inputs satisfying its requirements counted, but the input "
            f"domains combine to {box_size(model):,} rows, more than the limit {COUNT_LIMIT:,}"
        )
    return cum


def _block_rows(model: CausalModel, lo: int, hi: int) -> Batch:
    """The admissible rows of blocks ``lo..hi-1``, in box order."""
    batch = box_rows(model, lo * BLOCK, min(hi * BLOCK, box_size(model)))
    return _take(batch, np.flatnonzero(admissible(model, batch)))


def rows(model: CausalModel, start: int, stop: int) -> Batch:
    """Admissible inputs ``start..stop-1`` in box order, built from the blocks that hold them."""
    if model.admit is None:
        return box_rows(model, start, stop)
    cum = _counted(model, "listing inputs")
    total = int(cum[-1])
    if not 0 <= start <= stop <= total:
        raise BatchShapeError(f"{model.name}: rows {start}..{stop} are outside the {total:,} admissible inputs")
    if start == stop:
        return {n: np.zeros(0, dtype=np.int64) for n in model.inputs}
    b0 = int(np.searchsorted(cum, start, side="right"))
    b1 = int(np.searchsorted(cum, stop, side="left"))
    before = int(cum[b0 - 1]) if b0 else 0
    batch = _block_rows(model, b0, b1 + 1)
    return {k: v[start - before : stop - before] for k, v in batch.items()}


def rows_at(model: CausalModel, index: np.ndarray) -> Batch:
    """The admissible inputs at positions ``index`` (any order, repeats allowed) of :func:`rows`' order."""
    idx = np.asarray(index, dtype=np.int64)
    if model.admit is None:
        digits = np.unravel_index(idx, tuple(len(model.variables[n].domain) for n in model.inputs))
        return {n: values_at(model.variables[n].domain, d) for n, d in zip(model.inputs, digits)}
    cum = _counted(model, "indexing inputs")
    if idx.size and (idx.min() < 0 or idx.max() >= cum[-1]):
        raise BatchShapeError(f"{model.name}: an index is outside the {int(cum[-1]):,} admissible inputs")
    block = np.searchsorted(cum, idx, side="right")
    out = {n: np.zeros(len(idx), dtype=np.int64) for n in model.inputs}
    for b in np.unique(block):
        at = np.flatnonzero(block == b)
        local = idx[at] - (int(cum[b - 1]) if b else 0)
        batch = _block_rows(model, int(b), int(b) + 1)
        for k in out:
            out[k][at] = batch[k][local]
    return out


def draw(model: CausalModel, rng: np.random.Generator, n: int) -> Batch:
    """``n`` admissible inputs drawn uniformly and independently (box rows drawn by rejection).

    Without requirements this is :func:`box_draw` itself, the same stream.
    With them, rounds of box rows are drawn (sized by the known or observed
    acceptance rate) and the admissible ones kept in order of drawing.
    """
    if model.admit is None:
        return box_draw(model, rng, n)
    c, total = count(model), box_size(model)
    rate = c / total if c is not None else 0.5
    parts: list[Batch] = []
    got = tried = 0
    while got < n:
        m = int(min(max(64, (n - got) / max(rate, 1e-4) * 1.1 + 16), 1 << 22))
        batch = box_draw(model, rng, m)
        keep = np.flatnonzero(admissible(model, batch))
        parts.append(_take(batch, keep))
        got += len(keep)
        tried += m
        if got == 0 and tried >= MAX_REJECTED:
            raise EmptyInputSpaceError(
                f"{model.name}: none of {tried:,} inputs drawn uniformly satisfied its requirements "
                f"({requirement_text(model)}); they leave no input, or too few to draw by rejection"
            )
        rate = max(got / tried, 1e-4)
    if not parts:
        return {k: np.zeros(0, dtype=np.int64) for k in model.inputs}
    return {k: np.concatenate([p[k] for p in parts])[:n] for k in model.inputs}


def check_admissible(model: CausalModel, batch: Batch, what: str) -> None:
    """Raise :class:`~causalabs.errors.InadmissibleInputError` naming the first row of ``batch`` that violates a requirement."""
    if model.admit is None:
        return
    bad = np.flatnonzero(~admissible(model, batch))
    if bad.size:
        i = int(bad[0])
        row = ", ".join(f"{k}={int(batch[k][i])}" for k in model.inputs)
        raise InadmissibleInputError(
            f"{model.name}: {what} holds {bad.size:,} inputs that violate its requirement "
            f"{requirement_text(model)}, the first ({row}) at row {i}; drop them (causalabs.scm.space.admissible "
            "gives the mask)"
        )
