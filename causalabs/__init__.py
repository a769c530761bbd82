"""causalabs: formal verification of causal-abstraction claims about neural networks.

The hypothesis core and counterfactual data (numpy, sympy) load eagerly; the
torch-side names (networks, sites, the engine, metrics, DAS) load on first
use, so ``import causalabs`` stays light for code that only states claims.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from causalabs import _deprecated, errors
from causalabs._lazy import lazy_exports
from causalabs.data import (
    CounterfactualDataset,
    balanced,
    exhaustive_pairs,
    random_pairs,
)
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
    require,
    rows,
    run,
    var,
)

from causalabs._version import __version__

#: Lazily imported public names: name -> module that defines it.
_LAZY = {
    "Network": "causalabs.network",
    "Decoded": "causalabs.network",
    "Site": "causalabs.network",
    "Subspace": "causalabs.network",
    "site": "causalabs.network",
    "Alignment": "causalabs.network",
    "Rotation": "causalabs.network",
    "Featurizer": "causalabs.network",
    "random_rotation": "causalabs.network",
    "argmax_decoder": "causalabs.network",
    "load_network": "causalabs.network",
    "predict": "causalabs.network",
    "evaluate_pairs": "causalabs.engine",
    "interchange_network": "causalabs.engine",
    "PairResults": "causalabs.engine",
    "Estimate": "causalabs.metrics",
    "iia": "causalabs.metrics",
    "proportion": "causalabs.metrics",
    "get_backend": "causalabs.backends",
    "verify": "causalabs.verification",
    "falsify": "causalabs.verification",
    "assert_abstraction": "causalabs.verification",
    "Report": "causalabs.verification",
    "Counterexample": "causalabs.verification",
    "reproduce": "causalabs.verification",
    "plan": "causalabs.verification",
    "path_patch": "causalabs.scrub",
    "fit_das": "causalabs.align",
    "load_alignment": "causalabs.align",
    "save_alignment": "causalabs.align",
}

if TYPE_CHECKING:
    from causalabs.backends import get_backend
    from causalabs.engine import PairResults, evaluate_pairs, interchange_network
    from causalabs.align import fit_das, load_alignment, save_alignment
    from causalabs.metrics import Estimate, iia, proportion
    from causalabs.scrub import path_patch
    from causalabs.verification import Counterexample, Report, assert_abstraction, falsify, plan, reproduce, verify
    from causalabs.network import (
        Alignment,
        Decoded,
        Featurizer,
        Network,
        Rotation,
        Site,
        Subspace,
        argmax_decoder,
        load_network,
        predict,
        random_rotation,
        site,
    )


# ``causalabs.verify`` is the function; its room is the subpackage ``causalabs.verification``.
# The old module path (``from causalabs.verify import Report``) works for one more release, with a warning.
_deprecated.install_module_alias("causalabs.verify", "causalabs.verification")

_SUBPACKAGES = {"verification", "scrub", "cli", "align", "engine", "metrics", "network", "backends", "organisms", "loading"}


_lazy_getattr, _lazy_dir = lazy_exports(__name__, _LAZY, globals())


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"causalabs.{name}")
    return _lazy_getattr(name)


def __dir__() -> list[str]:
    return sorted(set(_lazy_dir()) | _SUBPACKAGES)


__all__ = [
    "Batch",
    "CausalModel",
    "CounterfactualDataset",
    "Hypothesis",
    "Variable",
    "__version__",
    "as_batch",
    "balanced",
    "batch_size",
    "do",
    "enumerate_inputs",
    "errors",
    "exhaustive_pairs",
    "input",
    "inputs",
    "interchange",
    "model_of",
    "output",
    "random_pairs",
    "render_latex",
    "render_text",
    "require",
    "rows",
    "run",
    "var",
    *_LAZY,
]
