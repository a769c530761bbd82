"""Correspondences: which hypothesis nodes are claimed at which network sites, as a tree.

A :class:`Correspondence` maps some variables of a hypothesis to network
sites (an :class:`~causalabs.network.Alignment`, possibly of rotated
subspaces).  Variables without a site are *unclaimed*: the hypothesis says
nothing about where they live, so they are absorbed into the computation of
the nearest claimed node downstream of them.

Scrubbing walks the hypothesis from its output towards its inputs.  For a
node ``n`` (a claimed node, or the output) :meth:`Correspondence.children`
are the claimed nodes reached from ``n`` through unclaimed nodes only, and
:meth:`Correspondence.input_key` the input variables that are direct
parents of ``n``: the inputs that the hypothesis says feed ``n``'s site.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.backends.hooks import StopForward, edit_hooks
from causalabs.errors import CorrespondenceError, SiteError
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, encode
from causalabs.network.sites import Site, check_disjoint, resolve_module
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import model_of

Batch = dict[str, np.ndarray]


@attrs.frozen(eq=False)
class Correspondence:
    """A hypothesis (as a :class:`CausalModel`) and the sites of its claimed nodes.

    Build one with :func:`correspondence`, which checks the node names and
    the tree shape.  ``sites`` maps node name -> site; every other variable
    is unclaimed.
    """

    model: CausalModel
    sites: Mapping[str, Site]

    @property
    def claimed(self) -> tuple[str, ...]:
        """Claimed nodes in the hypothesis' topological order."""
        return tuple(n for n in self.model.variables if n in self.sites)

    @property
    def root(self) -> str:
        """The output node, where treeification starts."""
        return self.model.output

    def _walk(self, node: str) -> tuple[list[str], list[str]]:
        children: list[str] = []
        inputs: list[str] = []
        seen: set[str] = set()
        stack = list(self.model.variables[node].parents)
        while stack:
            p = stack.pop()
            if p in seen:
                continue
            seen.add(p)
            var = self.model.variables[p]
            if p in self.sites:
                children.append(p)
            elif var.is_input:
                if p in self.model.variables[node].parents:
                    inputs.append(p)
            else:
                stack.extend(var.parents)
        order = list(self.model.variables)
        return sorted(children, key=order.index), sorted(inputs, key=order.index)

    def children(self, node: str) -> tuple[str, ...]:
        """Claimed nodes that feed ``node`` through unclaimed nodes only (its children in the tree)."""
        return tuple(self._walk(node)[0])

    def input_key(self, node: str) -> tuple[str, ...]:
        """Input variables that are direct parents of ``node``: the inputs it is claimed to read.

        Inputs that reach ``node`` only through an unclaimed internal node are
        not in the key: the hypothesis does not say where that node is
        computed, so its inputs are resampled at random.
        """
        return tuple(self._walk(node)[1])

    def heights(self) -> dict[str, int]:
        """Height of each claimed node in the tree (0: no claimed children)."""
        out: dict[str, int] = {}
        for n in self.claimed:  # topological: children come first
            out[n] = 1 + max((out[c] for c in self.children(n)), default=-1)
        return out

    def describe(self) -> str:
        claimed = "; ".join(f"{n} -> {s.name}" for n, s in self.sites.items()) or "nothing"
        return f"{self.model.name}: {claimed}"


def correspondence(hypothesis: Any, alignment: Alignment | Mapping[str, Site]) -> Correspondence:
    """Check and build a :class:`Correspondence` of ``hypothesis`` (class or model) to sites.

    Raises :class:`~causalabs.errors.CorrespondenceError` when a node is not a
    variable of the hypothesis, is an input variable (inputs are the
    network's input itself), or is claimed by two nodes of the tree (the
    network holds one copy of a site, so treeification would need two).
    """
    model = model_of(hypothesis)
    raw = alignment.sites if isinstance(alignment, Alignment) else dict(alignment)
    sites: dict[str, Site] = {}
    for key, s in raw.items():
        name = getattr(key, "name", key)
        if name not in model.variables:
            raise CorrespondenceError(
                f"correspondence maps {name!r}, which {model.name} does not have "
                f"(its variables: {', '.join(model.variables)})"
            )
        if model.variables[name].is_input:
            raise CorrespondenceError(
                f"correspondence maps the input variable {name!r} of {model.name}; inputs are the "
                "network's input itself: claim internal or output variables"
            )
        if not isinstance(s, Site):
            raise CorrespondenceError(f"correspondence of {name!r}: expected a Site, got {type(s).__name__}")
        sites[name] = s
    check_disjoint(list(sites.values()))
    return Correspondence(model, sites)


def execution_order(network: Network, batch: Batch, locations: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """When each ``(module, io)`` first fires in one forward pass on ``batch`` (rank, 0 = first).

    An input site fires when its module starts, an output site when it
    ends.  Raises :class:`~causalabs.errors.UnknownModuleError` for a module
    path the network lacks and :class:`~causalabs.errors.SiteError` for one
    that never runs.
    """
    order: dict[tuple[str, str], int] = {}
    wanted = list(dict.fromkeys(locations))
    edits = []
    for path, io in wanted:
        module = resolve_module(network.module, path, network=network.name)

        def note(x: torch.Tensor, key: tuple[str, str] = (path, io)) -> torch.Tensor:
            order.setdefault(key, len(order))
            if len(order) == len(wanted):
                raise StopForward
            return x

        edits.append((module, io, f"{path}.{io}", note))
    inputs = encode(network, batch)
    with torch.no_grad(), edit_hooks(edits), contextlib.suppress(StopForward):
        network.call(network.module, inputs)
    missing = [f"{p}.{io}" for p, io in wanted if (p, io) not in order]
    if missing:
        raise SiteError(f"site {', '.join(missing)}: the module never ran in {network.name}'s forward pass")
    return order


def check_order(corr: Correspondence, network: Network, batch: Batch) -> None:
    """Raise unless every claimed child's site runs strictly before its parent's site.

    The order is read from one forward pass on ``batch`` (one row suffices).
    """
    if not corr.sites:
        return
    locs = [(s.module, s.io) for s in corr.sites.values()]
    order = execution_order(network, batch, locs)
    for n in corr.claimed:
        sn = corr.sites[n]
        for c in corr.children(n):
            sc = corr.sites[c]
            if order[(sc.module, sc.io)] >= order[(sn.module, sn.io)]:
                raise CorrespondenceError(
                    f"correspondence breaks {corr.model.name}'s order: {c!r} feeds {n!r} in the "
                    f"hypothesis, but its site {sc.name} does not run before {n!r}'s site {sn.name}"
                )
