"""The pyvene backend: the same interventions, run by a pyvene ``IntervenableModel``.

It exists for parity (its counterfactual outputs are the reference the
native backend is tested against) and for interoperability.  pyvene runs
every source batch through the whole network and swaps the site's vectors
into the base pass; it is slower than the native backend and offers no
``collect``/``patch`` split (it declares :data:`~causalabs.backends.INTERCHANGE_ONLY`),
so the engine calls :meth:`PyveneBackend.interchange` batch by batch.

Built ``IntervenableModel`` objects are cached per (network, site set) in a
small LRU (:data:`CACHE_SIZE` entries); a cached model keeps its network
alive until it is evicted or :func:`clear_cache` is called.  Positions and
subspaces are call-time arguments, so sites that differ only in positions,
units or dims share one cached model.

Before each call the backend installs its own checks at every site (the
activation has a position axis when positions are given, positions are in
range, the featurizer fits the width, the module runs), so malformed sites
raise the same :class:`~causalabs.errors.SiteError` as the native backend
rather than a pyvene indexing error.  Every hook is removed afterwards, also
on error, and the network's module is left as it was.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.backends.declaration import INTERCHANGE_ONLY
from causalabs.backends.hooks import edit_hooks
from causalabs.backends.pyvene_interop import (
    ScopedIntervenableModel,
    Where,
    build_intervenable,
    prepare_call,
    rotation_matrix,
    set_rotation,
    wraps_directly,
)
from causalabs.errors import BackendError, SiteError
from causalabs.network.network import Network, encode
from causalabs.network.sites import Site, check_disjoint, check_featurizer_width, resolve_module

Batch = dict[str, np.ndarray]

#: How many built pyvene models the backend keeps (least recently used are dropped).
CACHE_SIZE = 16


@attrs.define(eq=False)
class _Entry:
    model: ScopedIntervenableModel
    direct: bool
    device: torch.device
    rotations: list[tuple[int, torch.Tensor]]  # (intervention index, matrix it holds)


_CACHE: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()


def clear_cache() -> None:
    """Drop every cached pyvene model (and the references they hold to networks)."""
    _CACHE.clear()


def cache_size() -> int:
    """How many pyvene models are cached now."""
    return len(_CACHE)


def _site_kind(s: Site) -> tuple[Any, ...]:
    f = s.subspace.featurizer
    return (s.module, s.io, "vanilla" if f is None else ("rotated", id(f)))


def _entry(network: Network, sites: Sequence[Site]) -> _Entry:
    """The cached pyvene model for these sites, built once; rotations re-synced if they changed."""
    key = (id(network), tuple(_site_kind(s) for s in sites))
    entry = _CACHE.get(key)
    if entry is None:
        model = build_intervenable(network, sites)
        rotations = [(i, rotation_matrix(s)) for i, s in enumerate(sites) if s.subspace.featurizer is not None]
        # keep the featurizers alive so their ids in the key stay theirs
        model.causalabs_keepalive = (network, [s.subspace.featurizer for s in sites])
        entry = _Entry(model, wraps_directly(network, sites), network.device, rotations)
        _CACHE[key] = entry
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
        ivs = list(entry.model.interventions.values())
        for j, (i, held) in enumerate(entry.rotations):
            now = rotation_matrix(sites[i])
            if now.shape != held.shape or not torch.equal(now, held):
                set_rotation(ivs[i], now)
                entry.rotations[j] = (i, now)
    if entry.device != network.device:
        entry.model.interventions.to(network.device)
        entry.device = network.device
    return entry


def _check(s: Site, where: Where, x: torch.Tensor) -> None:
    """The native backend's checks on a site's activation ``x``."""
    check_featurizer_width(s, x.shape[-1])
    locs = [loc for loc in (where.source, where.base) if loc is not None]
    if not locs:
        return
    if x.ndim < 3:
        raise SiteError(
            f"site {s.name}: positions given but the activation has shape {tuple(x.shape)} (no position axis)"
        )
    length = x.shape[1]
    if where.seq_len is not None and where.seq_len != length:
        raise BackendError(
            f"site {s.name}: negative positions were resolved against the input length "
            f"{where.seq_len}, but the activation has length {length}; give non-negative positions"
        )
    for loc in locs:
        flat = [p for row in loc for p in row]
        bad = [p for p in flat if not 0 <= p < length]
        if bad:
            raise SiteError(f"site {s.name}: position {bad[0]} is out of range for sequence length {length}")


@contextlib.contextmanager
def _site_checks(network: Network, wheres: Sequence[Where]) -> Iterator[None]:
    """Check every site's activation each time its module runs; raise if one never ran."""
    ran: set[int] = set()
    edits = []
    for i, w in enumerate(wheres):
        module = resolve_module(network.module, w.site.module, network=network.name)

        def check(x: torch.Tensor, i: int = i, w: Where = w) -> torch.Tensor:
            _check(w.site, w, x)
            ran.add(i)
            return x

        edits.append((module, w.site.io, w.site.name, check))
    with edit_hooks(edits):
        yield
    missing = [w.site.name for i, w in enumerate(wheres) if i not in ran]
    if missing:
        raise SiteError(f"site {', '.join(missing)}: the module never ran in {network.name}'s forward pass")


class PyveneBackend:
    """Interventions run by pyvene; the parity reference for the native backend."""

    name = "pyvene"
    capabilities = INTERCHANGE_ONLY

    def interchange(
        self,
        network: Network,
        base: Batch,
        interventions: Sequence[tuple[Site, Batch]],
        *,
        grad: bool = False,
    ) -> Any:
        """Raw network output on ``base`` with each site set to its value on its own source batch.

        pyvene runs one full forward pass per source batch and one for the
        base.  Raises :class:`~causalabs.errors.BackendError` for a site
        pyvene cannot express (a featurizer that is not a rotation).
        """
        sites = [s for s, _ in interventions]
        check_disjoint(sites)
        if not interventions:
            with torch.set_grad_enabled(grad):
                return network.call(network.module, encode(network, base))
        entry = _entry(network, sites)
        kwargs, wheres = prepare_call(network, sites, base, [src for _, src in interventions], direct=entry.direct)
        with torch.set_grad_enabled(grad), _site_checks(network, wheres):
            _, out = entry.model(**kwargs)
        return out


__all__ = ["CACHE_SIZE", "PyveneBackend", "cache_size", "clear_cache"]
