"""A network's module as a chain of exact steps, read from its ``torch.fx`` graph.

:func:`traced_layers` traces the module with ``torch.fx.symbolic_trace`` and
accepts any module whose graph is one chain from its single input to its
output, each step one of

* ``nn.Linear`` (its float32 weights read as exact rationals);
* ``nn.ReLU``, ``torch.relu``, ``F.relu``, ``x.relu()``;
* ``nn.Identity``;
* ``nn.Flatten()``, ``torch.flatten(x, 1)``, ``x.flatten(1)`` (the identity on
  the ``(batch, width)`` tensors prove works with).

``nn.Sequential`` stacks of these, custom modules built from them and
nested containers all qualify.  Anything else -- another module or
function, a branch (a residual sum), a second input -- raises
:class:`~causalabs.errors.UnsupportedNetworkError` naming the first node at
fault.  Sites are found by module path: a step's position range comes from
the module stack ``torch.fx`` records on every node, so a site may name a
leaf module or a container (its input is the input of its first step, its
output the output of its last).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from causalabs.errors import SiteError, UnsupportedNetworkError
from causalabs.network.sites import Site

__all__ = ["SUPPORTED", "Step", "chain", "site_span", "spans_of"]

SUPPORTED = "Linear, ReLU, Identity and Flatten (start_dim=1)"

_RELU_FUNCTIONS = (torch.relu, torch.nn.functional.relu)


def _describe(node: torch.fx.Node, root: nn.Module) -> str:
    if node.op == "call_module":
        return f"module {node.target!r} is {type(root.get_submodule(str(node.target))).__name__}"
    if node.op == "call_function":
        return f"node {node.name!r} calls {getattr(node.target, '__name__', node.target)}"
    if node.op == "call_method":
        return f"node {node.name!r} calls the tensor method {node.target}"
    if node.op == "get_attr":
        return f"node {node.name!r} reads the attribute {node.target}"
    return f"node {node.name!r} ({node.op})"


def _flatten_is_identity(start_dim: Any, end_dim: Any = -1) -> bool:
    return start_dim == 1 and end_dim == -1


def _step(node: torch.fx.Node, root: nn.Module) -> tuple[Any, ...] | None:
    """The exact step a node computes, or None when it is not one prove encodes."""
    args, kwargs = node.args, node.kwargs
    if node.op == "call_module":
        mod = root.get_submodule(str(node.target))
        if type(mod) is nn.Linear:
            return ("linear", mod)
        if type(mod) is nn.ReLU:
            return ("relu",)
        if type(mod) is nn.Identity:
            return ("identity",)
        if type(mod) is nn.Flatten and _flatten_is_identity(mod.start_dim, mod.end_dim):
            return ("identity",)
        return None
    if node.op == "call_function":
        if node.target in _RELU_FUNCTIONS and len(args) == 1 and set(kwargs) <= {"inplace"}:
            return ("relu",)
        if node.target is torch.flatten and len(args) >= 1:
            dims = dict(zip(("start_dim", "end_dim"), args[1:])) | dict(kwargs)
            if _flatten_is_identity(dims.get("start_dim", 0), dims.get("end_dim", -1)):
                return ("identity",)
        return None
    if node.op == "call_method":
        if node.target == "relu" and len(args) == 1 and not kwargs:
            return ("relu",)
        if node.target == "flatten":
            dims = dict(zip(("start_dim", "end_dim"), args[1:])) | dict(kwargs)
            if _flatten_is_identity(dims.get("start_dim", 0), dims.get("end_dim", -1)):
                return ("identity",)
        return None
    return None


def _others(node: torch.fx.Node) -> list[Any]:
    """Every argument of ``node`` but the first (tensors other than the chain's would be branches)."""
    return [*node.args[1:], *node.kwargs.values()]


Step = tuple[str, tuple[Any, ...], list[tuple[str, str]]]


def chain(module: nn.Module, *, network: str = "network") -> list[Step]:
    """The steps of ``module``'s traced graph, in order.

    Each step is ``(label, op, stack)``: ``op`` is ``("linear", nn.Linear)``,
    ``("relu",)`` or ``("identity",)``; ``label`` the module path (or
    ``"<node name>"`` for a function); ``stack`` the ``(call key, module
    path)`` of every module the step runs inside, outermost first.
    """
    try:
        gm = torch.fx.symbolic_trace(module)
    except Exception as exc:
        raise UnsupportedNetworkError(
            f"{network}: prove decides networks built from Linear, ReLU, Identity and Flatten layers in one "
            f"chain, read with torch.fx.symbolic_trace, which cannot trace {type(module).__name__} "
            f"({type(exc).__name__}: {exc}); check this claim with --mode exhaustive or sample"
        ) from None
    nodes = list(gm.graph.nodes)
    inputs = [n for n in nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        raise UnsupportedNetworkError(
            f"{network}: {type(module).__name__}.forward takes {len(inputs)} inputs; prove needs exactly one"
        )
    current = inputs[0]
    steps: list[Step] = []
    for node in nodes:
        if node.op == "placeholder":
            continue
        if node.op == "output":
            if node.args[0] is not current:
                raise UnsupportedNetworkError(
                    f"{network}: the module returns {node.args[0]!r}, not the last step of one chain"
                )
            break
        step = _step(node, module)
        if step is None:
            raise UnsupportedNetworkError(
                f"{network}: {_describe(node, module)}; prove encodes only chains of {SUPPORTED}"
            )
        if not node.args or node.args[0] is not current or any(isinstance(a, torch.fx.Node) for a in _others(node)):
            raise UnsupportedNetworkError(
                f"{network}: {_describe(node, module)} does not take the previous step's output alone "
                "(a branch or a second input); prove encodes one chain of steps"
            )
        if len(current.users) != 1:
            users = ", ".join(repr(u.name) for u in current.users)
            raise UnsupportedNetworkError(
                f"{network}: the output of {current.name!r} is used by {users}: the graph branches; "
                "prove encodes one chain of steps"
            )
        label = str(node.target) if node.op == "call_module" else f"<{node.name}>"
        stack = [(str(key), str(value[0])) for key, value in (node.meta.get("nn_module_stack") or {}).items()]
        steps.append((label, step, stack))
        current = node
    return steps


def spans_of(steps: list[Step]) -> tuple[dict[str, tuple[int, int]], frozenset[str]]:
    """Per module path, the (first, last) step it covers; and the paths that run more than once."""
    spans: dict[str, tuple[int, int]] = {}
    calls: dict[str, set[str]] = {}
    for k, (_, _, stack) in enumerate(steps):
        for key, path in stack:
            calls.setdefault(path, set()).add(key)
            spans[path] = (spans.get(path, (k, k))[0], k)
    return spans, frozenset(p for p, keys in calls.items() if len(keys) > 1)


def site_span(site: Site, spans: Mapping[str, tuple[int, int]], repeated: frozenset[str]) -> int:
    """Where a site's vector sits: position ``p`` is the input of step ``p`` (the output of step ``p - 1``)."""
    if site.positions is not None:
        raise SiteError(f"site {site.name}: prove handles (batch, width) activations; this site has positions")
    if site.module in repeated:
        raise SiteError(f"site {site.name}: module {site.module!r} runs more than once in the forward pass")
    if site.module not in spans:
        known = ", ".join(sorted(spans)) or "none"
        raise SiteError(f"site {site.name}: {site.module!r} is not a module of the traced graph (modules: {known})")
    first, last = spans[site.module]
    return first if site.io == "input" else last + 1
