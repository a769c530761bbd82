"""Verification: verdicts on causal-abstraction claims, with counterexamples and evidence.

* :func:`verify` -- exhaustive (exact, every pair) or sampled (intervals) verdicts;
* :func:`falsify` -- property-based counterexample search with shrinking;
* ``causalabs.verify.prove.prove`` -- an SMT proof (z3) for ReLU MLPs on finite domains;
* :class:`Report` -- the verdict value, rendered by :mod:`causalabs.verify.render`.
"""

import sys
import types
from typing import Any

from causalabs.verify.assertion import (
    AbstractionInconclusive,
    AbstractionRefuted,
    assert_abstraction,
)
from causalabs.verify.counterexample import Counterexample
from causalabs.verify.falsify import FalsifyResult, falsify, replay
from causalabs.verify.pipeline import verify
from causalabs.verify.prove import ProofResult
from causalabs.verify.report import SCHEMA, Report, VariableEvidence

__all__ = [
    "SCHEMA",
    "AbstractionInconclusive",
    "AbstractionRefuted",
    "Counterexample",
    "FalsifyResult",
    "ProofResult",
    "Report",
    "VariableEvidence",
    "assert_abstraction",
    "falsify",
    "replay",
    "verify",
]


class _CallablePackage(types.ModuleType):
    """Lets ``causalabs.verify(hypothesis, network, alignment, ...)`` call :func:`verify`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Report:
        return verify(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
