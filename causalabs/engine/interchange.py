"""One interchange call on a network: a base batch, and for each aligned variable a source batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from causalabs.backends import Interchanges, get_backend
from causalabs.network.alignment import Alignment
from causalabs.network.network import Decoded, Network

Batch = dict[str, np.ndarray]


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
    interventions = [(alignment[getattr(v, "name", v)], src) for v, src in sources.items()]
    return network.decode(be.interchange(network, base, interventions, grad=grad))
