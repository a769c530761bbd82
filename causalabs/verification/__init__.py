"""Verification: verdicts on causal-abstraction claims, with counterexamples and evidence.

* :func:`verify` -- exhaustive (exact, every pair) or sampled (intervals) verdicts
  (:mod:`~causalabs.verification.pipeline`, :mod:`~causalabs.verification.exhaustive`);
* :func:`falsify` -- property-based counterexample search with shrinking;
* ``prove`` -- exact verification for ReLU MLPs on finite domains (the subpackage
  :mod:`causalabs.verification.prove`, function ``causalabs.verification.prove.prove``);
* :func:`assert_abstraction` -- a claim as a test assertion (the pytest plugin's settings);
* :class:`Report` -- the verdict value (:mod:`~causalabs.verification.report`).

``causalabs.verify`` is the function :func:`verify`; this package is its room.
"""

from causalabs.verification.assertion import (
    AbstractionInconclusive,
    AbstractionRefuted,
    assert_abstraction,
)
from causalabs.verification.falsify import FalsifyResult, falsify, replay
from causalabs.verification.pipeline import verify
from causalabs.verification.prove import ProofResult
from causalabs.verification.report import SCHEMA, Counterexample, Report, VariableEvidence

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
