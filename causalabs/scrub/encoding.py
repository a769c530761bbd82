"""Encoding a scrubbing table once: batches of its rows become index gathers of the encoded table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.network.network import Network, encode, take_rows
from causalabs.scm.semantics import batch_size as rows_in

Batch = dict[str, np.ndarray]

#: The column of a scrubbing batch that names its rows of the table.
ROW = "__scrub_row__"


def _take(batch: Mapping[str, np.ndarray], idx: np.ndarray) -> Batch:
    return {k: np.ascontiguousarray(v[idx]) for k, v in batch.items()}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return False


def encoded_once(network: Network, table: Batch) -> tuple[Network, Batch]:
    """A copy of ``network`` whose ``encode`` gathers rows of the table encoded once.

    Scrubbing draws every input from one table, so each row is encoded once
    and batches are index gathers.  The batch handed to the backend keeps
    the high-level columns (for position functions) plus a row-index
    column.  Used only if the encoder is row-wise (a slice encodes to the
    same bits as the slice of the whole); otherwise the network is returned
    unchanged.
    """
    n = rows_in(table)
    encoded = encode(network, table)
    probe = np.arange(min(n, 3))[::-1].copy()
    if n == 0 or not _same(encode(network, _take(table, probe)), take_rows(encoded, torch.as_tensor(probe, device=network.device))):
        return network, table
    device = network.device

    def gather(batch: Mapping[str, np.ndarray]) -> Any:
        return take_rows(encoded, torch.as_tensor(batch[ROW], device=device))

    if type(network) is Network:  # pin the device: ``Network.device`` walks the parameters on every call
        fast: Network = _Pinned(**attrs.asdict(network, recurse=False) | {"encode": gather}, pinned=device)
    else:
        fast = attrs.evolve(network, encode=gather)
    return fast, {**table, ROW: np.arange(n, dtype=np.int64)}


@attrs.frozen(eq=False)
class _Pinned(Network):
    """A network whose device is fixed when it is made (scrubbing runs on one device throughout)."""

    pinned: torch.device = attrs.field(kw_only=True)

    @property
    def device(self) -> torch.device:
        return self.pinned
