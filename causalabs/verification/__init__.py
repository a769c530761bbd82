"""Verification: verdicts on causal-abstraction claims, with counterexamples and evidence.

* :func:`verify` -- exhaustive (exact, every pair), sampled (intervals) or sequential (anytime-valid) verdicts
  (:mod:`~causalabs.verification.pipeline`, :mod:`~causalabs.verification.exhaustive`);
* :func:`falsify` -- property-based counterexample search with shrinking;
* ``prove`` -- exact verification for ReLU MLPs on finite domains (the subpackage
  :mod:`causalabs.verification.prove`, function ``causalabs.verification.prove.prove``);
* :func:`assert_abstraction` -- a claim as a test assertion (the pytest plugin's settings);
* :func:`plan` -- pairs to a decision, fixed-n vs sequential, for an assumed IIA or a pilot report;
* :func:`reproduce` -- one counterexample re-run from the claim's files (what a replay line calls);
* :class:`Report` -- the verdict value (:mod:`~causalabs.verification.report`).

``causalabs.verify`` is the function :func:`verify`; this package is its room.
The modules that import torch (the pipeline, prove, the assertion) load on
first use of their names, so that reading a saved report
(:mod:`~causalabs.verification.report`) imports no torch.  Modules are named
for what they hold (``falsification``, ``reproduction``), never for a
function they export, so ``causalabs.verification.falsify`` is only ever the
function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from causalabs._lazy import lazy_exports
from causalabs.verification.falsification import FalsifyResult, falsify, replay
from causalabs.verification.report import SCHEMA, Counterexample, Report, VariableEvidence
from causalabs.verification.reproduction import Reproduction, reproduce

if TYPE_CHECKING:
    from causalabs.verification.assertion import AbstractionInconclusive, AbstractionRefuted, assert_abstraction
    from causalabs.verification.pipeline import verify
    from causalabs.verification.planning import Plan, plan
    from causalabs.verification.prove import ProofResult

#: Public names that load on first use -> the module that defines each.
_LAZY = {
    "AbstractionInconclusive": "causalabs.verification.assertion",
    "AbstractionRefuted": "causalabs.verification.assertion",
    "assert_abstraction": "causalabs.verification.assertion",
    "verify": "causalabs.verification.pipeline",
    "plan": "causalabs.verification.planning",
    "Plan": "causalabs.verification.planning",
    "ProofResult": "causalabs.verification.prove",
}
_EAGER = ["SCHEMA", "Counterexample", "FalsifyResult", "Report", "Reproduction", "VariableEvidence",
          "falsify", "replay", "reproduce"]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = sorted([*_LAZY, *_EAGER])
