"""Per-variable minimisation of a falsify counterexample, in one documented order.

A *pair* is an intervened variable set, a base row and one source row per
intervened variable; a row holds, per hypothesis input, the *position* of its
value in that input's domain (0 = the first value).  Pairs are ordered by

1. the intervened set: fewer variables first, then earlier variables (in the
   order falsify was given them: ``variables``, or the alignment's order);
2. the base row, input by input in the hypothesis' input order;
3. the source rows, in the order of the intervened set, each input by input.

:func:`minimize` starts from a failing pair and repeatedly replaces it by a
smaller failing pair one *move* away, until none fails.  A move

* drops one intervened variable (the others keep their sources);
* moves one value to an earlier value of its domain;
* moves one value to an earlier value and sets one later value (in the
  order above) to any other value of its domain.

A candidate whose base or a source violates the hypothesis' requirements on
its inputs (``ca.require``) never fails (falsify's ``fails`` says so without
running it), so the minimisation stays inside them.

The first two kinds are tried first; the third only when they find nothing.
Within a kind the candidates are replayed through ``fails`` (the network and
the hypothesis) in batches, in ascending order, and the first failure (the
smallest) is taken.  Each step makes the pair strictly smaller, so it ends,
and the result is *minimal variable by variable*: no smaller pair that
differs from it by one dropped variable, or in one or two values,
disagrees.  On the organisms and the planted defects of the tests that is
the smallest failing pair of the reported set (checked there by brute
force); a failure that needs three values to change at once can leave a
smaller failing pair unfound.  The intervened set is the one the search
found, less any variable that can be dropped: an earlier set of the same
size is not searched for.  Where the two-value moves of one step would
exceed ``TWO_VALUE_LIMIT`` candidates (large domains), that step moves two
equal values of inputs with the same domain size together instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np

__all__ = ["Pair", "minimize", "order_key"]

#: Candidates replayed per call (ascending; the first call with a failure ends the step).
CHUNK = 1024
#: Moves of two values are tried while a step has at most this many of them (see ``_double_moves``).
TWO_VALUE_LIMIT = 20_000


@attrs.frozen
class Pair:
    """One interchange: ``vs`` intervened (names), ``base`` and ``sources`` as domain positions."""

    vs: tuple[str, ...]
    base: tuple[int, ...]
    sources: tuple[tuple[int, ...], ...]

    def rows(self) -> list[tuple[int, ...]]:
        return [self.base, *self.sources]


#: ``fails(vs, base, sources) -> bool array``: ``base`` is (n, inputs), ``sources`` is (n, len(vs), inputs).
Fails = Callable[[tuple[str, ...], np.ndarray, np.ndarray], np.ndarray]


def order_key(pair: Pair, names: Sequence[str]) -> tuple[Any, ...]:
    """The sort key of the documented order (smaller = earlier)."""
    return (len(pair.vs), tuple(names.index(v) for v in pair.vs), pair.base, pair.sources)


def _with(pair: Pair, changes: dict[tuple[int, int], int]) -> Pair:
    rows = [list(r) for r in pair.rows()]
    for (r, i), v in changes.items():
        rows[r][i] = v
    return Pair(pair.vs, tuple(rows[0]), tuple(tuple(r) for r in rows[1:]))


def _single_moves(pair: Pair, names: Sequence[str]) -> Iterator[Pair]:
    """Drop one variable, or move one value to an earlier one: lazily, in ascending order."""
    if len(pair.vs) > 1:
        drops = [Pair(pair.vs[:j] + pair.vs[j + 1 :], pair.base, pair.sources[:j] + pair.sources[j + 1 :])
                 for j in range(len(pair.vs))]
        yield from sorted(drops, key=lambda p: order_key(p, names))  # a smaller set comes first
    for r, row in enumerate(pair.rows()):
        for i, v in enumerate(row):
            for lower in range(v):
                yield _with(pair, {(r, i): lower})


def _double_moves(pair: Pair, names: Sequence[str], radices: Sequence[int]) -> Iterator[Pair]:
    """Move one value to an earlier one and change one later value: lazily, in ascending order.

    The first changed value decides (earlier position, then lower value);
    the candidates sharing it are sorted.  Above ``TWO_VALUE_LIMIT`` of them,
    only two equal values of inputs with the same domain size, lowered together.
    """
    cells = [(r, i, v) for r, row in enumerate(pair.rows()) for i, v in enumerate(row)]
    later = [sum(radices[i] - 1 for _, i, _ in cells[a + 1 :]) for a in range(len(cells))]
    every = sum(v * n for (_, _, v), n in zip(cells, later)) <= TWO_VALUE_LIMIT
    for a, (r, i, v) in enumerate(cells):
        for lower in range(v):
            if every:
                group = [_with(pair, {(r, i): lower, (r2, i2): m})
                         for r2, i2, v2 in cells[a + 1 :] for m in range(radices[i2]) if m != v2]
            else:
                group = [_with(pair, {(r, i): lower, (r2, i2): lower}) for r2, i2, v2 in cells[a + 1 :]
                         if v2 == v and radices[i2] == radices[i]]
            yield from sorted(group, key=lambda p: order_key(p, names))


def minimize(
    pair: Pair,
    fails: Fails,
    names: Sequence[str],
    radices: Sequence[int],
    *,
    out_of_time: Callable[[], bool] = lambda: False,
) -> tuple[Pair, bool, int, int]:
    """Minimise a failing ``pair`` variable by variable (see the module docstring).

    ``names``: the variables in their documented order; ``radices``: each
    input's domain size.  ``out_of_time()`` is asked
    before every call; when it says so the current pair (still failing) is
    returned at once.  Returns ``(pair, stopped_early, calls, pairs_replayed)``.
    """
    calls = replayed = 0
    width = len(pair.base)

    def first_failing(moves: Iterator[Pair]) -> Pair | None:
        """The first candidate that fails, replaying ``CHUNK`` at a time; None if none does."""
        nonlocal calls, replayed
        while chunk := list(itertools.islice(moves, CHUNK)):
            bad: list[int] = []
            for vs in dict.fromkeys(p.vs for p in chunk):
                if out_of_time():
                    raise _OutOfTime
                at = [k for k, p in enumerate(chunk) if p.vs == vs]
                base = np.array([chunk[k].base for k in at], dtype=np.int64)
                src = np.array([chunk[k].sources for k in at], dtype=np.int64).reshape(len(at), len(vs), width)
                calls += 1
                replayed += len(at)
                hit = np.asarray(fails(vs, base, src), dtype=bool)
                bad += [at[k] for k in np.flatnonzero(hit)]
            if bad:
                return chunk[min(bad)]
        return None

    try:
        while True:
            # the cheap moves until none fails, then the two-value moves
            found = first_failing(_single_moves(pair, names))
            if found is None:
                found = first_failing(_double_moves(pair, names, radices))
            if found is None:
                return pair, False, calls, replayed
            pair = found
    except _OutOfTime:
        return pair, True, calls, replayed


class _OutOfTime(Exception):
    """``out_of_time()`` said so: stop with the pair so far."""
