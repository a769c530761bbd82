"""Training and scoring featurizers on cached site activations: the frozen prefix once, a step is a suffix.

The network is frozen while a featurizer trains, so every distinct base
input's tensor at the location is the same on every step: it is recorded
once per fit (:func:`record_bases`) and each step writes the sources'
vectors into it and runs only the layers after the site
(:func:`~causalabs.network.suffix.checked_suffix` decides where that
applies; elsewhere the step is a full patched pass, as before).

At token positions of a causal decoder (a site ``BLOCKS.L[pos P]`` whose
positions are the same in every row, after the first) a step runs even
less: the blocks after the site at the positions from the first patched
one on, every earlier position's keys and values (and the logits the
network reads there) taken from the base's recorded pass
(:func:`~causalabs.network.suffix_local.checked_local_suffix`).  A patch
there cannot change an earlier position, so the loss and its gradient are
those of the whole suffix up to float rounding; gradients flow only through
the patched positions' suffix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.backends.native import NativeBackend
from causalabs.data.ops import row_ids, stack_rows
from causalabs.engine.prefixes import DEFAULT_MEMORY
from causalabs.network.network import Network, take_rows
from causalabs.network.sites import Site, fixed_positions, site
from causalabs.network.suffix import Suffix, checked_suffix
from causalabs.network.suffix_local import LocalCache, LocalRows, checked_local_suffix

Batch = dict[str, np.ndarray]


@attrs.frozen(eq=False)
class CachedBases:
    """Every distinct base's tensor at the suffix's location, and each pair's row in it."""

    suffix: Suffix
    acts: torch.Tensor  # (distinct bases, [T,] D)
    index: torch.Tensor  # (n,) row of `acts` per pair
    local: LocalRows | None = None  # position-local suffix: the distinct bases' ids and earlier keys/values

    @property
    def kind(self) -> str:
        """``"suffix-local"`` (only the positions from the patch on run) or the suffix's kind."""
        return "suffix-local" if self.local is not None else self.suffix.kind


def record_bases(
    backend: NativeBackend, network: Network, location: Site, base: Batch, inputs: Any, *,
    batch_size: int = 256, memory: int = DEFAULT_MEMORY, local: bool = True,
) -> CachedBases | None:
    """The bases' tensors at ``location``, each distinct base recorded once; None where no checked suffix
    applies or they would take more than ``memory`` bytes.

    ``local`` (default): at fixed token positions of a causal decoder, also each base's suffix-layer keys
    and values before the first patched position (and the logits the network reads there), so a step runs
    only the positions from there on.
    """
    names = list(base)
    first, inverse = row_ids(stack_rows(base, names))
    if local:
        found = _record_local(network, location, base, inputs, first, inverse, batch_size, memory)
        if found is not None:
            return found
    check = checked_suffix(network, location.module, location.io, inputs)
    if check.suffix is None:
        return None
    whole = site(location.module, io=location.io)
    device = network.device
    parts: list[torch.Tensor] = []
    held = 0
    for start in range(0, len(first), batch_size):
        rows = torch.as_tensor(first[start : start + batch_size], device=device)
        idx = rows.cpu().numpy()
        chunk = {k: np.asarray(v)[idx] for k, v in base.items()}
        h = backend.record(network, chunk, [whole], inputs=take_rows(inputs, rows))[whole.location_key()]
        held += h.numel() * h.element_size()
        if held > memory:
            return None
        parts.append(h)
    return CachedBases(check.suffix, torch.cat(parts), torch.as_tensor(inverse, device=device))


def _record_local(
    network: Network, location: Site, base: Batch, inputs: Any, first: np.ndarray, inverse: np.ndarray,
    batch_size: int, memory: int,
) -> CachedBases | None:
    """The position-local cache (tensor at the site, earlier keys and values, logits read before the patch) of
    every distinct base, or None (no local suffix, or more than ``memory`` bytes)."""
    positions = fixed_positions(network, location, base)
    if positions is None:
        return None
    device = network.device
    distinct = take_rows(inputs, torch.as_tensor(first, device=device))
    found, _ = checked_local_suffix(network, location.module, location.io, positions, distinct)
    if found is None:
        return None
    hs: list[torch.Tensor] = []
    parts: list[LocalCache] = []
    for start in range(0, len(first), batch_size):
        rows = torch.arange(start, min(len(first), start + batch_size), device=device)
        h, part = found.record(take_rows(distinct, rows))
        if start == 0 and (h.numel() * h.element_size() + part.nbytes) / len(rows) * len(first) > memory:
            return None  # every row holds as much: decided from the first chunk, before recording the rest
        hs.append(h)
        parts.append(part)
    return CachedBases(found.suffix, torch.cat(hs), torch.as_tensor(inverse, device=device), LocalRows(distinct, LocalCache.cat(parts)))


def patched_output(
    backend: NativeBackend,
    network: Network,
    cached: CachedBases | None,
    base: Batch,
    patches: Sequence[tuple[Site, torch.Tensor]],
    inputs: Any,
    rows: torch.Tensor,
    *,
    grad: bool,
) -> Any:
    """The raw output of pairs ``rows`` under ``patches``: a suffix pass from the cached tensors, or a full pass."""
    if cached is None:
        return backend.patch(network, base, patches, grad=grad, inputs=take_rows(inputs, rows))
    which = cached.index.index_select(0, rows)
    h = cached.acts.index_select(0, which)
    encoded = cached.local.take(which) if cached.local is not None else take_rows(inputs, rows)
    return backend.patch_suffix(network, cached.suffix, h, base, patches, inputs=encoded, grad=grad)
