"""Vectorised sampling of agreeing inputs: group the dataset once, then index with seeded offsets.

:class:`AgreeingSampler` holds a table of rows (the dataset's inputs first,
then any reference inputs) with the value of every hypothesis variable on
each row.  For a *key* (a tuple of variables) it sorts the dataset rows by
their key values once and gives every table row its group id; drawing, for
a batch of context rows, one dataset row that agrees with each context on
the key is then two gathers and one ``rng.random`` call scaled by the
group sizes -- no Python loop per example.  A context whose key value no dataset row has is never matched to
a row of another value: :meth:`AgreeingSampler.missing` reports it and
:meth:`AgreeingSampler.sample` raises.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from causalabs.errors import UnmatchedValueError
from causalabs.scm.model import CausalModel
from causalabs.scm.space import check_admissible

Batch = dict[str, np.ndarray]


@attrs.frozen(eq=False)
class _Groups:
    group: np.ndarray  # group id of every table row (-1: no dataset row has its key value)
    starts: np.ndarray  # where each group begins in ``order``
    counts: np.ndarray  # dataset rows per group
    order: np.ndarray  # dataset row indices sorted by key code (stable)
    row_start: np.ndarray  # per table row: where its group begins in ``order`` (0 if none)
    row_count: np.ndarray  # per table row: its group's size (0: no dataset row has its key value)


class AgreeingSampler:
    """Draw dataset rows that agree with given rows on given variables.

    ``values`` holds every variable's value on ``n_data + n_extra`` rows;
    the first ``n_data`` rows are the dataset that samples come from, the
    rest (references) may only serve as contexts.
    """

    def __init__(self, model: CausalModel, values: Batch, n_data: int) -> None:
        if n_data <= 0:
            raise UnmatchedValueError(f"{model.name}: the scrubbing dataset is empty")
        # only inputs satisfying the hypothesis' requirements (ca.require) may be drawn
        check_admissible(model, {k: values[k][:n_data] for k in model.inputs}, "the scrubbing dataset")
        self.model = model
        self.values = values
        self.n_data = int(n_data)
        self._cache: dict[tuple[str, ...], _Groups] = {}

    def _groups(self, key: tuple[str, ...]) -> _Groups:
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        n_rows = len(next(iter(self.values.values())))
        code = np.zeros(n_rows, dtype=np.int64)
        for name in key:  # mixed radix over domain positions: one int per key value
            size = len(self.model.variables[name].domain)
            code = code * size + self.model.domain_index(name, self.values[name])
        data = code[: self.n_data]
        order = np.argsort(data, kind="stable")
        codes, starts, counts = np.unique(data[order], return_index=True, return_counts=True)
        pos = np.minimum(np.searchsorted(codes, code), len(codes) - 1)
        group = np.where(codes[pos] == code, pos, -1)
        found = group >= 0
        row_start = np.where(found, starts[np.maximum(group, 0)], 0).astype(np.int64)
        row_count = np.where(found, counts[np.maximum(group, 0)], 0).astype(np.int64)
        out = _Groups(group, starts, counts, order, row_start, row_count)
        self._cache[key] = out
        return out

    def missing(self, key: Sequence[str], context: np.ndarray) -> np.ndarray:
        """Bool mask over ``context``: True where no dataset row shares the context's key value."""
        return self._groups(tuple(key)).group[np.asarray(context)] < 0

    def sample(self, key: Sequence[str], context: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """For each context row, a uniformly drawn dataset row agreeing with it on ``key``.

        An empty key means no constraint (uniform over the dataset).  Raises
        :class:`~causalabs.errors.UnmatchedValueError` if some context's key
        value has no agreeing dataset row.
        """
        key = tuple(key)
        context = np.asarray(context, dtype=np.int64)
        if not key:  # no constraint: uniform over the dataset
            return (rng.random(len(context)) * self.n_data).astype(np.int64)
        groups = self._groups(key)
        counts = groups.row_count[context]
        if not counts.all():
            miss = counts == 0
            bad = int(miss.sum())
            first = int(context[miss][0])
            shown = ", ".join(f"{k}={int(self.values[k][first])}" for k in key)
            raise UnmatchedValueError(
                f"{self.model.name}: no dataset input agrees on ({shown}) for {bad} of {len(context)} "
                f"context rows (key {', '.join(key)})"
            )
        r = rng.random(len(context))
        r *= counts
        offsets = r.astype(np.int64)
        np.minimum(offsets, counts - 1, out=offsets)
        offsets += groups.row_start[context]
        return groups.order[offsets]
