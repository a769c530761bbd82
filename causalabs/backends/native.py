"""The native backend: interchange interventions on plain torch forward hooks.

* ``collect`` records the vectors at a set of sites in one batched pass and
  stops the pass as soon as the last of them is recorded.
* ``patch`` runs one base pass that may carry many interventions (several
  variables, sites and sources) at once.
* ``interchange`` combines the two and computes each distinct source input
  once (sources are deduplicated by content).

It declares ``collect`` and ``patch`` (:class:`~causalabs.backends.Capabilities`),
so the engine records each distinct input once per dataset and patches in batches.

Everything stays on the module's device; the only host synchronisation is
one finiteness check (NaN or infinity) per ``collect``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from causalabs.backends.declaration import Capabilities
from causalabs.backends.hooks import StopForward, edit_hooks
from causalabs.data.ops import row_ids, stack_rows
from causalabs.errors import (
    BatchShapeError,
    NonFiniteError,
    OverlappingSubspaceError,
    SiteError,
)
from causalabs.network.network import Network, encode
from causalabs.network.suffix import Suffix
from causalabs.network.sites import (
    Site,
    Subspace,
    check_disjoint,
    check_featurizer_width,
    positions_tensor,
    resolve_module,
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


def _pos_bounds(s: Site, pos: torch.Tensor | None) -> tuple[int, int] | None:
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
        bounds = _pos_bounds(s, pos)
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


class NativeBackend:
    """Interventions on forward hooks; the fast path and the reference for gradients."""

    name = "native"
    capabilities = Capabilities(collect=True, patch=True, suffix=True)

    # --- recording --------------------------------------------------------

    def record(self, network: Network, batch: Batch, sites: Sequence[Site], *, inputs: Any) -> dict[LocationKey, torch.Tensor]:
        """:meth:`collect` on ``batch`` already encoded as ``inputs`` (on the network's device)."""
        return self.collect(network, batch, sites, inputs=inputs)

    def collect(
        self, network: Network, batch: Batch, sites: Sequence[Site], *, inputs: Any = None
    ) -> dict[LocationKey, torch.Tensor]:
        """The vector at each site's location for every row of ``batch``.

        Returns ``{site.location_key(): tensor}`` with shape (n, D) for a
        site without positions and (n, P, D) with positions.  The forward
        pass stops as soon as every site is recorded.
        """
        n = len(next(iter(batch.values())))
        if inputs is None:
            inputs = encode(network, batch)
        device = network.device
        wanted: dict[LocationKey, tuple[Site, torch.Tensor | None, tuple[int, int] | None]] = {}
        for s in sites:
            key = s.location_key()
            if key not in wanted:
                pos = positions_tensor(s, batch, n, network)
                bounds = _pos_bounds(s, pos)
                wanted[key] = (s, None if pos is None else pos.to(device), bounds)
        by_module: dict[tuple[str, str], list[LocationKey]] = {}
        for key, (s, _, _) in wanted.items():
            by_module.setdefault((s.module, s.io), []).append(key)
        out: dict[LocationKey, torch.Tensor] = {}
        nan_flags: list[tuple[Site, torch.Tensor]] = []
        seen: set[tuple[str, str]] = set()
        edits = []
        for (path, io), keys in by_module.items():
            module = resolve_module(network.module, path, network=network.name)

            def record(x: torch.Tensor, keys: list[LocationKey] = keys, mk: tuple[str, str] = (path, io)) -> torch.Tensor:
                if mk in seen:
                    return x
                for key in keys:
                    s, pos, bounds = wanted[key]
                    _check_positions(s, pos, x)
                    if pos is not None:
                        _check_range(s, bounds, x.shape[1])
                    check_featurizer_width(s, x.shape[-1])
                    # a copy: later in-place ops of the same pass must not change it; on the driver's device
                    # (a dispatched network runs this module on its own)
                    if pos is not None and pos.device != x.device:
                        pos = pos.to(x.device)
                    vec = select(x.detach(), pos) if pos is not None else x.detach().clone()
                    vec = vec.to(device)
                    out[key] = vec
                    nan_flags.append((s, ~torch.isfinite(vec).all()))
                seen.add(mk)
                if len(seen) == len(by_module):
                    raise StopForward
                return x

            edits.append((module, io, f"{path}.{io}", record))
        with torch.no_grad(), edit_hooks(edits), contextlib.suppress(StopForward):
            network.call(network.module, inputs)
        missing = [k for k in wanted if k not in out]
        if missing:
            names = ", ".join(wanted[k][0].name for k in missing)
            raise SiteError(f"site {names}: the module never ran in {network.name}'s forward pass")
        if nan_flags:
            flags = torch.stack([f for _, f in nan_flags]).cpu()
            for (s, _), bad in zip(nan_flags, flags.tolist()):
                if bad:
                    raise NonFiniteError(f"site {s.name}: the activation in {network.name} holds NaN or infinity")
        return out

    # --- patching -----------------------------------------------------------

    def patch(
        self,
        network: Network,
        base: Batch,
        patches: Sequence[tuple[Site, torch.Tensor]],
        *,
        grad: bool = False,
        keep: torch.Tensor | None = None,
        inputs: Any = None,
    ) -> Any:
        """One base pass with each ``(site, source_vectors)`` written into its subspace.

        ``source_vectors`` has the shape ``collect`` returns for that site on
        ``len(base)`` rows.  ``keep`` (bool, one per base row) marks rows whose
        every source *is* the base input: they keep the base's own vectors,
        so such a pass reproduces the plain forward to the bit (recorded
        vectors may differ in the last bits, because BLAS picks kernels by
        batch size).  ``inputs``: ``base`` already encoded (on the network's
        device), so a training loop encodes its data once, not every step.
        Returns the module's raw output.
        """
        check_disjoint([s for s, _ in patches])
        n = len(next(iter(base.values())))
        if keep is not None:
            keep = torch.as_tensor(keep, dtype=torch.bool, device=network.device).reshape(-1)
            if keep.shape[0] != n:
                raise BatchShapeError(f"patch: keep has {keep.shape[0]} rows for {n} base rows")
        if inputs is None:
            inputs = encode(network, base)
        device = network.device
        by_module = _patch_items(patches, base, n, device, network)
        edits = []
        for (path, io), items in by_module.items():
            module = resolve_module(network.module, path, network=network.name)

            def write(x: torch.Tensor, items: list[Any] = items) -> torch.Tensor:
                return write_patches(x, items, keep)

            edits.append((module, io, f"{path}.{io}", write))
        ctx = torch.enable_grad() if grad else torch.no_grad()
        with ctx, edit_hooks(edits):
            return network.call(network.module, inputs)

    def patch_suffix(
        self,
        network: Network,
        suffix: Suffix,
        h: torch.Tensor,
        base: Batch,
        patches: Sequence[tuple[Site, torch.Tensor]],
        *,
        inputs: Any,
        grad: bool = False,
        keep: torch.Tensor | None = None,
    ) -> Any:
        """Like :meth:`patch`, but from the base's recorded tensor ``h`` at the suffix's location onward.

        ``h`` is the whole tensor at ``suffix.module``'s ``suffix.io`` for
        the ``len(base)`` base rows (``collect`` of a site without positions
        there); every patch must be at that location.  ``inputs``: ``base``
        encoded (the suffix may read them: masks, positions).  Only the
        layers after the site run.
        """
        check_disjoint([s for s, _ in patches])
        n = len(next(iter(base.values())))
        if h.shape[0] != n:
            raise BatchShapeError(f"patch_suffix: {h.shape[0]} recorded rows for {n} base rows")
        if keep is not None:
            keep = torch.as_tensor(keep, dtype=torch.bool, device=network.device).reshape(-1)
        by_module = _patch_items(patches, base, n, network.device, network)
        other = [f"{p}.{io}" for p, io in by_module if (p, io) != (suffix.module, suffix.io)]
        if other:
            raise SiteError(f"patch_suffix: sites at {', '.join(other)}, not at {suffix.module}.{suffix.io}")
        ctx = torch.enable_grad() if grad else torch.no_grad()
        with ctx:
            x = write_patches(h, by_module.get((suffix.module, suffix.io), []), keep)
            return suffix.run(x, inputs)

    # --- both ---------------------------------------------------------------

    def interchange(
        self,
        network: Network,
        base: Batch,
        interventions: Sequence[tuple[Site, Batch]],
        *,
        grad: bool = False,
    ) -> Any:
        """Base pass with each site set to its value on its own source batch.

        Distinct source inputs (across all interventions) run once, and only
        up to the last site needed.
        """
        check_disjoint([s for s, _ in interventions])
        if not interventions:
            with torch.set_grad_enabled(grad):
                return network.call(network.module, encode(network, base))
        names = list(base)
        n = len(next(iter(base.values())))
        for s, src in interventions:
            missing = [k for k in names if k not in src]
            if missing:
                raise BatchShapeError(f"site {s.name}: the source batch lacks the input(s) {', '.join(missing)}")
            m = len(np.asarray(src[names[0]]))
            if m != n:
                raise BatchShapeError(f"site {s.name}: the source batch has {m} rows for {n} base rows")
        per_source = [stack_rows(src, names) for _, src in interventions]
        keep = self_sourced(stack_rows(base, names), per_source)
        rows = np.concatenate(per_source)
        first, inverse = row_ids(rows)
        unique = rows[first]
        ubatch = {k: np.ascontiguousarray(unique[:, j]) for j, k in enumerate(names)}
        acts = self.collect(network, ubatch, [s for s, _ in interventions])
        idx = torch.as_tensor(inverse, device=network.device)
        patches = [
            (s, acts[s.location_key()].index_select(0, idx[i * n : (i + 1) * n]))
            for i, (s, _) in enumerate(interventions)
        ]
        return self.patch(network, base, patches, grad=grad, keep=keep)


def self_sourced(base_rows: np.ndarray, source_rows: Sequence[np.ndarray]) -> torch.Tensor | None:
    """Rows whose every source equals the base input (bool tensor), or None when there are none.

    On such a row every intervention writes the base's own clean value, so
    the row is left as it is (see ``NativeBackend.patch``).
    """
    same = np.ones(base_rows.shape[0], dtype=bool)
    for rows in source_rows:
        same &= (rows == base_rows).all(axis=1)
    return torch.from_numpy(same) if same.any() else None
