"""What a backend can do, declared on the backend; the engine reads the declaration, never the methods.

Every backend interchanges (:class:`Interchanges`: a base pass with sites set
from source batches).  Beyond that a backend *declares* what else it offers in
a class attribute ``capabilities`` holding a frozen :class:`Capabilities`
value; each capability has a typed protocol for the method it promises:

=================  ===================  ==================================================
flag               protocol             what the engine does with it
=================  ===================  ==================================================
(always)           :class:`Interchanges`  ``interchange`` batch by batch
``collect``        :class:`Collects`      records each distinct input's site vectors once
``patch``          :class:`Patches`       writes recorded vectors into one base pass
``suffix``         :class:`RunsSuffix`    writes them into a recorded base tensor and runs
                                        only the layers after the site
=================  ===================  ==================================================

A backend without a ``capabilities`` attribute interchanges only.  The engine
asks :func:`collector` and :func:`patcher` for the backend typed as the
protocol; they answer from the declaration alone and check that a declared
method is there (a declaration the backend cannot honour is a
:class:`~causalabs.errors.BackendError` naming the backend, not an
``AttributeError`` halfway through a run).  A new capability (a runner of
the suffix after a site, for instance) is one more flag, one more protocol
and one more reader here; backends that do not declare it are unaffected.
"""

from __future__ import annotations

import functools

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np
import torch

from causalabs.errors import BackendError
from causalabs.network.network import Network
from causalabs.network.sites import Site
from causalabs.network.suffix import PrefixFn, Suffix

Batch = dict[str, np.ndarray]


@runtime_checkable
class Interchanges(Protocol):
    """Runs a base batch with sites set to their values on source batches (what every backend does)."""

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


@runtime_checkable
class Collects(Protocol):
    """Records the vectors at sites (the ``collect`` capability)."""

    def collect(self, network: Network, batch: Batch, sites: Sequence[Site]) -> dict[Any, torch.Tensor]:
        """``{site.location_key(): vectors}`` for every row of ``batch``: (n, D), or (n, P, D) with positions."""
        ...


@runtime_checkable
class Patches(Protocol):
    """Writes given vectors into sites during one base pass (the ``patch`` capability)."""

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
        """Raw network output of ``base`` with each ``(site, vectors)`` written into its subspace.

        ``keep`` (bool, one per row) marks rows that keep the base's own
        vectors; ``inputs`` is ``base`` already encoded.
        """
        ...


@runtime_checkable
class RunsSuffix(Protocol):
    """Writes vectors into a base's recorded tensor at a site and runs the suffix after it (``suffix``)."""

    def record(
        self, network: Network, batch: Batch, sites: Sequence[Site], *, inputs: Any, prefix: PrefixFn | None = None
    ) -> dict[Any, torch.Tensor]:
        """Like :meth:`Collects.collect`, on ``batch`` already encoded as ``inputs``; with ``prefix`` (a
        checked suffix's :attr:`~causalabs.network.suffix.Suffix.prefix`) by running it alone."""
        ...

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
        """Raw network output of ``base`` from its tensor ``h`` at the suffix's location, patched."""
        ...


@attrs.frozen(kw_only=True)
class Capabilities:
    """What a backend offers beyond ``interchange``; every flag defaults to no.

    Declare it on the backend class::

        class MyBackend:
            name = "mine"
            capabilities = Capabilities(collect=True, patch=True)
    """

    collect: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    patch: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    suffix: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))


#: The declaration of a backend that says nothing: it interchanges, and that is all.
INTERCHANGE_ONLY = Capabilities()


def _name(be: object) -> str:
    name = getattr(be, "name", None)
    return f"{name!r} ({type(be).__qualname__})" if isinstance(name, str) else type(be).__qualname__


def capabilities(be: object) -> Capabilities:
    """The backend's declared :class:`Capabilities` (:data:`INTERCHANGE_ONLY` when it declares none)."""
    declared = getattr(be, "capabilities", INTERCHANGE_ONLY)
    if not isinstance(declared, Capabilities):
        raise BackendError(
            f"backend {_name(be)}: capabilities must be a causalabs.backends.Capabilities, "
            f"got {type(declared).__name__}"
        )
    return declared


def _unhonoured(be: object, flag: str, methods: tuple[str, ...] = ()) -> BackendError:
    missing = [m for m in methods or (flag,) if not callable(getattr(be, m, None))] or list(methods or (flag,))
    return BackendError(
        f"backend {_name(be)} declares the {flag!r} capability but has no "
        + " and no ".join(f"{m}() method" for m in missing)
    )


@functools.lru_cache(maxsize=64)
def _class_honours(cls: type, proto: type) -> bool:
    """Whether instances of ``cls`` have every method of the runtime protocol ``proto`` (asked once per class)."""
    try:
        return issubclass(cls, proto)
    except TypeError:  # a protocol with data members: only instances can tell
        return False


def _honours(be: object, proto: type) -> bool:
    # the class check is cached: a protocol isinstance costs tens of microseconds on every engine call
    return _class_honours(type(be), proto) or isinstance(be, proto)


def collector(be: object) -> Collects | None:
    """The backend as a :class:`Collects` if it declares ``collect``, else None."""
    if not capabilities(be).collect:
        return None
    if _honours(be, Collects):
        return be
    raise _unhonoured(be, "collect")


def patcher(be: object) -> Patches | None:
    """The backend as a :class:`Patches` if it declares ``patch``, else None."""
    if not capabilities(be).patch:
        return None
    if _honours(be, Patches):
        return be
    raise _unhonoured(be, "patch")


def suffix_runner(be: object) -> RunsSuffix | None:
    """The backend as a :class:`RunsSuffix` if it declares ``suffix``, else None."""
    if not capabilities(be).suffix:
        return None
    if _honours(be, RunsSuffix):
        return be
    raise _unhonoured(be, "suffix", ("record", "patch_suffix"))


__all__ = [
    "INTERCHANGE_ONLY",
    "Capabilities",
    "Collects",
    "Interchanges",
    "Patches",
    "RunsSuffix",
    "capabilities",
    "collector",
    "patcher",
    "suffix_runner",
]
