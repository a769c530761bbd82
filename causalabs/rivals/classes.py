"""Hypothesis classes built from mechanisms, and their source text.

A rival is stated as an ordered table ``name -> Spec`` (kind, domain,
mechanism over the other variables' plain symbols).  :func:`build` turns the
table into a real :class:`~causalabs.Hypothesis` subclass (validated and
compiled like any hand-written one); :func:`source` writes the same table as
a Python hypothesis file that loads back to an equivalent class.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence

import attrs
import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from causalabs.scm import declare
from causalabs.scm.declare import REQUIREMENTS_KEY
from causalabs.scm.domains import Domain
from causalabs.scm.hypothesis import Hypothesis
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import HypothesisLike, model_of


@attrs.frozen
class Spec:
    """One variable of a hypothesis to build: ``mechanism`` is None for inputs."""

    kind: str  # "input" | "internal" | "output"
    domain: Domain | None
    mechanism: sp.Basic | None = attrs.field(default=None, eq=False)


Table = dict[str, Spec]


def table_of(hypothesis: HypothesisLike) -> Table:
    """The table of a (symbolic) hypothesis, in its topological order."""
    model = model_of(hypothesis)
    return {n: Spec(v.kind, v.domain, v.mechanism) for n, v in model.variables.items()}


def _parents(spec: Spec) -> set[str]:
    return set() if spec.mechanism is None else {s.name for s in spec.mechanism.free_symbols}


def ordered(table: Mapping[str, Spec]) -> list[str]:
    """The variables in an order where each follows its parents (inputs first, stable)."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for n, s in table.items():
        sorter.add(n, *sorted(_parents(s)))
    rank = {n: i for i, n in enumerate(table)}
    static = set(sorter.static_order())
    out: list[str] = []
    done: set[str] = set()
    remaining = sorted(static, key=lambda n: (table[n].kind != "input", rank[n]))
    while remaining:
        for n in remaining:
            if _parents(table[n]) <= done:
                out.append(n)
                done.add(n)
                remaining.remove(n)
                break
    return out


def replace(expr: sp.Basic, mapping: Mapping[sp.Basic, sp.Basic]) -> sp.Basic:
    """``expr.xreplace(mapping)`` without sympy's automatic evaluation.

    A ``Piecewise`` is rebuilt as it stands: sympy would otherwise rewrite
    every condition as a set on construction, which takes minutes on the
    nested ranks of a sort.
    """
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    args = [replace(a, mapping) for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args)):
        return expr
    if isinstance(expr, (sp.Piecewise, ExprCondPair)):
        return sp.Basic.__new__(type(expr), *args)
    with sp.evaluate(False):
        return expr.func(*args)


def build(name: str, table: Mapping[str, Spec], doc: str = "", requires: Sequence[sp.Basic] = ()) -> type:
    """A :class:`Hypothesis` subclass named ``name`` with the variables of ``table``.

    ``requires``: input requirements (``ca.require``) over the inputs' plain
    symbols, which a rival keeps from its claim.

    Raises what a hand-written class would (a
    :class:`~causalabs.errors.HypothesisDefinitionError` subclass) when the
    table is not a valid hypothesis.
    """
    namespace: dict[str, object] = {"__doc__": doc, "__module__": __name__, "__qualname__": name}
    placeholders: dict[sp.Symbol, sp.Symbol] = {}
    for n in ordered(table):
        s = table[n]
        if s.kind == "input":
            sym = declare.input(n, domain=s.domain)  # type: ignore[arg-type]
        else:
            assert s.mechanism is not None
            mech = replace(sp.sympify(s.mechanism), placeholders)
            make = declare.output if s.kind == "output" else declare.var
            sym = make(mech, domain=s.domain)
        placeholders[sp.Symbol(n)] = sym
        namespace[n] = sym
    if requires:
        namespace[REQUIREMENTS_KEY] = [replace(sp.sympify(r), placeholders) for r in requires]
    return type(name, (Hypothesis,), namespace)


def _domain_code(domain: Domain) -> str:
    if isinstance(domain, range):
        return f"range({domain.start}, {domain.stop})" if domain.step == 1 else repr(domain)
    values = tuple(int(v) for v in domain)
    if len(values) > 2 and values == tuple(range(values[0], values[-1] + 1)):
        return f"range({values[0]}, {values[-1] + 1})"
    return repr(values)


def _functions(exprs: Sequence[sp.Basic]) -> list[str]:
    names: set[str] = set()
    for e in exprs:
        for node in sp.preorder_traversal(e):
            if isinstance(node, (sp.Function, sp.Piecewise, sp.logic.boolalg.BooleanFunction,
                                 sp.core.relational.Relational, sp.Mod)):
                names.add(type(node).__name__)
    rename = {"Equality": "Eq", "Unequality": "Ne", "StrictLessThan": "Lt", "LessThan": "Le",
              "StrictGreaterThan": "Gt", "GreaterThan": "Ge"}
    return sorted({rename.get(n, n) for n in names} | {"Integer", "Rational"})


def _code(expr: sp.Basic) -> str:
    # sstr prints relations as Eq(a, b) and booleans as &, |, ~, which read back in a class body.
    return sp.sstr(expr, order="lex")


def class_source(model: CausalModel | type, table: Mapping[str, Spec] | None = None, doc: str = "") -> str:
    """One ``class Name(ca.Hypothesis)`` block with the variables of ``table`` (default: the model's)."""
    m = model_of(model)
    table = table_of(m) if table is None else table
    doc = doc or m.doc or f"{m.name}."
    lines = [f"class {m.name}(ca.Hypothesis):", f'    """{doc.replace(chr(34) * 3, chr(39) * 3)}"""', ""]
    inputs_left = sum(1 for s in table.values() if s.kind == "input")
    for n in ordered(table):
        s = table[n]
        if s.kind == "input":
            lines.append(f"    {n} = ca.input({n!r}, domain={_domain_code(s.domain)})")  # type: ignore[arg-type]
            inputs_left -= 1
            if not inputs_left:
                lines += [f"    ca.require({_code(r)})" for r in m.requires]
            continue
        call = "ca.output" if s.kind == "output" else "ca.var"
        assert s.mechanism is not None
        mech = _code(sp.sympify(s.mechanism))
        if not sp.sympify(s.mechanism).free_symbols:
            mech = f"Integer({mech})"
        dom = "" if s.domain is None else f", domain={_domain_code(s.domain)}"
        lines.append(f"    {n} = {call}({mech}{dom})")
    return "\n".join(lines)


def source(hypotheses: Sequence[type], header: str = "") -> str:
    """A Python hypothesis file defining every class of ``hypotheses`` (each its own mechanisms)."""
    models = [model_of(h) for h in hypotheses]
    funcs = _functions([v.mechanism for m in models for v in m.variables.values() if v.mechanism is not None]
                       + [r for m in models for r in m.requires])
    head = f'"""{header or "Hypotheses written by causalabs."}"""\n\n'
    head += f"from sympy import {', '.join(funcs)}  # noqa: F401\n\nimport causalabs as ca\n"
    return head + "".join("\n\n" + class_source(m) + "\n" for m in models)
