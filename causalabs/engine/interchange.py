"""One interchange call on a network: a base batch, and for each aligned variable a source batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from causalabs.backends import Interchanges, get_backend
from causalabs.errors import BatchShapeError
from causalabs.network.alignment import Alignment
from causalabs.network.network import Decoded, Network

Batch = dict[str, np.ndarray]


def _check_batch(batch: Any, what: str) -> None:
    """A typed error unless ``batch`` maps each input to a 1-D array of rows (a single input, given as
    scalars, is the usual slip)."""
    if not isinstance(batch, Mapping):
        raise BatchShapeError(f"interchange_network: {what} is a {type(batch).__name__}, not a mapping of input -> rows")
    for k, v in batch.items():
        if np.ndim(v) != 1:
            raise BatchShapeError(
                f"interchange_network: {what} gives input {k!r} as {np.ndim(v)}-D "
                f"({type(v).__name__}); a batch maps each input to a 1-D array of rows "
                "(one input: wrap it with ca.as_batch(hypothesis, inputs))"
            )


def interchange_network(
    network: Network,
    alignment: Alignment,
    base: Batch,
    sources: Mapping[Any, Batch],
    *,
    backend: str | Interchanges = "native",
    grad: bool = False,
) -> Decoded:
    """Decoded network output on ``base`` with each variable's site set from its source.

    The network-side twin of :func:`causalabs.interchange`: ``sources`` maps
    a variable (name or class symbol) to a batch of source inputs.
    """
    be = get_backend(backend)
    _check_batch(base, "the base batch")
    for v, src in sources.items():
        _check_batch(src, f"the source batch of {getattr(v, 'name', v)!r}")
    interventions = [(alignment[getattr(v, "name", v)], src) for v, src in sources.items()]
    return network.decode(be.interchange(network, base, interventions, grad=grad))
