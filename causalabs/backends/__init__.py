"""Backends run interventions on a network.  The engine sees only the :class:`Backend` protocol.

``native`` (forward hooks; fast, differentiable) is the default; ``pyvene``
expresses the same sites as a pyvene ``IntervenableModel`` (parity and
interoperability).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from causalabs.errors import BackendError
from causalabs.network.network import Network
from causalabs.network.sites import Site

Batch = dict[str, np.ndarray]


@runtime_checkable
class Backend(Protocol):
    """Runs a base batch with sites set to their values on source batches."""

    name: str

    def interchange(
        self,
        network: Network,
        base: Batch,
        interventions: Sequence[tuple[Site, Batch]],
        *,
        grad: bool = False,
    ) -> Any:
        """Raw network output of the base under the interventions."""
        ...


def get_backend(name: str | Backend = "native") -> Backend:
    """A backend by name (``"native"``, ``"pyvene"``), or the backend itself."""
    if not isinstance(name, str):
        return name
    if name == "native":
        from causalabs.backends.native import NativeBackend

        return NativeBackend()
    if name == "pyvene":
        from causalabs.backends.pyvene_backend import PyveneBackend

        return PyveneBackend()
    raise BackendError(f"unknown backend {name!r}; choose 'native' or 'pyvene'")


__all__ = ["Backend", "get_backend"]
