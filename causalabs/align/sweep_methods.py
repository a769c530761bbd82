"""Sweep methods: what a sweep fits at each location (DAS, or full-site patching that needs no training)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from causalabs.align.das import fit_das
from causalabs.align.settings import DAS_SETTINGS
from causalabs.errors import SweepError
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network
from causalabs.network.sites import Site


class SiteMethod(Protocol):
    """Fits an alignment of ``variables`` at one location.

    ``name`` and ``config`` (JSON-able settings) identify the method in result
    files; ``k`` is the subspace size it gives each variable set (None: every
    unit of the site).
    """

    name: str

    def __call__(
        self, network: Network, location: Site, variables: tuple[str, ...], train: Sequence[Any], seed: int
    ) -> Alignment: ...


@attrs.frozen
class FullSite:
    """Full-site patching: one variable owns every unit of the location; nothing is trained."""

    name: str = "full"

    @property
    def config(self) -> dict[str, Any]:
        return {}

    def k(self, variables: tuple[str, ...]) -> int | None:
        return None

    def __call__(
        self, network: Network, location: Site, variables: tuple[str, ...], train: Sequence[Any], seed: int
    ) -> Alignment:
        if len(variables) != 1:
            raise SweepError(
                f"full-site patching at {location.name} aligns one variable, got {'+'.join(variables)}; "
                "give each variable its own set or use DAS"
            )
        return Alignment({variables[0]: location}, info={"method": self.name})


@attrs.frozen
class DAS:
    """Distributed alignment search (:func:`~causalabs.align.das.fit_das`) with ``dims`` per variable.

    ``epochs`` is a cap; training stops after ``patience`` epochs without
    held-out improvement (``None``: exactly ``epochs``).  Defaults:
    :data:`causalabs.align.settings.DAS_SETTINGS`.
    """

    dims: int | Mapping[str, int] = 1
    epochs: int = DAS_SETTINGS.epochs
    batch_size: int = DAS_SETTINGS.batch_size
    lr: float = DAS_SETTINGS.lr
    patience: int | None = DAS_SETTINGS.patience
    name: str = "das"

    def _dims(self, variables: tuple[str, ...]) -> dict[str, int]:
        if isinstance(self.dims, int):
            return {v: self.dims for v in variables}
        missing = [v for v in variables if v not in self.dims]
        if missing:
            raise SweepError(f"DAS sweep: variable {missing[0]!r} has no dims (dims: {dict(self.dims)})")
        return {v: int(self.dims[v]) for v in variables}

    @property
    def config(self) -> dict[str, Any]:
        dims = self.dims if isinstance(self.dims, int) else dict(sorted(self.dims.items()))
        return {"dims": dims, "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "patience": self.patience}

    def k(self, variables: tuple[str, ...]) -> int | None:
        return sum(self._dims(variables).values())

    def __call__(
        self, network: Network, location: Site, variables: tuple[str, ...], train: Sequence[Any], seed: int
    ) -> Alignment:
        if not train:
            raise SweepError(f"DAS sweep at {location.name}: no training dataset intervenes within {'+'.join(variables)}")
        return fit_das(
            network, location, self._dims(variables), train,
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, patience=self.patience, seed=seed,
        ).alignment
