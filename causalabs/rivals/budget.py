"""The work budget of rival generation: counted steps, with wall seconds only as a safety stop.

A *step* is one unit of synthesis work, about a millisecond of one CPU core:
an expression evaluated on the factual inputs costs
``EVALUATION_STEPS + nodes // EVALUATION_NODES_PER_STEP`` steps, a candidate
rival built, run on every input and fingerprinted
``CANDIDATE_STEPS + nodes // CANDIDATE_NODES_PER_STEP`` (``nodes``: the sympy
nodes of the expression, or of all the candidate's mechanisms), so that the
count follows the cost of large hypotheses too.  Every z3
query of generation runs under a z3 resource limit (:data:`Z3_RLIMIT`),
which z3 counts deterministically, instead of a timeout.  So the rivals
found depend only on the hypothesis and the settings (``limit``, ``work``),
never on the machine's load.

The wall clock (``budget_s``) is a safety stop: a run that reaches it stops
where it is and reports that it did (``RivalSet.stopped_by == "wall clock"``);
its set is then incomplete and depends on the machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import sympy as sp

#: Steps of one expression evaluated on the factual inputs (a grammar candidate or a sub-expression) ...
EVALUATION_STEPS = 1
#: ... plus one per this many sympy nodes of it.
EVALUATION_NODES_PER_STEP = 20
#: Steps of one candidate rival built, run on every input and fingerprinted ...
CANDIDATE_STEPS = 20
#: ... plus one per this many sympy nodes of its mechanisms.
CANDIDATE_NODES_PER_STEP = 4
#: Default work budget of one generation, in steps (about 20 to 60 s on one shared CPU core).
DEFAULT_WORK = 30_000
#: z3 resource limit of one equivalence query in generation (deterministic, unlike a timeout).
Z3_RLIMIT = 20_000_000


def nodes(expr: sp.Basic) -> int:
    """The number of sympy nodes of ``expr`` (its size)."""
    return sum(1 for _ in sp.preorder_traversal(expr))


def evaluation_steps(expr: sp.Basic) -> int:
    """Steps of evaluating ``expr`` on the factual inputs."""
    return EVALUATION_STEPS + nodes(expr) // EVALUATION_NODES_PER_STEP


def candidate_steps(mechanisms: Iterable[sp.Basic | None]) -> int:
    """Steps of building and checking a candidate with these mechanisms."""
    return CANDIDATE_STEPS + sum(nodes(m) for m in mechanisms if m is not None) // CANDIDATE_NODES_PER_STEP


class OutOfBudget(Exception):
    """Raised inside generation when the work budget or the wall-clock safety stop is reached."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "work" | "wall clock"


class Budget:
    """Counts steps; :meth:`spend` raises :class:`OutOfBudget` past ``work`` steps or ``budget_s`` seconds."""

    def __init__(self, work: int | None, budget_s: float | None) -> None:
        self.work = work
        self.budget_s = budget_s
        self.spent = 0
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def spend(self, steps: int) -> None:
        """Count ``steps`` of work; stop when the work budget is used up or the wall clock has run out."""
        if self.work is not None and self.spent + steps > self.work:
            raise OutOfBudget("work")
        if self.budget_s is not None and self.elapsed() > self.budget_s:
            raise OutOfBudget("wall clock")
        self.spent += steps
