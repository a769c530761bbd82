"""Scrubbing passes on cached prefixes: every distinct input's prefix once, each pass only a suffix.

The bases of every scrubbing pass are dataset rows, drawn again and again.
A :class:`PrefixCache` holds, for each distinct dataset input, the whole
tensor at a few module locations; an input's tensors at every cached
location are recorded in one forward pass (stopped after the deepest
location) the first time any pass draws it, so the layers before each
location run once per distinct input for the whole call.

The final pass of :func:`~causalabs.scrub.resampling.scrubbed_outputs` runs
the top node's base input with the sites of the top's children patched.
When those sites lie at one module location with a checked suffix there
(the rule of :func:`~causalabs.engine.evaluate_pairs`,
:mod:`causalabs.engine.prefixes`), that location is cached and each batch
of references runs only the layers after it
(:meth:`~causalabs.backends.RunsSuffix.patch_suffix`): a :class:`FinalPass`.
Inner levels do the same at their children's location
(:mod:`causalabs.scrub.suffix_levels`).  Leaves of the correspondence whose
sites lie at a cached location read their vectors from the cache instead of
a recording pass.  Otherwise the full patched pass runs and the result's
``execution`` says why.

The recorded tensors of all cached locations together must fit in
``memory`` bytes, and the network's ``encode`` must be row-wise (the table
is then encoded once, see :func:`~causalabs.scrub.encoding.encoded_once`),
since a row's prefix is recorded in another batch than the one its suffix
runs in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from causalabs.backends import RunsSuffix
from causalabs.backends.locations import select
from causalabs.data.ops import row_ids, stack_rows
from causalabs.engine.prefixes import location
from causalabs.network.network import Network, encode
from causalabs.network.sites import Site, positions_tensor, site
from causalabs.network.suffix import CHECK_ROWS, Suffix, checked_suffix
from causalabs.scrub.encoding import ROW

Batch = dict[str, np.ndarray]
Place = tuple[str, str]

#: Why no pass runs on cached prefixes when the encoder is not row-wise.
NOT_ROW_WISE = "the network's encode is not row-wise, so a row's prefix would depend on its batch"


class PrefixCache:
    """The whole tensor at each cached location for every distinct dataset input, recorded when first needed.

    ``first``: distinct input -> its first table row; ``distinct``: dataset
    row -> its distinct input.  :meth:`add` registers a location (before
    anything is recorded); :meth:`tensors` reads one.  ``recorded`` counts
    the distinct inputs whose prefix has run.
    """

    def __init__(self, runner: RunsSuffix, fast: Network, first: np.ndarray, distinct: np.ndarray, batch_size: int) -> None:
        self.runner = runner
        self.fast = fast
        self.first = first
        self.distinct = distinct
        self.batch_size = batch_size
        self.wholes: dict[Place, Site] = {}
        self.per_row: dict[Place, int] = {}
        self.acts: dict[Place, torch.Tensor] = {}
        self.filled = np.zeros(len(first), dtype=bool)

    @property
    def recorded(self) -> int:
        return int(self.filled.sum())

    def row_bytes(self, place: Place) -> int:
        """Bytes one distinct input's tensor at ``place`` takes (one row recorded to measure it)."""
        if place not in self.per_row:
            whole = site(place[0], io=place[1])
            one = {ROW: self.first[:1]}
            h = self.runner.record(self.fast, one, [whole], inputs=encode(self.fast, one))[whole.location_key()]
            self.per_row[place] = max(1, h[0].numel() * h.element_size())
        return self.per_row[place]

    def bytes(self, places: Sequence[Place]) -> int:
        """Bytes the tensors of every distinct input at ``places`` take."""
        return len(self.first) * sum(self.row_bytes(p) for p in places)

    def add(self, place: Place) -> None:
        if self.filled.any():
            raise RuntimeError("PrefixCache.add: a location was added after recording began")
        self.wholes.setdefault(place, site(place[0], io=place[1]))

    def covers(self, s: Site) -> bool:
        """Whether ``s`` lies at a cached location (its vectors are then read from the cache)."""
        return (s.module, s.io) in self.wholes

    def tensors(self, place: Place, rows: np.ndarray) -> torch.Tensor:
        """The tensor at ``place`` for dataset rows ``rows``; rows not seen before run their prefix now."""
        need = self.distinct[rows]
        new = np.unique(need[~self.filled[need]])
        wholes = list(self.wholes.items())
        for start in range(0, len(new), self.batch_size):
            part = new[start : start + self.batch_size]
            batch = {ROW: self.first[part]}
            got = self.runner.record(self.fast, batch, [w for _, w in wholes], inputs=encode(self.fast, batch))
            for p, w in wholes:
                h = got[w.location_key()]
                if p not in self.acts:
                    self.acts[p] = h.new_empty((len(self.first), *h.shape[1:]))
                self.acts[p].index_copy_(0, torch.as_tensor(part, device=h.device), h)
            self.filled[part] = True
        acts = self.acts[place]
        return acts.index_select(0, torch.as_tensor(need, device=acts.device))

    def vectors(self, network: Network, s: Site, batch: Batch, rows: np.ndarray) -> torch.Tensor:
        """What ``collect`` records at ``s`` (a site at a cached location) for dataset rows ``rows``."""
        x = self.tensors((s.module, s.io), rows)
        pos = positions_tensor(s, batch, len(rows), network)
        return x if pos is None else select(x, pos.to(x.device))


def prefix_cache(fast: Network, table: Batch, n_data: int, runner: RunsSuffix, batch_size: int) -> PrefixCache | str:
    """An empty cache over the first ``n_data`` rows of ``table``, or why none can be kept."""
    if ROW not in table:
        return NOT_ROW_WISE
    names = [k for k in table if k != ROW]
    first, distinct = row_ids(stack_rows({k: table[k][:n_data] for k in names}, names))
    return PrefixCache(runner, fast, first, distinct, batch_size)


def suffix_at(network: Network, cache: PrefixCache, sites: Sequence[Site], what: str) -> tuple[Place, Suffix] | str:
    """The one location of ``sites`` and its checked suffix, or why a pass patching them runs in full."""
    if not sites:
        return f"{what} patches no site"
    place = location(sites)
    if place is None:
        return f"the sites of {what} lie at more than one module location"
    check = checked_suffix(network, *place, encode(cache.fast, {ROW: cache.first[:CHECK_ROWS]}))
    if check.suffix is None:
        return check.reason
    return place, check.suffix


class FinalPass:
    """The final pass from its sites' cached location onward."""

    def __init__(self, cache: PrefixCache, suffix: Suffix) -> None:
        self.cache = cache
        self.suffix = suffix
        self.place: Place = (suffix.module, suffix.io)

    def covers(self, s: Site) -> bool:
        return self.cache.covers(s)

    def vectors(self, network: Network, s: Site, batch: Batch, rows: np.ndarray) -> torch.Tensor:
        return self.cache.vectors(network, s, batch, rows)

    def run(self, network: Network, base: Batch, rows: np.ndarray, patches: Sequence[tuple[Site, torch.Tensor]]) -> Any:
        """The raw output of the base (dataset rows ``rows``) with ``patches`` written, from the location on."""
        h = self.cache.tensors(self.place, rows)
        return self.cache.runner.patch_suffix(network, self.suffix, h, base, patches, inputs=encode(network, base))


def final_pass(
    network: Network,
    cache: PrefixCache,
    sites: Sequence[Site],
    memory: int,
) -> FinalPass | str:
    """The final pass (patching ``sites``) on ``cache``, its location added; or the reason the full pass runs.

    ``memory`` bounds the bytes of every location cached so far plus this one.
    """
    found = suffix_at(network, cache, sites, "the final pass")
    if isinstance(found, str):
        return found
    place, suffix = found
    if cache.bytes([*cache.wholes, place] if place not in cache.wholes else list(cache.wholes)) > memory:
        return "the dataset's tensors at the final pass's location would exceed the memory bound"
    cache.add(place)
    return FinalPass(cache, suffix)
