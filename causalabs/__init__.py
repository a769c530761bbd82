"""causalabs: formal verification of causal-abstraction claims about neural networks."""

from causalabs import errors
from causalabs.scm import (
    Batch,
    CausalModel,
    Hypothesis,
    Variable,
    as_batch,
    batch_size,
    do,
    enumerate_inputs,
    input,
    inputs,
    interchange,
    model_of,
    output,
    render_latex,
    render_text,
    rows,
    run,
    var,
)

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "CausalModel",
    "Hypothesis",
    "Variable",
    "__version__",
    "as_batch",
    "batch_size",
    "do",
    "enumerate_inputs",
    "errors",
    "input",
    "inputs",
    "interchange",
    "model_of",
    "output",
    "render_latex",
    "render_text",
    "rows",
    "run",
    "var",
]
