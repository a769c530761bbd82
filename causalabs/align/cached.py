"""Training and scoring featurizers on cached site activations: the frozen prefix once, a step is a suffix.

The network is frozen while a featurizer trains, so every distinct base
input's tensor at the location is the same on every step: it is recorded
once per fit (:func:`record_bases`) and each step writes the sources'
vectors into it and runs only the layers after the site
(:func:`~causalabs.network.suffix.checked_suffix` decides where that
applies; elsewhere the step is a full patched pass, as before).
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
from causalabs.network.sites import Site, site
from causalabs.network.suffix import Suffix, checked_suffix

Batch = dict[str, np.ndarray]


@attrs.frozen(eq=False)
class CachedBases:
    """Every distinct base's tensor at the suffix's location, and each pair's row in it."""

    suffix: Suffix
    acts: torch.Tensor  # (distinct bases, [T,] D)
    index: torch.Tensor  # (n,) row of `acts` per pair


def record_bases(
    backend: NativeBackend, network: Network, location: Site, base: Batch, inputs: Any, *,
    batch_size: int = 256, memory: int = DEFAULT_MEMORY,
) -> CachedBases | None:
    """The bases' tensors at ``location``, each distinct base recorded once; None where no checked suffix
    applies or they would take more than ``memory`` bytes."""
    check = checked_suffix(network, location.module, location.io, inputs)
    if check.suffix is None:
        return None
    names = list(base)
    first, inverse = row_ids(stack_rows(base, names))
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
    encoded = take_rows(inputs, rows)
    if cached is None:
        return backend.patch(network, base, patches, grad=grad, inputs=encoded)
    h = cached.acts.index_select(0, cached.index.index_select(0, rows))
    return backend.patch_suffix(network, cached.suffix, h, base, patches, inputs=encoded, grad=grad)
