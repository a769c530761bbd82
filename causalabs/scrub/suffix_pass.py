"""The final scrubbing pass on cached prefixes: every distinct input's prefix once, each reference one suffix.

The last pass of :func:`~causalabs.scrub.resampling.scrubbed_outputs` runs
the top node's base input with the sites of the top's children patched.
Its bases are dataset rows, drawn again and again.  When those sites lie at
one module location with a checked suffix there (the rule of
:func:`~causalabs.engine.evaluate_pairs`, :mod:`causalabs.engine.prefixes`),
the whole tensor at that location is recorded once for every distinct
dataset input the first time it is drawn, and each batch of references
then runs only the layers after the location
(:meth:`~causalabs.backends.RunsSuffix.patch_suffix`).  Leaves of the
correspondence whose sites lie at that location read their vectors from the
same tensors instead of a recording pass.
Otherwise the full patched pass runs and the result's ``execution`` says why.

The recorded tensors must fit in ``memory`` bytes, and the network's
``encode`` must be row-wise (the table is then encoded once, see
:func:`~causalabs.scrub.encoding.encoded_once`), since a row's prefix is
recorded in another batch than the one its suffix runs in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from causalabs.backends import RunsSuffix
from causalabs.data.ops import row_ids, stack_rows
from causalabs.engine.prefixes import location
from causalabs.network.network import Network, encode
from causalabs.backends.native import select
from causalabs.network.sites import Site, positions_tensor, site
from causalabs.network.suffix import CHECK_ROWS, Suffix, checked_suffix
from causalabs.scrub.encoding import ROW
from causalabs.scrub.plan import ScrubPlan

Batch = dict[str, np.ndarray]


class FinalPass:
    """The tensor at the final pass's location for each distinct dataset input (recorded when first
    needed, once), and the suffix after the location."""

    def __init__(
        self, runner: RunsSuffix, suffix: Suffix, fast: Network, first: np.ndarray, distinct: np.ndarray, batch_size: int
    ) -> None:
        self.runner = runner
        self.suffix = suffix
        self.fast = fast
        self.first = first  # distinct input -> its first table row
        self.distinct = distinct  # dataset row -> its distinct input
        self.batch_size = batch_size
        self.whole = site(suffix.module, io=suffix.io)
        self.acts: torch.Tensor | None = None
        self.filled = np.zeros(len(first), dtype=bool)

    def covers(self, s: Site) -> bool:
        """Whether ``s`` lies at the cached location (its vectors are then read from the cache)."""
        return (s.module, s.io) == (self.suffix.module, self.suffix.io)

    def tensors(self, rows: np.ndarray) -> torch.Tensor:
        """The tensor at the location for dataset rows ``rows``; rows not seen before run their prefix now."""
        need = self.distinct[rows]
        new = np.unique(need[~self.filled[need]])
        for start in range(0, len(new), self.batch_size):
            part = new[start : start + self.batch_size]
            batch = {ROW: self.first[part]}
            h = self.runner.record(self.fast, batch, [self.whole], inputs=encode(self.fast, batch))[self.whole.location_key()]
            if self.acts is None:
                self.acts = h.new_empty((len(self.first), *h.shape[1:]))
            self.acts.index_copy_(0, torch.as_tensor(part, device=h.device), h)
            self.filled[part] = True
        assert self.acts is not None
        return self.acts.index_select(0, torch.as_tensor(need, device=self.acts.device))

    def vectors(self, network: Network, s: Site, batch: Batch, rows: np.ndarray) -> torch.Tensor:
        """What ``collect`` records at ``s`` (a site at the cached location) for dataset rows ``rows``."""
        x = self.tensors(rows)
        pos = positions_tensor(s, batch, len(rows), network)
        return x if pos is None else select(x, pos.to(x.device))

    def run(self, network: Network, base: Batch, rows: np.ndarray, patches: Sequence[tuple[Site, torch.Tensor]]) -> Any:
        """The raw output of the base (dataset rows ``rows``) with ``patches`` written, from the location on."""
        h = self.tensors(rows)
        return self.runner.patch_suffix(network, self.suffix, h, base, patches, inputs=encode(network, base))


def final_pass(
    network: Network,
    fast: Network,
    table: Batch,
    plan: ScrubPlan,
    n_data: int,
    runner: RunsSuffix,
    *,
    batch_size: int,
    memory: int,
) -> FinalPass | str:
    """The cached prefixes for the final pass, or the reason the full patched pass runs.

    ``fast``/``table``: the network and table of
    :func:`~causalabs.scrub.encoding.encoded_once` (``table`` holds its
    row-index column when the encoder is row-wise); the first ``n_data``
    rows of ``table`` are the dataset that bases are drawn from.
    """
    sites = [plan.site(c) for c in plan.nodes[0].children]
    if not sites:
        return "the final pass patches no site"
    place = location(sites)
    if place is None:
        return "the sites of the final pass lie at more than one module location"
    if ROW not in table:
        return "the network's encode is not row-wise, so a row's prefix would depend on its batch"
    names = [k for k in table if k != ROW]
    first, distinct = row_ids(stack_rows({k: table[k][:n_data] for k in names}, names))
    check = checked_suffix(network, *place, encode(fast, {ROW: first[:CHECK_ROWS]}))
    if check.suffix is None:
        return check.reason
    whole = site(place[0], io=place[1])
    one = {ROW: first[:1]}
    h = runner.record(fast, one, [whole], inputs=encode(fast, one))[whole.location_key()]
    if len(first) * max(1, h[0].numel() * h.element_size()) > memory:
        return "the dataset's tensors at the final pass's location would exceed the memory bound"
    return FinalPass(runner, check.suffix, fast, first, distinct, batch_size)
