"""Readable renderings of a hypothesis: plain text (for terminals) and LaTeX (for papers)."""

from __future__ import annotations

import sympy as sp

from causalabs.scm.model import CausalModel, Variable
from causalabs.scm.semantics import HypothesisLike, model_of


def format_domain(domain: tuple[int, ...]) -> str:
    """``{0..9}`` for a run of integers, ``{0, 2, 5}`` otherwise."""
    if len(domain) > 4 and domain[-1] - domain[0] + 1 == len(domain):
        return f"{{{domain[0]}..{domain[-1]}}}"
    return "{" + ", ".join(map(str, domain)) + "}"


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
    lines.append("")
    lines.append("graph:")
    for name, v in model.variables.items():
        if v.parents:
            lines.append(f"  {', '.join(v.parents)} -> {name}")
    return "\n".join(lines)


def render_latex(hypothesis: HypothesisLike) -> str:
    """An ``align*`` block with one line per mechanism, and the input domains."""
    model = model_of(hypothesis)
    parts = []
    for name, v in model.variables.items():
        lhs = sp.latex(v.symbol)
        if v.is_input:
            dom = format_domain(v.domain).replace("{", r"\{").replace("}", r"\}")
            parts.append(rf"{lhs} &\in {dom}")
        elif v.symbolic:
            parts.append(rf"{lhs} &:= {sp.latex(v.mechanism)}")
        else:
            parts.append(rf"{lhs} &:= f_{{\mathrm{{{name}}}}}({', '.join(v.parents)})")
    body = " \\\\\n".join(parts)
    return "\\begin{align*}\n" + body + "\n\\end{align*}"


def summary(model: CausalModel) -> str:
    """One line: name, inputs, outputs and internal variables."""
    return (
        f"{model.name}: inputs {', '.join(model.inputs)}; "
        f"internal {', '.join(model.internals) or '-'}; outputs {', '.join(model.outputs)}"
    )
