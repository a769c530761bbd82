"""The distinct inputs of a pair dataset: stacked, deduplicated and encoded once per evaluation.

:func:`~causalabs.engine.evaluate.evaluate_pairs` may try the position-local
path, then the prefix-cached path, then the full patched path; each needs
the union of bases and sources deduplicated, and the first two its encoding.
A :class:`DistinctInputs` computes the union once and encodes it at most
once, whichever paths are tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from causalabs.data.ops import row_ids
from causalabs.network.network import Network, encode

Batch = dict[str, np.ndarray]


def as_batch(rows: np.ndarray, names: Sequence[str]) -> Batch:
    """An ``(n, len(names))`` matrix as a batch, columns in ``names`` order."""
    return {k: np.ascontiguousarray(rows[:, j]) for j, k in enumerate(names)}


def _union(names: Sequence[str], parts: Sequence[Batch]) -> np.ndarray:
    """The batches' columns, each the batches' values one after another: ``(len(names), rows)``, the transpose
    of ``np.concatenate`` of :func:`~causalabs.data.ops.stack_rows` (one ``np.array`` per batch, since this
    runs on every engine call)."""
    return np.concatenate([np.array([np.asarray(p[k]) for k in names]) for p in parts], axis=1)


class DistinctInputs:
    """The distinct rows among ``base`` and ``sources`` (``row_ids`` order) and each pair's ids into them.

    ``ids[0, p]`` is pair ``p``'s base, ``ids[1 + i, p]`` its ``i``-th
    source.  :attr:`inputs` encodes the distinct rows, once, when first read.
    """

    def __init__(self, network: Network, base: Batch, sources: Sequence[Batch]) -> None:
        self.network = network
        self.names = list(base)
        self.n = len(next(iter(base.values())))
        columns = _union(self.names, [base, *sources])
        first, inverse = row_ids(columns.T)
        # column-major (fancy indexing along columns' second axis gives a Fortran-ordered array): each input's
        # column contiguous, so the batch encode gets needs no copy per column
        self.rows = np.ascontiguousarray(columns[:, first]).T
        self.ids = inverse.reshape(1 + len(sources), self.n)
        self._inputs: Any = None
        self._ids_t: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def batch(self, which: np.ndarray | slice | None = None) -> Batch:
        """The distinct rows ``which`` (all of them by default) as a batch."""
        return as_batch(self.rows if which is None else self.rows[which], self.names)

    @property
    def inputs(self) -> Any:
        """Every distinct row encoded (on the network's device), encoded on first use only."""
        if self._inputs is None:
            self._inputs = encode(self.network, self.batch())
        return self._inputs

    def ids_on(self, device: torch.device) -> torch.Tensor:
        """:attr:`ids` as a tensor on ``device``."""
        if self._ids_t is None or self._ids_t.device != device:
            self._ids_t = torch.as_tensor(self.ids, device=device)
        return self._ids_t

    def source_mask(self) -> np.ndarray:
        """Which distinct rows are some pair's source."""
        mark = np.zeros(len(self), dtype=bool)
        mark[self.ids[1:].ravel()] = True
        return mark

    def shares_nothing(self) -> bool:
        """No base repeats and no base is also a source: a prefix cache would save no pass."""
        bases = self.ids[0]
        if len(self) < self.n:  # fewer distinct rows than bases: some base repeats
            return False
        taken = np.zeros(len(self), dtype=bool)
        taken[bases] = True
        if int(taken.sum()) < self.n:
            return False
        return not bool(self.source_mask()[bases].any())

    def self_sourced(self) -> np.ndarray:
        """Pairs whose every source is the base input."""
        return (self.ids[1:] == self.ids[0]).all(axis=0)
