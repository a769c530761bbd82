"""Scrubbing's inner passes: one patched pass per height, in full or from a cached location onward.

All tree nodes of one height share one pass (:func:`record_level`): their
bases stacked, each node's rows patched with its own children's values,
each node's value read at its own site, the pass stopped once all are read.
A site every node of the level patches is written over all rows; a site
only some nodes patch is written on their rows alone, so the other rows
keep their own values exactly.

When every child site the level patches lies at one module location ``L``
with a checked suffix, the level runs on cached prefixes
(:class:`LevelPass`): the bases' whole tensors at ``L`` come from the
:class:`~causalabs.scrub.suffix_pass.PrefixCache` (each distinct dataset
input's prefix runs once per ``scrub`` call), the children's values are
written into them in the same order as the full pass writes them (rows
patched by only some nodes first, then the sites every node patches), and
only the suffix after ``L`` runs, with the nodes' sites recorded and the
pass stopped after the last of them: a level pays the layers between ``L``
and its last site.  :func:`scrub_prefixes` decides, per pass, which path
runs and says why in :attr:`ScrubPrefixes.execution`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.backends import RunsSuffix
from causalabs.backends.hooks import StopForward, edit_hooks
from causalabs.backends.locations import pos_bounds, select, write_patches
from causalabs.backends.native import NativeBackend
from causalabs.errors import ScrubError
from causalabs.network.network import Network, encode
from causalabs.network.sites import Site, check_disjoint, positions_tensor, resolve_module
from causalabs.network.suffix import Suffix
from causalabs.scrub.plan import ScrubPlan
from causalabs.scrub.suffix_pass import FinalPass, Place, PrefixCache, final_pass, prefix_cache, suffix_at

Batch = dict[str, np.ndarray]
Partial = tuple[Site, torch.Tensor, "torch.Tensor | None", torch.Tensor]
Wanted = dict[tuple[str, str], list[tuple[int, Site, "torch.Tensor | None"]]]


def _write_rows(
    x: torch.Tensor, s: Site, rows: torch.Tensor, pos: torch.Tensor | None, src: torch.Tensor
) -> torch.Tensor:
    """``x`` with ``s``'s subspace on rows ``rows`` taken from ``src`` (other rows untouched, out of place):
    :func:`~causalabs.backends.locations.write_patches` on those rows."""
    part = write_patches(x.index_select(0, rows), [(s, pos, pos_bounds(s, pos), src)], None)
    return x.index_copy(0, rows, part)


@attrs.frozen
class _Level:
    """What one level's pass writes (``patches`` over all rows, ``partial`` on some rows) and reads (``wanted``)."""

    patches: list[tuple[Site, torch.Tensor]]
    partial: list[Partial]
    wanted: Wanted


def _prepare(
    network: Network, plan: ScrubPlan, level: Sequence[int], base: Batch, values: dict[int, torch.Tensor], b: int
) -> _Level:
    nodes = plan.nodes
    n = len(level) * b
    device = network.device
    # per site (copies of a shared node share its Site object): for each level slot, its child
    by_site: dict[Site, dict[int, int]] = {}
    for j, i in enumerate(level):
        for c in nodes[i].children:
            by_site.setdefault(plan.site(c), {})[j] = c
    patches: list[tuple[Site, torch.Tensor]] = []
    partial: list[Partial] = []
    for s, kids in by_site.items():
        if len(kids) == len(level):  # every node patches it: one source tensor over all rows
            srcs = [values[kids[j]] for j in range(len(level))]
            patches.append((s, srcs[0] if len(srcs) == 1 else torch.cat(srcs)))
        else:
            slots = sorted(kids)
            rows = torch.cat([torch.arange(j * b, (j + 1) * b) for j in slots]).to(device)
            pos = positions_tensor(s, base, n)
            pos = None if pos is None else pos.to(device).index_select(0, rows)
            partial.append((s, rows, pos, torch.cat([values[kids[j]] for j in slots])))
    if partial:  # each node's own children must not overlap (other rows' sites may)
        for i in level:
            check_disjoint([plan.site(c) for c in nodes[i].children])
    # recording: per (module, io), the level slots whose site is there
    wanted: Wanted = {}
    for j, i in enumerate(level):
        s = plan.site(i)
        pos = positions_tensor(s, {k: v[j * b : (j + 1) * b] for k, v in base.items()}, b)
        wanted.setdefault((s.module, s.io), []).append((j, s, None if pos is None else pos.to(device)))
    return _Level(patches, partial, wanted)


def _record_edits(network: Network, lv: _Level, got: dict[int, torch.Tensor], count: int, b: int) -> list[Any]:
    """Hooks reading each node's vector at its own site on its own rows, stopping the pass after the last."""
    edits = []
    for (path, io), items in lv.wanted.items():
        module = resolve_module(network.module, path, network=network.name)

        def record(x: torch.Tensor, items: list[Any] = items) -> torch.Tensor:
            d = x.detach()
            for j, _, pos in items:
                part = d[j * b : (j + 1) * b]
                got[j] = select(part, pos) if pos is not None else part.clone()
            if len(got) == count:
                raise StopForward
            return x

        edits.append((module, io, f"{path}.{io}", record))
    return edits


def _store(plan: ScrubPlan, level: Sequence[int], got: dict[int, torch.Tensor], values: dict[int, torch.Tensor], network: Network) -> None:
    for j, i in enumerate(level):
        if j not in got:
            raise ScrubError(f"site {plan.site(i).name}: the module never ran in {network.name}'s forward pass")
        values[i] = got[j]


def record_level(
    backend: NativeBackend,
    network: Network,
    plan: ScrubPlan,
    level: Sequence[int],
    base: Batch,
    values: dict[int, torch.Tensor],
    b: int,
) -> None:
    """One full patched pass for all nodes of ``level`` (their bases stacked, ``b`` rows each) into ``values``.

    Rows ``[j*b, (j+1)*b)`` belong to node ``level[j]``: they get that node's
    children's values written and give its site's vector.  A site every
    node of the level patches goes through ``backend.patch`` with the
    children's values concatenated; a site only some nodes patch is written
    on their rows alone by a hook of ours (which runs before the patch's), so
    the other rows keep their own values exactly.  The pass stops once every
    node's site is recorded.
    """
    lv = _prepare(network, plan, level, base, values, b)
    got: dict[int, torch.Tensor] = {}
    edits = _record_edits(network, lv, got, len(level), b)
    by_module: dict[tuple[str, str], list[Partial]] = {}
    for item in lv.partial:
        by_module.setdefault((item[0].module, item[0].io), []).append(item)
    for (path, io), items in by_module.items():
        module = resolve_module(network.module, path, network=network.name)

        def write(x: torch.Tensor, items: list[Partial] = items) -> torch.Tensor:
            for s, rows, pos, src in items:
                x = _write_rows(x, s, rows, pos, src)
            return x

        edits.append((module, io, f"{path}.{io}", write))
    with torch.no_grad(), edit_hooks(edits), contextlib.suppress(StopForward):
        backend.patch(network, base, lv.patches)
    _store(plan, level, got, values, network)


class LevelPass:
    """One level's pass from its children's cached location onward (see the module docstring).

    ``fallback``: set (with the reason) when the suffix did not run a node's
    site module; that level then runs in full from there on.
    """

    def __init__(self, cache: PrefixCache, suffix: Suffix, height: int) -> None:
        self.cache = cache
        self.suffix = suffix
        self.place: Place = (suffix.module, suffix.io)
        self.height = height
        self.fallback: str | None = None

    def run(
        self, network: Network, plan: ScrubPlan, level: Sequence[int], base: Batch, rows: np.ndarray,
        values: dict[int, torch.Tensor], b: int, backend: NativeBackend,
    ) -> None:
        """Like :func:`record_level` on bases ``base`` (dataset rows ``rows``), from the cached location on."""
        if self.fallback is not None:
            record_level(backend, network, plan, level, base, values, b)
            return
        lv = _prepare(network, plan, level, base, values, b)
        h = self.cache.tensors(self.place, rows)
        for s, r, pos, src in lv.partial:  # as the full pass: some nodes' rows first, then every node's sites
            h = _write_rows(h, s, r, pos, src)
        got: dict[int, torch.Tensor] = {}
        with torch.no_grad(), edit_hooks(_record_edits(network, lv, got, len(level), b)), contextlib.suppress(StopForward):
            self.cache.runner.patch_suffix(network, self.suffix, h, base, lv.patches, inputs=encode(network, base))
        missing = [plan.site(i).name for j, i in enumerate(level) if j not in got]
        if missing:
            self.fallback = f"the suffix after {self.place[0]}.{self.place[1]} does not run the module of {missing[0]}"
            record_level(backend, network, plan, level, base, values, b)
            return
        _store(plan, level, got, values, network)


@attrs.define
class ScrubPrefixes:
    """Which scrubbing passes run on cached prefixes: the final pass and each inner level (None: in full)."""

    cache: PrefixCache | None
    final: FinalPass | None
    levels: list[LevelPass | None]
    heights: list[int]  # of each inner level, lowest first
    reasons: list[str]  # per pass (final, then each level): "suffix" or "patch: <why>"

    @property
    def execution(self) -> str:
        """``"suffix"`` when every pass ran on cached prefixes, the one status when all passes agree,
        else the final pass's status then ``"; height H: <status>"`` for each inner level."""
        statuses = [self.reasons[0]]
        for lp, st in zip(self.levels, self.reasons[1:]):
            statuses.append(f"patch: {lp.fallback}" if lp is not None and lp.fallback else st)
        if len(set(statuses)) == 1:
            return statuses[0]
        return "; ".join([statuses[0], *(f"height {h}: {st}" for h, st in zip(self.heights, statuses[1:]))])


def scrub_prefixes(
    network: Network, fast: Network, table: Batch, plan: ScrubPlan, n_data: int, runner: RunsSuffix,
    *, batch_size: int, memory: int,
) -> ScrubPrefixes:
    """Decide, for the final pass then each inner level (lowest first), whether it runs on cached prefixes.

    A pass does when the sites it patches lie at one module location with a
    checked suffix and the dataset's tensors at every cached location
    together fit in ``memory`` bytes (the final pass's location is
    considered first).  ``fast``/``table``: from
    :func:`~causalabs.scrub.encoding.encoded_once`.
    """
    heights = [plan.nodes[level[0]].height for level in plan.levels]
    cache = prefix_cache(fast, table, n_data, runner, batch_size)
    if isinstance(cache, str):
        why = f"patch: {cache}"
        return ScrubPrefixes(None, None, [None] * len(plan.levels), heights, [why] * (1 + len(plan.levels)))
    final = final_pass(network, cache, [plan.site(c) for c in plan.nodes[0].children], memory)
    reasons = ["suffix" if isinstance(final, FinalPass) else f"patch: {final}"]
    levels: list[LevelPass | None] = []
    for level, height in zip(plan.levels, heights):
        sites = [plan.site(c) for i in level for c in plan.nodes[i].children]
        found = suffix_at(network, cache, sites, f"the height-{height} pass")
        if not isinstance(found, str):
            place, suffix = found
            if cache.bytes(list(dict.fromkeys([*cache.wholes, place]))) > memory:
                found = f"the dataset's tensors at {place[0]}.{place[1]} would exceed the memory bound"
            else:
                cache.add(place)
                levels.append(LevelPass(cache, suffix, height))
                reasons.append("suffix")
                continue
        levels.append(None)
        reasons.append(f"patch: {found}")
    held = cache if cache.wholes else None
    return ScrubPrefixes(held, final if isinstance(final, FinalPass) else None, levels, heights, reasons)
