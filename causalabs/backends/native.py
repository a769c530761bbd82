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
from causalabs.backends.locations import (
    LocationKey,
    _patch_items,
    _raise_non_finite,
    _vector_into,
    _wanted,
    write_patches,
)
from causalabs.data.ops import row_ids, stack_rows
from causalabs.errors import BatchShapeError, SiteError
from causalabs.network.network import Network, encode
from causalabs.network.suffix import PrefixFn, Suffix
from causalabs.network.sites import Site, check_disjoint, resolve_module

Batch = dict[str, np.ndarray]


class NativeBackend:
    """Interventions on forward hooks; the fast path and the reference for gradients."""

    name = "native"
    capabilities = Capabilities(collect=True, patch=True, suffix=True)

    # --- recording --------------------------------------------------------

    def record(
        self, network: Network, batch: Batch, sites: Sequence[Site], *, inputs: Any, prefix: PrefixFn | None = None
    ) -> dict[LocationKey, torch.Tensor]:
        """:meth:`collect` on ``batch`` already encoded as ``inputs`` (on the network's device).

        ``prefix``: a checked function running the network up to the one
        location of every site (:attr:`~causalabs.network.suffix.Suffix.prefix`);
        the pass then runs it alone, without hooks.
        """
        if prefix is None:
            return self.collect(network, batch, sites, inputs=inputs)
        places = {(s.module, s.io) for s in sites}
        if len(places) != 1:
            raise SiteError(f"record: a prefix runs to one location, the sites lie at {len(places)}")
        wanted = _wanted(network, batch, sites)
        with torch.no_grad():
            x = prefix(inputs)
        out: dict[LocationKey, torch.Tensor] = {}
        device = network.device
        flags = [(wanted[key][0], _vector_into(out, key, wanted[key], x, device, copy=False)) for key in wanted]
        _raise_non_finite(network, flags)
        return out

    def collect(
        self, network: Network, batch: Batch, sites: Sequence[Site], *, inputs: Any = None
    ) -> dict[LocationKey, torch.Tensor]:
        """The vector at each site's location for every row of ``batch``.

        Returns ``{site.location_key(): tensor}`` with shape (n, D) for a
        site without positions and (n, P, D) with positions.  The forward
        pass stops as soon as every site is recorded.
        """
        if inputs is None:
            inputs = encode(network, batch)
        device = network.device
        wanted = _wanted(network, batch, sites)
        by_module: dict[tuple[str, str], list[LocationKey]] = {}
        for key, (s, _, _) in wanted.items():
            by_module.setdefault((s.module, s.io), []).append(key)
        out: dict[LocationKey, torch.Tensor] = {}
        nan_flags: list[tuple[Site, bool | torch.Tensor]] = []
        seen: set[tuple[str, str]] = set()
        edits = []
        for (path, io), keys in by_module.items():
            module = resolve_module(network.module, path, network=network.name)

            def record(x: torch.Tensor, keys: list[LocationKey] = keys, mk: tuple[str, str] = (path, io)) -> torch.Tensor:
                if mk in seen:
                    return x
                for key in keys:
                    # a copy: later in-place ops of the same pass must not change it
                    nan_flags.append((wanted[key][0], _vector_into(out, key, wanted[key], x, device, copy=True)))
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
        _raise_non_finite(network, nan_flags)
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
        device = network.device
        if keep is not None:
            keep = torch.as_tensor(keep, dtype=torch.bool, device=device).reshape(-1)
        by_module = _patch_items(patches, base, n, device, network)
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
