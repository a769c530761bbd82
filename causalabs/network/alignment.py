"""``Alignment``: a map from hypothesis variables to network sites."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from causalabs.errors import AlignmentError
from causalabs.network.sites import Site, check_disjoint


def _freeze_sites(value: Mapping[Any, Site]) -> dict[str, Site]:
    out: dict[str, Site] = {}
    for k, v in value.items():
        name = getattr(k, "name", k)
        if not isinstance(name, str):
            raise AlignmentError(f"alignment keys must be variable names, got {k!r}")
        if not isinstance(v, Site):
            raise AlignmentError(f"alignment of {name!r}: expected a causalabs Site, got {type(v).__name__}")
        out[name] = v
    return out


@attrs.frozen(eq=False)
class Alignment:
    """Which site holds each high-level variable (variables by name or class symbol)."""

    sites: dict[str, Site] = attrs.field(converter=_freeze_sites)
    info: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        check_disjoint(list(self.sites.values()))

    def __getitem__(self, variable: str) -> Site:
        try:
            return self.sites[variable]
        except KeyError:
            raise AlignmentError(
                f"the alignment has no site for {variable!r}; it aligns {', '.join(self.sites)}"
            ) from None

    def check_against(self, model: Any) -> None:
        """Raise if a variable of the alignment is not an internal variable of ``model``."""
        for name in self.sites:
            if name not in model.variables:
                raise AlignmentError(
                    f"the alignment maps {name!r}, which {model.name} does not have "
                    f"(its variables: {', '.join(model.variables)})"
                )

    def describe(self) -> str:
        return "; ".join(f"{v} -> {s.name}" for v, s in self.sites.items())
