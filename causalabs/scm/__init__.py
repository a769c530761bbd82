"""Hypothesis core: symbolic causal models as Python classes (no torch here)."""

from causalabs.scm.declare import input, inputs, output, require, var
from causalabs.scm.hypothesis import Hypothesis
from causalabs.scm.model import CausalModel, Variable
from causalabs.scm.render import render_latex, render_text
from causalabs.scm.semantics import (
    Batch,
    as_batch,
    batch_size,
    do,
    enumerate_inputs,
    interchange,
    model_of,
    rows,
    run,
)

__all__ = [
    "Batch",
    "CausalModel",
    "Hypothesis",
    "Variable",
    "as_batch",
    "batch_size",
    "do",
    "enumerate_inputs",
    "input",
    "inputs",
    "interchange",
    "model_of",
    "output",
    "render_latex",
    "render_text",
    "require",
    "rows",
    "run",
    "var",
]
