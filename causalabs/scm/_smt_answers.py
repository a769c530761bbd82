"""What a z3 question answers: :class:`SmtResult`, and the solver set-up and answers every question shares.

Private: the questions in :mod:`causalabs.scm.smt` and the search in
:mod:`causalabs.scm._input_search` use these; ``SmtResult`` is public through
:mod:`causalabs.scm.smt`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import z3

from causalabs.scm.answers import Status, ThreeValued
from causalabs.scm.model import CausalModel


@attrs.frozen
class SmtResult(ThreeValued):
    """z3's answer to a question: ``status`` is "proved", "refuted" or "unknown".

    ``status`` answers the question the function's name asks (for
    :func:`can_change_output`, "proved" means it can).  ``witness`` is the
    evidence a solver model gives (an input where two hypotheses differ, a
    value that changes the output), replayed with numpy; None otherwise.
    """

    status: Status
    witness: dict[str, Any] | None
    reason: str


def _solver(timeout_ms: int | None) -> z3.Solver:
    s = z3.Solver()
    if timeout_ms is not None:
        if int(timeout_ms) < 1:
            raise ValueError(
                f"timeout_ms must be a positive number of milliseconds, got {timeout_ms}"
            )
        s.set("timeout", int(timeout_ms))
    return s


def _unknown(s: z3.Solver, what: str, timeout_ms: int | None) -> SmtResult:
    why = s.reason_unknown()
    limit = "" if timeout_ms is None else f" (timeout_ms={timeout_ms})"
    return SmtResult("unknown", None, f"z3 returned unknown on {what}{limit}: {why}; not proved")


#: What numpy raises where its semantics is undefined (a non-integer or out-of-domain value).
_REPLAY_ERRORS = (ValueError, ArithmeticError)


def _unconfirmed(what: str, inp: Any) -> SmtResult:
    return SmtResult(
        "unknown",
        None,
        f"{what}: z3's witness {inp} is not confirmed by the numpy semantics (an undefined case "
        "such as division by zero or a Piecewise with no true branch); not proved",
    )


def _outputs(model: CausalModel, values: Mapping[str, np.ndarray], i: int = 0) -> dict[str, int]:
    return {o: int(values[o][i]) for o in model.outputs}


def _show(d: Mapping[str, int]) -> str:
    return "{" + ", ".join(f"{k!r}: {v}" for k, v in d.items()) + "}"
