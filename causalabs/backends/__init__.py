"""Backends run interventions on a network; each declares what it can do beyond ``interchange``.

The engine sees only the :class:`Backend` protocol and the capabilities a
backend declares (:mod:`causalabs.backends.declaration`).  ``native``
(forward hooks; fast, differentiable; declares ``collect`` and ``patch``) is
the default; ``pyvene`` expresses the same sites as a pyvene
``IntervenableModel`` (parity and interoperability; interchange only).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from causalabs.backends.declaration import (
    INTERCHANGE_ONLY,
    Capabilities,
    Collects,
    Interchanges,
    Patches,
    RunsSuffix,
    capabilities,
    collector,
    patcher,
    suffix_runner,
)
from causalabs.errors import BackendError


@runtime_checkable
class Backend(Interchanges, Protocol):
    """A named :class:`Interchanges`; what else it can do it declares in ``capabilities``."""

    name: str


def get_backend(name: str | Interchanges = "native") -> Interchanges:
    """A backend by name (``"native"``, ``"pyvene"``), or the backend itself (anything with ``interchange``)."""
    if not isinstance(name, str):
        if not isinstance(name, Interchanges):
            raise BackendError(
                f"backend {type(name).__qualname__}: not a backend (it has no interchange() method); "
                "pass 'native', 'pyvene' or an object with interchange()"
            )
        capabilities(name)  # a malformed declaration fails here, before any pass runs
        return name
    if name == "native":
        from causalabs.backends.native import NativeBackend

        return NativeBackend()
    if name == "pyvene":
        from causalabs.backends.pyvene_backend import PyveneBackend

        return PyveneBackend()
    raise BackendError(f"unknown backend {name!r}; choose 'native' or 'pyvene'")


__all__ = [
    "INTERCHANGE_ONLY",
    "Backend",
    "Capabilities",
    "Collects",
    "Interchanges",
    "Patches",
    "RunsSuffix",
    "capabilities",
    "collector",
    "get_backend",
    "patcher",
    "suffix_runner",
]
