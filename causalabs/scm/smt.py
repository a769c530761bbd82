"""z3 reasoning over hypotheses: exact answers for every input of the finite domains.

Mechanisms (sympy) are translated into z3 integer terms (the translation lives
in :mod:`causalabs.scm._z3translate` and is re-exported here): every causalabs
value is an int64 and booleans are the ints 0/1, so boolean subterms become
``If(b, 1, 0)`` and an int used as a condition becomes ``v != 0``.  Each
variable gets one z3 ``Int`` named ``prefix + name``; inputs are constrained to
their domains and every other variable equals its translated mechanism.

Every question returns a value with z3's three answers mapped onto
``"proved"`` (unsat), ``"refuted"`` (sat, with a witness) and ``"unknown"``
(timeout or incompleteness).  Unknown is never reported as proved.  Witnesses
are replayed with the numpy semantics (:func:`causalabs.run`) before they are
reported; a witness numpy does not confirm turns the answer into "unknown".
See ``docs/smt.md``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Union

import attrs
import numpy as np
import sympy as sp
import z3

from causalabs.errors import BatchShapeError, HypothesisMismatchError
from causalabs.scm._z3translate import Encoding, condition, in_domain, to_z3, translate
from causalabs.scm.answers import Status, ThreeValued, _no_bool
from causalabs.scm.compile import compile_expression
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import (
    Batch,
    HypothesisLike,
    VarRef,
    as_batch,
    do,
    model_of,
    run,
    var_name,
)

__all__ = [
    "Encoding",
    "HypothesisMismatchError",
    "InputSearch",
    "SmtResult",
    "can_change_output",
    "condition",
    "equivalent",
    "find_inputs",
    "in_domain",
    "mediates",
    "to_z3",
    "translate",
]

#: A constraint for :func:`find_inputs`: ``{var: value}``, a sympy condition, or a list of them.
ConstraintLike = Union[
    Mapping[VarRef, int], sp.Basic, bool, Sequence[Union[Mapping[VarRef, int], sp.Basic]]
]


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


# --- solving ---------------------------------------------------------------------


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


def _outputs(model: CausalModel, values: Mapping[str, np.ndarray], i: int = 0) -> dict[str, int]:
    return {o: int(values[o][i]) for o in model.outputs}


def _show(d: Mapping[str, int]) -> str:
    return "{" + ", ".join(f"{k!r}: {v}" for k, v in d.items()) + "}"


def _output_pairs(m1: CausalModel, m2: CausalModel) -> list[tuple[str, str]]:
    if set(m1.outputs) == set(m2.outputs):
        return [(o, o) for o in m1.outputs]
    if len(m1.outputs) == len(m2.outputs) == 1:
        return [(m1.output, m2.output)]
    raise HypothesisMismatchError(
        f"{m1.name} has outputs {m1.outputs} and {m2.name} has {m2.outputs}; cannot compare them"
    )


def equivalent(
    h1: HypothesisLike, h2: HypothesisLike, *, timeout_ms: int | None = None
) -> SmtResult:
    """Do ``h1`` and ``h2`` (same input names and domains) give the same outputs on every input?

    Refuted witness: ``{"input": {...}, "outputs": (outputs of h1, outputs of h2)}``.
    """
    m1, m2 = model_of(h1), model_of(h2)
    d1 = {n: m1.variables[n].domain for n in m1.inputs}
    d2 = {n: m2.variables[n].domain for n in m2.inputs}
    if d1 != d2:
        raise HypothesisMismatchError(
            f"{m1.name} and {m2.name} have different inputs or domains; equivalence compares "
            f"hypotheses over the same inputs ({m1.name}: {list(d1)}, {m2.name}: {list(d2)})"
        )
    pairs = _output_pairs(m1, m2)
    e1 = to_z3(m1, "1.", needed=[a for a, _ in pairs])
    e2 = to_z3(m2, "2.", needed=[b for _, b in pairs])
    s = _solver(timeout_ms)
    s.add(*e1.constraints, *e2.constraints)
    s.add(*[e1.values[n] == e2.values[n] for n in m1.inputs if n in e1.values and n in e2.values])
    s.add(z3.Or([e1.values[a] != e2.values[b] for a, b in pairs]))
    what = f"equivalent({m1.name}, {m2.name})"
    answer = s.check()
    if answer == z3.unsat:
        return SmtResult(
            "proved",
            None,
            f"{m1.name} and {m2.name} agree on every output for all {m1.input_space_size:,} inputs",
        )
    if answer == z3.unknown:
        return _unknown(s, what, timeout_ms)
    inp = _read_inputs(s.model(), e1, e2)
    try:
        o1, o2 = _outputs(m1, run(m1, inp)), _outputs(m2, run(m2, inp))
    except _REPLAY_ERRORS:
        return _unconfirmed(what, inp)
    if all(o1[a] == o2[b] for a, b in pairs):
        return _unconfirmed(what, inp)
    return SmtResult(
        "refuted",
        {"input": inp, "outputs": (o1, o2)},
        f"{m1.name} and {m2.name} differ on input {_show(inp)}: {_show(o1)} vs {_show(o2)} "
        f"(replay: causalabs.run({m1.name}, {_show(inp)}))",
    )


#: What numpy raises where its semantics is undefined (a non-integer or out-of-domain value).
_REPLAY_ERRORS = (ValueError, ArithmeticError)


def _unconfirmed(what: str, inp: Any) -> SmtResult:
    return SmtResult(
        "unknown",
        None,
        f"{what}: z3's witness {inp} is not confirmed by the numpy semantics (an undefined case "
        "such as division by zero or a Piecewise with no true branch); not proved",
    )


def _names(model: CausalModel, refs: Iterable[VarRef] | VarRef) -> list[str]:
    if isinstance(refs, (str, sp.Symbol)):
        refs = [refs]
    return list(dict.fromkeys(var_name(model, r) for r in refs))


def mediates(
    hypothesis: HypothesisLike, variables: Iterable[VarRef], *, timeout_ms: int | None = None
) -> SmtResult:
    """Do the outputs depend on the inputs only through ``variables``?

    Proved: any two inputs on which ``variables`` agree give the same outputs.
    Refuted witness: ``{"inputs": (a, b), "values": {...}, "outputs": (out_a, out_b)}``.
    """
    model = model_of(hypothesis)
    names = _names(model, variables)
    needed = [*model.outputs, *names]
    a, b = to_z3(model, "a.", needed=needed), to_z3(model, "b.", needed=needed)
    s = _solver(timeout_ms)
    s.add(*a.constraints, *b.constraints)
    s.add(*[a.values[n] == b.values[n] for n in names])
    s.add(z3.Or([a.values[o] != b.values[o] for o in model.outputs]))
    shown = "{" + ", ".join(names) + "}"
    what = f"mediates({model.name}, {shown})"
    answer = s.check()
    if answer == z3.unsat:
        return SmtResult(
            "proved", None, f"{model.name}: the outputs depend on the inputs only through {shown}"
        )
    if answer == z3.unknown:
        return _unknown(s, what, timeout_ms)
    ia, ib = (_read_inputs(s.model(), e) for e in (a, b))
    try:
        va, vb = run(model, ia), run(model, ib)
    except _REPLAY_ERRORS:
        return _unconfirmed(what, (ia, ib))
    oa, ob = _outputs(model, va), _outputs(model, vb)
    vals = {n: int(va[n][0]) for n in names}
    if oa == ob or any(int(vb[n][0]) != vals[n] for n in names):
        return _unconfirmed(what, (ia, ib))
    return SmtResult(
        "refuted",
        {"inputs": (ia, ib), "values": vals, "outputs": (oa, ob)},
        f"{model.name}: inputs {_show(ia)} and {_show(ib)} agree on {_show(vals)} but give "
        f"{_show(oa)} vs {_show(ob)}",
    )


def _read_inputs(solution: z3.ModelRef, *encodings: Encoding) -> dict[str, int]:
    """Inputs of a solution; an input no encoding reads takes its first domain value."""
    model = encodings[0].model
    out: dict[str, int] = {}
    for n in model.inputs:
        enc = next((e for e in encodings if n in e.values), None)
        out[n] = model.variables[n].domain[0] if enc is None else enc.read(solution, [n])[n]
    return out


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


def can_change_output(
    hypothesis: HypothesisLike,
    base: Mapping[str, Any],
    variable: VarRef,
    *,
    timeout_ms: int | None = None,
) -> SmtResult:
    """At input ``base``, can setting ``variable`` to some value of its domain change an output?

    "proved": it can; witness ``{"value": v, "output": {...}, "base_output": {...}}``.
    "refuted": no value of the domain changes any output.  "unknown": z3 gave up.
    Variables that ``variable`` does not affect keep their base values (computed
    with numpy, so callable mechanisms upstream are fine).
    """
    model = model_of(hypothesis)
    name = var_name(model, variable)
    batch = as_batch(model, base)
    if len(next(iter(batch.values()))) != 1:
        raise BatchShapeError(
            f"{model.name}: can_change_output takes one base input, got several rows"
        )
    inp = {k: int(v[0]) for k, v in batch.items()}
    base_values = run(model, batch)
    base_out = _outputs(model, base_values)
    downstream = model.descendants(name) | {name}
    fixed: dict[str, z3.ArithRef | int] = {
        k: int(v[0]) for k, v in base_values.items() if k not in downstream
    }
    choice = z3.Int(f"do.{name}!value")
    fixed[name] = choice
    enc = to_z3(model, "do.", fixed, needed=model.outputs)
    s = _solver(timeout_ms)
    s.add(*enc.constraints, in_domain(choice, model.variables[name].domain))
    s.add(z3.Or([enc.values[o] != base_out[o] for o in model.outputs]))
    what = f"can_change_output({model.name}, {_show(inp)}, {name!r})"
    answer = s.check()
    if answer == z3.unsat:
        return SmtResult(
            "refuted", None, f"{model.name}: at {_show(inp)} no value of {name} changes the output"
        )
    if answer == z3.unknown:
        return _unknown(s, what, timeout_ms)
    value = s.model().eval(choice, model_completion=True).as_long()
    try:
        after = _outputs(model, do(model, batch, {name: value}))
    except _REPLAY_ERRORS:
        return _unconfirmed(what, value)
    if after == base_out:
        return _unconfirmed(what, value)
    return SmtResult(
        "proved",
        {"value": value, "output": after, "base_output": base_out},
        f"{model.name}: at {_show(inp)}, setting {name} = {value} changes the output "
        f"{_show(base_out)} to {_show(after)} (replay: causalabs.do({model.name}, {_show(inp)}, "
        f"{{{name!r}: {value}}}))",
    )
