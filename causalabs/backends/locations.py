"""A module location's tensor, read and written: site vectors recorded from it, patches written into it.

The native backend's hooks and its hook-free passes (a suffix's plain
prefix, :mod:`causalabs.network.suffix`) share these steps, so a site is
checked, read and patched the same way on every path: positions and
featurizer widths checked against the tensor, vectors copied out (and tested
for NaN or infinity once per pass), source vectors mixed into a subspace out
of place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from causalabs.errors import NonFiniteError, OverlappingSubspaceError, SiteError
from causalabs.network.decoded import all_finite
from causalabs.network.network import Network
from causalabs.network.sites import (
    Site,
    Subspace,
    check_featurizer_width,
    positions_tensor,
    subspaces_disjoint,
)

Batch = dict[str, np.ndarray]
LocationKey = tuple[Any, ...]


def _check_positions(s: Site, pos: torch.Tensor | None, x: torch.Tensor) -> None:
    if pos is None:
        return
    if x.ndim < 3:
        raise SiteError(
            f"site {s.name}: positions given but the activation has shape {tuple(x.shape)} (no position axis)"
        )


def pos_bounds(s: Site, pos: torch.Tensor | None) -> tuple[int, int] | None:
    """The least and greatest of a site's position indices (None for every position), which a pass checks
    against the tensor's sequence length."""
    if pos is None or pos.numel() == 0:
        return None
    return int(pos.min()), int(pos.max())


def _check_range(s: Site, bounds: tuple[int, int] | None, length: int) -> None:
    if bounds is not None and (bounds[0] < -length or bounds[1] >= length):
        bad = bounds[1] if bounds[1] >= length else bounds[0]
        raise SiteError(f"site {s.name}: position {bad} is out of range for sequence length {length}")


def _check_disjoint_at(sites: Sequence[Site], x: torch.Tensor) -> None:
    """Overlap check once the vector's shape is known (negative units and positions resolved).

    ``check_disjoint`` cannot see that unit ``-1`` is unit ``width - 1``, or
    position ``-1`` the last one; this catches what it let through.
    """
    width = x.shape[-1]
    length = x.shape[1] if x.ndim >= 3 else 1
    for i, a in enumerate(sites):
        for b in sites[i + 1 :]:
            pa, pb = a.positions, b.positions
            if isinstance(pa, tuple) and isinstance(pb, tuple):
                if not {p % length for p in pa} & {p % length for p in pb}:
                    continue
            ua, ub = a.subspace.units, b.subspace.units
            if ua is not None and ub is not None:
                if not {u % width for u in ua} & {u % width for u in ub}:
                    continue
            elif subspaces_disjoint(a.subspace, b.subspace):
                continue
            raise OverlappingSubspaceError(
                f"sites {a.name} and {b.name} overlap: both write {a.module}.{a.io} "
                "on shared positions and coordinates (after resolving negative indices)"
            )


def select(x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
    """``x[b, pos[b]]`` for each row: (n, T, D) with (n, P) -> (n, P, D); ``x`` if no positions."""
    if pos is None:
        return x
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    return x[rows, pos % x.shape[1]]


def _place(x: torch.Tensor, pos: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
    if pos is None:
        return new.to(x.dtype)
    rows = torch.arange(x.shape[0], device=x.device)[:, None].expand_as(pos)
    return x.index_put((rows, pos % x.shape[1]), new.to(x.dtype))


def mix(h: torch.Tensor, s: torch.Tensor, sub: Subspace) -> torch.Tensor:
    """``h`` with the subspace ``sub`` taken from ``s`` (out of place, differentiable).

    All units and explicit units are copied exactly (a select, not
    ``h + (s - h) * mask``, which rounds); the result never aliases ``s``, so
    in-place operations later in the forward pass cannot change the caller's
    source vectors.
    """
    if sub.is_all:
        return s.to(h.dtype, copy=True)
    if sub.units is not None:
        mask = torch.zeros(h.shape[-1], dtype=torch.bool, device=h.device)
        mask[list(sub.units)] = True
        return torch.where(mask, s.to(h.dtype), h)
    assert sub.featurizer is not None and sub.dims is not None
    return sub.featurizer.interchange(h, s.to(h.dtype), *sub.dims)


PatchItem = tuple[Site, "torch.Tensor | None", Any, torch.Tensor]


def _patch_items(
    patches: Sequence[tuple[Site, torch.Tensor]], base: Batch, n: int, device: torch.device, network: Network | None = None
) -> dict[tuple[str, str], list[PatchItem]]:
    """The patches grouped by module location, each with its positions on ``device`` and their bounds."""
    by_module: dict[tuple[str, str], list[PatchItem]] = {}
    for s, src in patches:
        if src.shape[0] != n:
            raise SiteError(f"site {s.name}: {src.shape[0]} source vectors for {n} base rows")
        pos = positions_tensor(s, base, n, network)
        bounds = pos_bounds(s, pos)
        by_module.setdefault((s.module, s.io), []).append((s, None if pos is None else pos.to(device), bounds, src))
    return by_module


def write_patches(x: torch.Tensor, items: Sequence[PatchItem], keep: torch.Tensor | None) -> torch.Tensor:
    """``x`` (a location's tensor) with every item's source vectors written into its subspace.

    Rows marked in ``keep`` keep their own value (without a graph, like a source's).
    """
    for s, pos, bounds, _ in items:
        _check_positions(s, pos, x)
        if pos is not None:
            _check_range(s, bounds, x.shape[1])
        check_featurizer_width(s, x.shape[-1])
    if len(items) > 1:
        _check_disjoint_at([it[0] for it in items], x)
    for s, pos, _, src in items:
        if src.device != x.device:  # a dispatched network runs this module on its own device
            src = src.to(x.device)
            pos = None if pos is None else pos.to(x.device)
        h = select(x, pos)
        if h.shape != src.shape:
            raise SiteError(
                f"site {s.name}: source vectors of shape {tuple(src.shape)} do not fit the base's {tuple(h.shape)}"
            )
        new = mix(h, src, s.subspace)
        if keep is not None:
            # the base's own value, but like every source value without a graph
            kept = keep.to(new.device).view(-1, *[1] * (new.ndim - 1))
            new = torch.where(kept, h.detach().to(new.dtype), new)
        x = _place(x, pos, new)
    return x


Wanted = tuple[Site, "torch.Tensor | None", "tuple[int, int] | None"]


def _wanted(network: Network, batch: Batch, sites: Sequence[Site]) -> dict[LocationKey, Wanted]:
    """Per distinct location key, its first site with that site's positions (on the device) and their bounds."""
    n = len(next(iter(batch.values())))
    device = network.device
    wanted: dict[LocationKey, Wanted] = {}
    for s in sites:
        key = s.location_key()
        if key not in wanted:
            pos = positions_tensor(s, batch, n, network)
            wanted[key] = (s, None if pos is None else pos.to(device), pos_bounds(s, pos))
    return wanted


def _vector_into(
    out: dict[LocationKey, torch.Tensor], key: LocationKey, want: Wanted, x: torch.Tensor, device: torch.device, *, copy: bool
) -> bool | torch.Tensor:
    """Store the site's vector of ``x`` (a location's tensor) in ``out[key]``, on the driver's ``device``
    (a dispatched network runs the module on its own); return whether it is all finite (see ``all_finite``)."""
    s, pos, bounds = want
    _check_positions(s, pos, x)
    if pos is not None:
        _check_range(s, bounds, x.shape[1])
    check_featurizer_width(s, x.shape[-1])
    if pos is not None and pos.device != x.device:
        pos = pos.to(x.device)
    if pos is not None:
        vec = select(x.detach(), pos)
    else:
        vec = x.detach().clone() if copy else x.detach()
    out[key] = vec = vec.to(device)
    return all_finite(vec)


def _raise_non_finite(network: Network, flags: Sequence[tuple[Site, bool | torch.Tensor]]) -> None:
    """A typed error naming the first site whose recorded vectors hold NaN or infinity (flags from
    :func:`~causalabs.network.decoded.all_finite`: one host sync for those still on a device)."""
    on_device = [f for _, f in flags if isinstance(f, torch.Tensor)]
    read = iter(torch.stack(on_device).cpu().tolist() if on_device else [])
    for s, f in flags:
        if not (next(read) if isinstance(f, torch.Tensor) else f):
            raise NonFiniteError(f"site {s.name}: the activation in {network.name} holds NaN or infinity")
