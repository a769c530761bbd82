"""Inputs that satisfy a constraint, found by z3 and confirmed by numpy (private; use causalabs.scm.smt)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Literal, Union

import attrs
import numpy as np
import sympy as sp
import z3

from causalabs.scm._smt_answers import _REPLAY_ERRORS, _solver, _unconfirmed, _unknown
from causalabs.scm._z3translate import condition, to_z3
from causalabs.scm.answers import _no_bool
from causalabs.scm.compile import compile_expression
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import Batch, HypothesisLike, VarRef, model_of, run, var_name

#: A constraint for :func:`find_inputs`: ``{var: value}``, a sympy condition, or a list of them.
ConstraintLike = Union[
    Mapping[VarRef, int], sp.Basic, bool, Sequence[Union[Mapping[VarRef, int], sp.Basic]]
]


@attrs.frozen
class InputSearch:
    """Inputs found by :func:`find_inputs`.

    ``status`` is "found" (as many as asked; more may exist), "exhausted" (z3
    proved there are no others: ``inputs`` are all solutions, maybe none) or
    "unknown" (a check timed out; ``inputs`` holds those found before).
    """

    inputs: tuple[dict[str, int], ...]
    status: Literal["found", "exhausted", "unknown"]
    reason: str
    input_names: tuple[str, ...] = ()

    @property
    def batch(self) -> Batch:
        """The solutions as a batch (input name -> int64 array)."""
        return {
            n: np.asarray([r[n] for r in self.inputs], dtype=np.int64) for n in self.input_names
        }

    def __len__(self) -> int:
        return len(self.inputs)

    __bool__ = _no_bool


def _constraint_parts(model: CausalModel, constraint: ConstraintLike | None) -> list[sp.Basic]:
    if constraint is None:
        return []
    items = [constraint] if isinstance(constraint, (Mapping, sp.Basic, bool)) else list(constraint)
    parts: list[sp.Basic] = []
    for item in items:
        if isinstance(item, Mapping):
            for ref, value in item.items():
                name = var_name(model, ref)
                parts.append(sp.Eq(model.variables[name].symbol, sp.Integer(int(value))))
        else:
            expr = sp.sympify(item)
            for sym in expr.free_symbols:
                var_name(model, sym.name)
            parts.append(expr)
    return parts


def find_inputs(
    hypothesis: HypothesisLike,
    constraint: ConstraintLike | None = None,
    n: int = 1,
    *,
    timeout_ms: int | None = None,
) -> InputSearch:
    """Up to ``n`` distinct input assignments whose run satisfies ``constraint``.

    ``constraint`` is ``{var: value}``, a sympy condition over the class's
    symbols (``sp.Ne(H.left, H.right)``), or a list of both (all must hold).
    ``timeout_ms`` bounds the whole search.
    """
    model = model_of(hypothesis)
    parts = _constraint_parts(model, constraint)
    names = sorted({s.name for p in parts for s in p.free_symbols})
    enc = to_z3(model, needed=[*model.inputs, *names])
    s = _solver(timeout_ms)
    s.add(*enc.constraints)
    conds = [condition(p, enc.values, where=f"{model.name} constraint") for p in parts]
    s.add(*conds)
    deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
    found: list[dict[str, int]] = []
    status: Literal["found", "exhausted", "unknown"] = "found"
    reason = f"{model.name}: found {n} inputs (more may exist)"
    while len(found) < n:
        if deadline is not None:
            left = int((deadline - time.monotonic()) * 1000)
            if left < 1:
                status, reason = (
                    "unknown",
                    f"find_inputs: timeout_ms={timeout_ms} spent after {len(found)} inputs",
                )
                break
            s.set("timeout", left)
        answer = s.check()
        if answer == z3.unsat:
            status = "exhausted"
            reason = f"{model.name}: exactly {len(found)} inputs satisfy the constraint"
            break
        if answer == z3.unknown:
            status, reason = (
                "unknown",
                _unknown(s, f"find_inputs after {len(found)} inputs", timeout_ms).reason,
            )
            break
        inp = enc.read(s.model())
        found.append(inp)
        s.add(z3.Or([enc.values[k] != v for k, v in inp.items()]))
    ok = _satisfies(model, found, parts)
    if not ok.all():
        bad = found[int(np.flatnonzero(~ok)[0])]
        found = [f for f, good in zip(found, ok) if good]
        status, reason = "unknown", _unconfirmed("find_inputs", bad).reason
    return InputSearch(tuple(found), status, reason, model.inputs)


def _satisfies(
    model: CausalModel, found: list[dict[str, int]], parts: list[sp.Basic]
) -> np.ndarray:
    """Which solutions really satisfy every constraint under the numpy semantics."""
    ok = np.ones(len(found), dtype=bool)
    if not found:
        return ok
    try:
        values = run(model, {k: [f[k] for f in found] for k in model.inputs})
        for p in parts:
            syms = sorted(p.free_symbols, key=lambda x: x.name)
            got = compile_expression(p, syms)(*(values[x.name] for x in syms))
            ok &= np.broadcast_to(np.asarray(got) != 0, ok.shape)
    except _REPLAY_ERRORS:
        if len(found) == 1:
            return np.zeros(1, dtype=bool)
        return np.concatenate([_satisfies(model, [f], parts) for f in found])
    return ok
