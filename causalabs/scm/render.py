"""Readable renderings of a hypothesis: plain text (for terminals) and LaTeX (for papers)."""

from __future__ import annotations

import sympy as sp
from sympy.logic.boolalg import BooleanFunction
from sympy.printing.latex import LatexPrinter

from causalabs.scm import space
from causalabs.scm.domains import Domain, format_values, is_contiguous
from causalabs.scm.model import CausalModel, Variable
from causalabs.scm.semantics import HypothesisLike, model_of


def format_domain(domain: Domain) -> str:
    """``{0..9}`` for a run of integers, ``{0, 2, 5}`` otherwise (a large domain is never enumerated)."""
    return format_values(domain)


def _mechanism_text(v: Variable) -> str:
    if v.is_input:
        return "input"
    if v.symbolic:
        return sp.sstr(v.mechanism)
    fn = v.mechanism
    return f"<python {getattr(fn, '__name__', type(fn).__name__)}({', '.join(v.parents)})>"


def render_text(hypothesis: HypothesisLike) -> str:
    """The graph, domains and mechanisms as aligned plain text."""
    model = model_of(hypothesis)
    lines = [f"hypothesis {model.name}"]
    if model.doc:
        lines.append(f"  {model.doc.splitlines()[0]}")
    width = max(len(n) for n in model.variables)
    lines.append("")
    lines.append("variables (topological order):")
    for name, v in model.variables.items():
        tag = {"input": "in ", "internal": "var", "output": "out"}[v.kind]
        lines.append(
            f"  {tag} {name:<{width}} in {format_domain(v.domain):<10} := {_mechanism_text(v)}"
        )
    if model.requires:
        lines.append(f"  requires {space.requirement_text(model)}")
    lines.append("")
    lines.append(input_space_line(model))
    lines.append("")
    lines.append("graph:")
    for name, v in model.variables.items():
        if v.parents:
            lines.append(f"  {', '.join(v.parents)} -> {name}")
    return "\n".join(lines)


def input_space_line(model: CausalModel) -> str:
    """``inputs: 4,032 of the 4,608 combinations of the domains satisfy the requirement Ne(a, b)`` (or the plain count)."""
    box = model.box_size
    if not model.requires:
        return f"inputs: {box:,} combinations of the domains"
    which = "requirement" if len(model.requires) == 1 else "requirements"
    n = space.count(model)
    counted = f"{n:,} of the {box:,}" if n is not None else f"some (not counted: more than {space.COUNT_LIMIT:,}) of the {box:,}"
    return f"inputs: {counted} combinations of the domains satisfy the {which} {space.requirement_text(model)}"


class _LatexPrinter(LatexPrinter):
    """sympy's LaTeX, with each relation in Iverson brackets: ``[w = x]`` is 1 or 0.

    Plain sympy prints ``Eq(left, Eq(y, z))`` as ``left = y = z``, which reads
    as a chain; the brackets keep nesting visible and say the value is 0/1.
    """

    _ops = {"==": "=", "!=": r"\neq", "<": "<", ">": ">", "<=": r"\leq", ">=": r"\geq"}

    def _print_Relational(self, expr: sp.Basic) -> str:
        def side(e: sp.Basic) -> str:
            text = self._print(e)
            return rf"\left({text}\right)" if isinstance(e, BooleanFunction) else text

        op = self._ops.get(expr.rel_op, expr.rel_op)
        return rf"\left[{side(expr.lhs)} {op} {side(expr.rhs)}\right]"


def _latex(expr: sp.Basic) -> str:
    return _LatexPrinter().doprint(expr)


def latex_domain(domain: Domain) -> str:
    """``\\{0, \\ldots, 9\\}`` for a run of integers, ``\\{0, 2, 5\\}`` otherwise (never enumerating a large one)."""
    if len(domain) > 4 and is_contiguous(domain):
        return rf"\{{{domain[0]}, \ldots, {domain[-1]}\}}"
    if len(domain) > 20 or (isinstance(domain, range) and len(domain) > 4):
        return rf"\{{{domain[0]}, {domain[1]}, \ldots, {domain[-1]}\}}"
    return r"\{" + ", ".join(map(str, domain)) + r"\}"


def render_latex(hypothesis: HypothesisLike) -> str:
    """An ``align*`` block: each input with its domain, each mechanism with its variable's domain."""
    model = model_of(hypothesis)
    parts = []
    for v in model.variables.values():
        lhs = _latex(v.symbol)
        dom = latex_domain(v.domain)
        if v.is_input:
            parts.append(rf"{lhs} &\in {dom}")
            continue
        if v.symbolic:
            rhs = _latex(v.mechanism)
        else:
            args = ", ".join(_latex(model.variables[p].symbol) for p in v.parents)
            rhs = rf"f_{{\mathrm{{{_latex(v.symbol)}}}}}({args})"
        parts.append(rf"{lhs} &:= {rhs} && {lhs} \in {dom}")
    parts += [rf"&\text{{requires }} {_latex(r)}" for r in model.requires]
    body = " \\\\\n".join(parts)
    return "\\begin{align*}\n" + body + "\n\\end{align*}"


def summary(model: CausalModel) -> str:
    """One line: name, inputs, outputs and internal variables."""
    return (
        f"{model.name}: inputs {', '.join(model.inputs)}; "
        f"internal {', '.join(model.internals) or '-'}; outputs {', '.join(model.outputs)}"
    )
