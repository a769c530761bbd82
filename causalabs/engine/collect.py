"""Recording site vectors for many inputs: in fixed-size passes, and once per distinct input."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from causalabs.backends import Collects
from causalabs.data.ops import row_ids
from causalabs.network.network import Network
from causalabs.network.sites import Site

Batch = dict[str, np.ndarray]

#: The most input rows one forward pass may take (None: as callers ask); set by :func:`rows_per_pass_at_most`.
_ROWS_PER_PASS: contextvars.ContextVar[int | None] = contextvars.ContextVar("rows_per_pass", default=None)


@contextlib.contextmanager
def rows_per_pass_at_most(limit: int | None) -> Iterator[None]:
    """Within the block, no recording or patched pass of the engine takes more than ``limit`` rows.

    Only the size of the passes changes (memory and pace), not which pairs
    run nor their results beyond the last bits of floating-point rounding.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"rows per pass must be at least 1, got {limit}")
    token = _ROWS_PER_PASS.set(limit)
    try:
        yield
    finally:
        _ROWS_PER_PASS.reset(token)


def rows_per_pass(batch_size: int) -> int:
    """``batch_size``, capped by the limit of :func:`rows_per_pass_at_most` if one is set."""
    limit = _ROWS_PER_PASS.get()
    return batch_size if limit is None else max(1, min(batch_size, limit))


def collect_batch(be: Collects, network: Network, batch: Batch, sites: Sequence[Site], batch_size: int) -> dict[Any, torch.Tensor]:
    """``be.collect`` over ``batch`` in passes of ``batch_size`` rows: each site location's vectors, in row order."""
    n = len(next(iter(batch.values())))
    batch_size = rows_per_pass(batch_size)
    store: dict[Any, list[torch.Tensor]] = {}
    for start in range(0, n, batch_size):
        chunk = {k: v[start : start + batch_size] for k, v in batch.items()}
        for key, t in be.collect(network, chunk, sites).items():
            store.setdefault(key, []).append(t)
    return {key: torch.cat(ts) for key, ts in store.items()}


def collect_distinct(
    be: Collects, network: Network, rows: np.ndarray, names: Sequence[str], sites: Sequence[Site], batch_size: int
) -> tuple[dict[Any, torch.Tensor], np.ndarray]:
    """The vectors of each distinct row of ``rows`` (columns in ``names`` order), and each row's distinct index.

    Distinct rows come in :func:`~causalabs.data.ops.row_ids` order (sorted)
    and run once each, ``batch_size`` per pass.
    """
    first, inverse = row_ids(rows)
    unique = rows[first]
    batch = {k: np.ascontiguousarray(unique[:, j]) for j, k in enumerate(names)}
    return collect_batch(be, network, batch, sites, batch_size), inverse
