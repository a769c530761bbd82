"""A hypothesis in a notebook: its causal graph (an embedded SVG figure) and its variables with mechanisms.

``CausalModel._repr_html_`` calls :func:`repr_html`; ``causalabs.model_of(H)``
displays as this in Jupyter.  matplotlib is imported only when a graph is drawn.
"""

from __future__ import annotations

from html import escape
from typing import Any

from causalabs.figures.graph import causal_graph
from causalabs.figures.html import figure_tag, fragment, table
from causalabs.scm.model import CausalModel
from causalabs.scm.render import _mechanism_text, format_domain


def graph_figure(model: CausalModel, *, width: Any = "one") -> Any:
    """The causal graph of ``model``: inputs on top, each mechanism under its variable."""
    parents = {n: v.parents for n, v in model.variables.items()}
    kinds = {n: v.kind for n, v in model.variables.items()}
    mechs = {n: _mechanism_text(v) for n, v in model.variables.items() if not v.is_input}
    return causal_graph(parents, kinds, mechanisms=mechs, title=model.name, width=width)


def repr_html(model: CausalModel) -> str:
    rows = [(n, v.kind, format_domain(v.domain), _mechanism_text(v)) for n, v in model.variables.items()]
    doc = f"<p>{escape(model.doc.splitlines()[0])}</p>" if model.doc else ""
    return fragment(
        f"<h3>hypothesis {escape(model.name)}</h3>{doc}"
        + figure_tag(graph_figure(model), f"causal graph of {model.name}")
        + table(("variable", "kind", "domain", "mechanism"), rows)
    )
