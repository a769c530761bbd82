"""The z3 query of :func:`causalabs.verification.prove.prove`: one formula per intervened set.

Its solutions are a base input and one source per intervened variable where
the network's decision (exact rationals, first-index argmax) under the
aligned interchange differs from the hypothesis' counterfactual output; the
base and every source satisfy the hypothesis' requirements on its inputs
(``ca.require``; tabulated sources come from the admissible inputs only).
Sources are either chosen among the exact source tables
(:func:`.sites.source_table`) or, above the table limit, symbolic copies of
the network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import z3

from causalabs.errors import AlignmentError
from causalabs.network.alignment import Alignment
from causalabs.network.sites import Site
from causalabs.scm._z3translate import in_domain, requirements, to_z3
from causalabs.scm.model import CausalModel
from causalabs.verification.prove.inputs import InputEncoding
from causalabs.verification.prove.relu_z3 import Builder, Layers, Vec, site_position, term
from causalabs.verification.prove.sites import mix, mix_key, source_table, width_at

__all__ = ["encode_query", "first_stop", "site_positions", "table"]


def decision(b: Builder, logits: Vec, classes: Sequence[int], tag: str) -> z3.ArithRef:
    """The decoded value: ``classes[k]`` with ``k`` the first index of the largest logit."""
    if len(logits) == 1:
        return z3.IntVal(classes[0])
    m = z3.Real(f"{tag}.max")
    k = z3.Int(f"{tag}.argmax")
    b.constraints.append(z3.And(k >= 0, k < len(logits)))
    for i, li in enumerate(logits):
        t = term(li)
        b.constraints += [t <= m, z3.Implies(k == i, t == m), z3.Implies(k > i, t < m)]
    out: z3.ArithRef = z3.IntVal(classes[-1])
    for i in range(len(classes) - 2, -1, -1):
        out = z3.If(k == i, classes[i], out)
    return out


def _ints(model: CausalModel, prefix: str) -> dict[str, z3.ArithRef]:
    return {n: z3.Int(f"{prefix}{n}") for n in model.inputs}


def _read(m: z3.ModelRef, xs: Mapping[str, z3.ArithRef]) -> dict[str, int]:
    return {n: m.eval(x, model_completion=True).as_long() for n, x in xs.items()}


def first_stop(layers: Layers) -> int:
    """Position after the first Linear if only Identity layers precede it (folded with the encoder)."""
    for k, op in enumerate(layers.ops):
        if op[0] == "linear":
            return k + 1
        if op[0] != "identity":
            return 0
    return 0


def _run(b: Builder, layers: Layers, enc: InputEncoding, xs: Mapping[str, z3.ArithRef], stop: int, tag: str) -> Vec:
    """The clean run from the encoded input up to position ``stop``, the first Linear folded with the encoder."""
    first = first_stop(layers)
    if first == 0 or stop < first:
        return b.run(layers, enc.vector(xs), 0, stop, tag)
    op = layers.ops[first - 1]
    x = [e if isinstance(e, Fraction) else b.fresh(f"{tag}.{layers.names[first - 1]}[{j}]", e)
         for j, e in enumerate(enc.affine(op[1], op[2], xs))]
    return b.run(layers, x, first, stop, tag)


def site_positions(layers: Layers, alignment: Alignment, group: tuple[str, ...]) -> tuple[list[tuple[str, Site]], dict[str, int]]:
    """The group's sites and their positions, checked against the activation widths."""
    sites = [(v, alignment[v]) for v in group]
    pos = {v: site_position(layers, s) for v, s in sites}
    for v, s in sites:
        w = width_at(layers, pos[v])
        if s.subspace.units is not None:
            bad = [u for u in s.subspace.units if not -w <= u < w]
            if bad:
                raise AlignmentError(f"site {s.name}: unit {bad[0]} is out of range")
        elif s.subspace.featurizer is not None and getattr(s.subspace.featurizer, "width", None) != w:
            raise AlignmentError(f"site {s.name}: featurizer width does not match the activation width {w}")
    return sites, pos


def table(
    model: CausalModel, layers: Layers, enc: InputEncoding, s: Site, v: str, p: int, tables: dict[str, Any],
    vectors: dict[int, Any] | None = None, tick: Any = None,
) -> Any:
    """Variable ``v``'s exact source table (:func:`.sites.source_table`), kept in ``tables``."""
    if v not in tables:
        tables[v] = source_table(model, layers, enc, s, v, p, vectors, tick)
    return tables[v]


def encode_query(
    model: CausalModel,
    layers: Layers,
    enc: InputEncoding,
    alignment: Alignment,
    classes: Sequence[int],
    group: tuple[str, ...],
    tables: dict[str, Any] | None = None,
    *,
    tabulate: bool = True,
) -> tuple[list[z3.BoolRef], Any, Any]:
    """Constraints whose solutions are (base, sources) with decision != counterfactual.

    Returns the constraints, a function reading the base row from a z3
    model, and one reading the sources (variable -> input row).  With
    ``tabulate`` each source is chosen among its exact table's entries,
    otherwise it is a symbolic copy of the network.
    """
    b = Builder()
    cons: list[z3.BoolRef] = []
    base = _ints(model, "base.")
    sites, pos = site_positions(layers, alignment, group)
    fixed: dict[str, z3.ArithRef] = {}
    src_vec: dict[str, Vec] = {}
    keys: dict[str, list[z3.ArithRef]] = {}
    readers: dict[str, Any] = {}
    for v, s in sites:
        if tabulate:
            entries = table(model, layers, enc, s, v, pos[v], {} if tables is None else tables)
            idx, hv = z3.Int(f"tab[{v}].index"), z3.Int(f"tab[{v}].value")
            keys[v] = [z3.Real(f"tab[{v}].key{j}") for j in range(len(entries[0][0]))]
            cons.append(z3.Or([
                z3.And(idx == i, hv == val, *[kj == z3.RealVal(c) for kj, c in zip(keys[v], key)])
                for i, (key, val, _) in enumerate(entries)
            ]))
            fixed[v] = hv
            rows = [row for _, _, row in entries]
            readers[v] = lambda m, idx=idx, rows=rows: dict(rows[m.eval(idx, model_completion=True).as_long()])
        else:
            xs = _ints(model, f"src[{v}].")
            cons += [in_domain(x, model.variables[n].domain) for n, x in xs.items()]
            cons += requirements(model, xs, where=f"{model.name} requirement (source of {v})")
            e = to_z3(model, f"hsrc[{v}].", needed=[v])
            cons += list(e.constraints)
            cons += [e.values[n] == xs[n] for n in model.inputs if n in e.values]
            fixed[v] = e.values[v]
            src_vec[v] = _run(b, layers, enc, xs, pos[v], f"src[{v}]")
            readers[v] = lambda m, xs=xs: _read(m, xs)
    cons += [in_domain(xb, model.variables[n].domain) for n, xb in base.items()]
    cons += requirements(model, base, where=f"{model.name} requirement (base)")
    cf = to_z3(model, "hcf.", interventions=fixed, needed=[model.output])
    cons += list(cf.constraints)
    cons += [cf.values[n] == base[n] for n in model.inputs if n in cf.values]
    expected = cf.values[model.output]
    start = 0 if any(p < first_stop(layers) for p in pos.values()) else first_stop(layers)
    x = _run(b, layers, enc, base, start, "base")
    read_base = lambda m: _read(m, base)
    # network: the patched base run
    for p in range(start, len(layers.names) + 1):
        for v, s in sites:
            if pos[v] == p:
                x = mix_key(b, x, keys[v], s, f"mix[{v}]") if v in keys else mix(b, x, src_vec[v], s, f"mix[{v}]")
        if p < len(layers.names):
            x = b.run(layers, x, p, p + 1, "base")
    decided = decision(b, x, classes, "net")
    cons += b.constraints
    cons.append(decided != expected)
    return cons, read_base, lambda m: {v: readers[v](m) for v in group}


