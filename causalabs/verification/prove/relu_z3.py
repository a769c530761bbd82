"""ReLU MLPs in z3, exactly: the network side of :func:`causalabs.verification.prove`.

A network here is any module whose ``torch.fx`` graph is one chain of
``Linear``, ``ReLU``, identity and flatten steps (:mod:`.graph`): an
``nn.Sequential`` of them, or a custom module built from them.  Every
float32 weight becomes the rational number it stores exactly
(``fractions.Fraction(float(w))``), so the encoding is the network evaluated
in exact rational arithmetic, not in float32.

A vector is a list whose entries are ``Fraction`` constants (folded eagerly)
or z3 ``Real`` terms.  Layer outputs that are not constant get a fresh
``Real`` tied by an equality, so terms stay small when layers are dense.
Positions in the chain are numbered ``0..L``: position ``p`` is the input
of step ``p`` (and the output of step ``p - 1``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any, TypeAlias, Union

import attrs
import numpy as np
import torch
import z3
from torch import nn

from causalabs.errors import UnsupportedNetworkError
from causalabs.network.network import Network
from causalabs.network.sites import Site
from causalabs.scm.model import CausalModel
from causalabs.verification.prove.graph import chain, site_span, spans_of

__all__ = [
    "Layers",
    "UnsupportedNetworkError",
    "Vec",
    "argmax_classes",
    "check_call",
    "exact",
    "mlp_layers",
    "site_position",
]

Entry: TypeAlias = Union[Fraction, z3.ArithRef]  # noqa: UP007
Vec = list[Entry]


def exact(values: torch.Tensor | np.ndarray) -> list:
    """A tensor's values as nested lists of exact ``Fraction`` (float32 -> its exact rational)."""
    arr = values.detach().cpu().double().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise UnsupportedNetworkError("a weight or encoded input is not finite (NaN or inf)")
    return np.vectorize(lambda x: Fraction(float(x)), otypes=[object])(arr).tolist()


@attrs.frozen(eq=False)
class Layers:
    """The steps of a traced module (:func:`~.graph.chain`) as exact rational maps."""

    #: per step: its module path, or ``"<node>"`` for a function
    names: tuple[str, ...]
    #: per step: ("linear", W rows (list of lists of Fraction), b) | ("relu",) | ("identity",)
    ops: tuple[tuple, ...]
    in_width: int
    out_width: int
    #: module path -> (first, last) step it covers; modules that run more than once
    spans: dict[str, tuple[int, int]] = attrs.field(factory=dict)
    repeated: frozenset[str] = frozenset()


def mlp_layers(module: nn.Module, *, network: str = "network") -> Layers:
    """Trace ``module`` (torch.fx), check it is one chain of Linear / ReLU / identity / flatten, read it exactly."""
    where = f"{network} ({type(module).__name__})"
    steps = chain(module, network=where)
    names: list[str] = []
    ops: list[tuple[Any, ...]] = []
    width_in: int | None = None
    width = None
    for name, op, _ in steps:
        if op[0] == "linear":
            child = op[1]
            w = exact(child.weight)
            b = exact(child.bias) if child.bias is not None else [Fraction(0)] * child.out_features
            if width is not None and child.in_features != width:
                raise UnsupportedNetworkError(
                    f"{where}: module {name!r} takes {child.in_features} features, gets {width}"
                )
            if width_in is None:
                width_in = child.in_features
            width = child.out_features
            ops.append(("linear", w, b))
        else:
            ops.append(op)
        names.append(name)
    if width_in is None or width is None:
        raise UnsupportedNetworkError(f"{where}: the traced graph holds no Linear layer")
    spans, repeated = spans_of(steps)
    return Layers(tuple(names), tuple(ops), width_in, width, spans, repeated)


def site_position(layers: Layers, s: Site) -> int:
    """Where in the chain a site's vector sits (see the module docstring)."""
    return site_span(s, layers.spans, layers.repeated)


class Builder:
    """Collects fresh z3 variables and their defining constraints."""

    def __init__(self) -> None:
        self.constraints: list[z3.BoolRef] = []
        self._n = 0

    def fresh(self, tag: str, term: z3.ArithRef) -> z3.ArithRef:
        self._n += 1
        v = z3.Real(f"{tag}!{self._n}")
        self.constraints.append(v == term)
        return v

    def affine(self, rows: Sequence[Sequence[Fraction]], bias: Sequence[Fraction], x: Vec, tag: str) -> Vec:
        """``W x + b`` (W as rows), constants folded, zero weights skipped."""
        out: Vec = []
        for j, row in enumerate(rows):
            c = bias[j]
            terms = []
            for w, xi in zip(row, x):
                if w == 0:
                    continue
                if isinstance(xi, Fraction):
                    c += w * xi
                else:
                    terms.append(xi if w == 1 else z3.RealVal(w) * xi)
            if not terms:
                out.append(c)
            else:
                t = z3.Sum(terms) if len(terms) > 1 else terms[0]
                out.append(self.fresh(f"{tag}[{j}]", t + z3.RealVal(c) if c != 0 else t))
        return out

    def relu(self, x: Vec, tag: str) -> Vec:
        return [
            max(xi, Fraction(0)) if isinstance(xi, Fraction) else self.fresh(f"{tag}[{j}]", z3.If(xi > 0, xi, 0))
            for j, xi in enumerate(x)
        ]

    def run(self, layers: Layers, x: Vec, start: int, stop: int, tag: str) -> Vec:
        """The children ``start..stop-1`` applied to ``x`` (the vector at position ``start``)."""
        for k in range(start, stop):
            op = layers.ops[k]
            where = f"{tag}.{layers.names[k]}"
            if op[0] == "linear":
                x = self.affine(op[1], op[2], x, where)
            elif op[0] == "relu":
                x = self.relu(x, where)
        return x


def term(e: Entry) -> z3.ArithRef:
    """An entry as a z3 term."""
    return z3.RealVal(e) if isinstance(e, Fraction) else e


def sub(a: Entry, b: Entry) -> Entry:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a - b
    return term(a) - term(b)


def lin(coeffs: Iterable[tuple[Fraction, Entry]], const: Fraction = Fraction(0)) -> Entry:
    """``const + sum c * e``, folded when everything is constant."""
    terms: list[z3.ArithRef] = []
    for c, e in coeffs:
        if c == 0:
            continue
        if isinstance(e, Fraction):
            const += c * e
        else:
            terms.append(e if c == 1 else z3.RealVal(c) * e)
    if not terms:
        return const
    t = z3.Sum(terms) if len(terms) > 1 else terms[0]
    return t + z3.RealVal(const) if const != 0 else t


# --- decoder and call ---------------------------------------------------------


def argmax_classes(network: Network, layers: Layers) -> tuple[int, ...]:
    """The classes of an argmax decoder (first maximum wins), checked by probing ``decode``."""
    c = layers.out_width
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, c, generator=g)
    logits[0] = 0.0  # all tied: the first class
    if c > 1:
        logits[1] = 0.0
        logits[1, c - 1] = 1.0
    try:
        d = network.decode(logits.to(network.device))
    except Exception as exc:
        raise UnsupportedNetworkError(f"{network.name}: decode failed on probe logits: {exc}") from exc
    classes = getattr(d, "classes", None)
    if classes is None or len(classes) != c:
        raise UnsupportedNetworkError(
            f"{network.name}: prove needs an argmax decoder with one class per logit "
            f"({c} logits, decoder classes {classes})"
        )
    classes = tuple(int(k) for k in classes)
    want = torch.tensor(classes)[logits.argmax(-1)]
    if not torch.equal(d.values.cpu().reshape(-1).long(), want):
        raise UnsupportedNetworkError(
            f"{network.name}: decode is not value = classes[argmax(logits)] (first maximum on ties)"
        )
    return classes


def check_call(network: Network, model: CausalModel) -> None:
    """``network.call`` must be the module called on the encoded tensor (checked on a few inputs)."""
    doms = [model.variables[n].domain for n in model.inputs]
    batch = {n: np.array([int(d[i % len(d)]) for i in range(4)], dtype=np.int64) for n, d in zip(model.inputs, doms)}
    with torch.no_grad():
        x = network.encode(batch)
        if isinstance(x, torch.Tensor):
            x = x.to(network.device)
        via_call = network.call(network.module, x)
        direct = network.module(x)
    if not (isinstance(via_call, torch.Tensor) and torch.equal(via_call, direct)):
        raise UnsupportedNetworkError(
            f"{network.name}: network.call does more than call the module on the encoded tensor; "
            "prove encodes the module alone"
        )
