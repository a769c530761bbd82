"""Sites: where in a network a high-level variable lives.

A :class:`Site` names a module by its dotted path (``layers.1``,
``transformer.h.3.mlp``), whether its input or output is meant, which token
positions (none for a plain ``(batch, width)`` activation), and which
subspace: all units, explicit unit indices, or coordinates ``[start:stop]``
of a featurizer.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any, Literal, Union

import attrs
import numpy as np
import torch
from torch import nn

from causalabs.errors import OverlappingSubspaceError, SiteError, UnknownModuleError
from causalabs.network.featurizers import Featurizer

#: Per-example positions: a function of the high-level input batch returning
#: an int array of shape (n,) or (n, P).
PositionFn = Callable[[dict[str, np.ndarray]], Any]
Positions = Union[None, tuple[int, ...], PositionFn]


def _positions(value: Any) -> Positions:
    if value is None or callable(value):
        return value
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    if isinstance(value, str):
        try:
            return (int(value),)
        except ValueError:  # a name (last, slot:S...): resolved through the network's text template
            from causalabs.network.text import PositionName

            return PositionName(value)
    return tuple(int(v) for v in value)


@attrs.frozen(eq=False)
class Subspace:
    """Which coordinates of a site's vector an intervention replaces.

    Exactly one of: nothing (all units), ``units`` (explicit indices), or
    ``featurizer`` with ``dims=(start, stop)``.
    """

    units: tuple[int, ...] | None = attrs.field(
        default=None, converter=lambda u: None if u is None else tuple(int(i) for i in u)
    )
    featurizer: Featurizer | None = None
    dims: tuple[int, int] | None = None

    def __attrs_post_init__(self) -> None:
        if self.units is not None and self.featurizer is not None:
            raise SiteError("a subspace is either explicit units or featurizer dims, not both")
        if self.featurizer is not None:
            if self.dims is None:
                raise SiteError("a featurizer subspace needs dims=(start, stop)")
            a, b = self.dims
            if not 0 <= a < b:
                raise SiteError(f"featurizer dims {self.dims} must satisfy 0 <= start < stop")
        if self.units is not None and len(set(self.units)) != len(self.units):
            raise SiteError(f"subspace units {self.units} repeat an index")

    @property
    def is_all(self) -> bool:
        return self.units is None and self.featurizer is None

    @property
    def size(self) -> int | None:
        """Number of coordinates replaced (None: all of them)."""
        if self.units is not None:
            return len(self.units)
        if self.dims is not None:
            return self.dims[1] - self.dims[0]
        return None

    def describe(self) -> str:
        if self.units is not None:
            return f"units {list(self.units)}" if len(self.units) <= 8 else f"{len(self.units)} units"
        if self.featurizer is not None:
            assert self.dims is not None
            return f"{type(self.featurizer).__name__}[{self.dims[0]}:{self.dims[1]}]"
        return "all units"


ALL = Subspace()


@attrs.frozen(eq=False)
class Site:
    """A place in a network: module path, input or output, positions, subspace."""

    module: str
    io: Literal["output", "input"] = "output"
    positions: Positions = attrs.field(default=None, converter=_positions)
    subspace: Subspace = ALL

    def __attrs_post_init__(self) -> None:
        if self.io not in ("output", "input"):
            raise SiteError(f"site {self.module!r}: io must be 'output' or 'input', got {self.io!r}")
        if isinstance(self.positions, tuple) and not self.positions:
            raise SiteError(f"site {self.module!r}: positions is empty")

    @property
    def name(self) -> str:
        pos = ""
        if isinstance(self.positions, tuple):
            pos = f"[pos {','.join(map(str, self.positions))}]"
        elif self.positions is not None:
            pos = f"[pos {getattr(self.positions, '__name__', 'fn')}]"
        sub = "" if self.subspace.is_all else f"<{self.subspace.describe()}>"
        return f"{self.module}.{self.io}{pos}{sub}"

    def __repr__(self) -> str:
        return f"Site({self.name})"

    def location_key(self) -> tuple[Any, ...]:
        """What identifies the recorded vector (module, io, positions), ignoring the subspace."""
        pos = self.positions if not callable(self.positions) else id(self.positions)
        return (self.module, self.io, pos)


def site(
    module: str,
    *,
    io: Literal["output", "input"] = "output",
    positions: Any = None,
    units: Sequence[int] | None = None,
    featurizer: Featurizer | None = None,
    dims: tuple[int, int] | None = None,
) -> Site:
    """Build a :class:`Site` in one call: ``site("layers.1", units=range(8))``."""
    sub = ALL if units is None and featurizer is None else Subspace(units, featurizer, dims)
    return Site(module, io, positions, sub)


def resolve_module(root: nn.Module, path: str, *, network: str = "network") -> nn.Module:
    """The submodule at ``path``; an unknown path lists the closest names."""
    try:
        return root.get_submodule(path)  # a walk down the path: no scan of the whole tree
    except AttributeError:
        pass
    names = [n for n, _ in root.named_modules() if n]
    close = difflib.get_close_matches(path, names, n=5, cutoff=0.5)
    hint = (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close
            else f"; its modules include {', '.join(repr(n) for n in names[:8])}")
    raise UnknownModuleError(f"site {path!r}: {network} has no module {path!r}{hint}")


def check_disjoint(sites: Sequence[Site]) -> None:
    """Raise if two sites would write the same coordinates of the same vector."""
    for i, a in enumerate(sites):
        for b in sites[i + 1 :]:
            if (a.module, a.io) != (b.module, b.io):
                continue
            pa, pb = a.positions, b.positions
            if isinstance(pa, tuple) and isinstance(pb, tuple) and not set(pa) & set(pb):
                continue
            if subspaces_disjoint(a.subspace, b.subspace):
                continue
            raise OverlappingSubspaceError(
                f"sites {a.name} and {b.name} overlap: both write {a.module}.{a.io} "
                "on shared positions and coordinates"
            )


def subspaces_disjoint(a: Subspace, b: Subspace) -> bool:
    """True when two subspaces of one vector surely share no coordinate (units as given)."""
    if a.units is not None and b.units is not None:
        return not set(a.units) & set(b.units)
    if a.featurizer is not None and a.featurizer is b.featurizer:
        assert a.dims is not None and b.dims is not None
        return a.dims[1] <= b.dims[0] or b.dims[1] <= a.dims[0]
    return False


def check_featurizer_width(s: Site, width: int) -> None:
    """Raise if the site's subspace does not fit a vector of ``width`` units."""
    sub = s.subspace
    if sub.featurizer is not None:
        assert sub.dims is not None
        if sub.featurizer.width != width:
            raise SiteError(
                f"site {s.name}: featurizer width {sub.featurizer.width} does not match the "
                f"activation width {width}"
            )
        coords = int(getattr(sub.featurizer, "coords", width))
        if sub.dims[1] > coords:
            raise SiteError(
                f"site {s.name}: dims {sub.dims} exceed the featurizer's {coords} coordinates"
            )
    if sub.units is not None:
        bad = [u for u in sub.units if not -width <= u < width]
        if bad:
            raise SiteError(f"site {s.name}: unit index {bad[0]} is out of range for width {width}")


def bound_positions(s: Site, network: Any) -> Positions:
    """The site's positions, a position name bound to ``network``'s template if it is not bound yet."""
    from causalabs.network.text import PositionName

    p = s.positions
    if isinstance(p, PositionName) and p.template is None and network is not None:
        template = getattr(network.encode, "__wrapped__", network.encode)
        if not hasattr(template, "position"):
            raise SiteError(
                f"site {s.name}: position {p.__name__!r} names tokens, but {network.name}'s encode is not a "
                "TextTemplate or TokenTemplate"
            )
        resolved = template.position(p.__name__)
        return resolved if isinstance(resolved, PositionName) or callable(resolved) else tuple(resolved)
    return p


def bind_positions(alignment: Any, network: Any) -> Any:
    """``alignment`` with every position name bound to ``network``'s template (an alignment without names as is)."""
    from causalabs.network.text import PositionName

    if not any(isinstance(s.positions, PositionName) and s.positions.template is None for s in alignment.sites.values()):
        return alignment
    sites = {v: attrs.evolve(s, positions=bound_positions(s, network)) for v, s in alignment.sites.items()}
    return attrs.evolve(alignment, sites=sites)


def positions_tensor(s: Site, batch: dict[str, np.ndarray], n: int, network: Any = None) -> torch.Tensor | None:
    """The site's positions for each row as a CPU LongTensor of shape (n, P), or None.

    ``network``: binds a position name (``last``, ``slot:S``) to the network's template.
    """
    positions = bound_positions(s, network)
    if positions is None:
        return None
    if callable(positions):
        raw = np.asarray(positions(batch))
        if raw.ndim == 1:
            raw = raw[:, None]
        if raw.shape[0] != n:
            raise SiteError(f"site {s.name}: the position function returned {raw.shape[0]} rows for {n}")
        return torch.as_tensor(raw.astype(np.int64))
    return torch.tensor(positions, dtype=torch.long).expand(n, len(positions))


def fixed_positions(network: Any, location: Site, batch: dict[str, np.ndarray]) -> tuple[int, ...] | None:
    """``location``'s positions as one tuple when they are the same in every row of ``batch`` (fixed ones, or a
    name such as ``last`` on prompts of one length); None otherwise, and for every position."""
    if location.positions is None:
        return None
    if isinstance(location.positions, tuple):
        return location.positions
    n = len(next(iter(batch.values())))
    rows = positions_tensor(location, batch, n, network)
    if rows is None or n == 0 or not bool((rows == rows[:1]).all()):
        return None
    return tuple(int(q) for q in rows[0])
