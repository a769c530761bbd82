"""z3 reasoning over hypotheses: exact answers for every input of the finite domains.

Mechanisms (sympy) are translated into z3 integer terms (the translation lives
in :mod:`causalabs.scm._z3translate`, the input search :func:`find_inputs` in
:mod:`causalabs.scm._input_search`, the answer value :class:`SmtResult` in
:mod:`causalabs.scm._smt_answers`; all are re-exported here): every causalabs
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

from collections.abc import Iterable, Mapping
from typing import Any

import sympy as sp
import z3

from causalabs.errors import BatchShapeError, HypothesisMismatchError
from causalabs.scm._input_search import ConstraintLike, InputSearch, find_inputs
from causalabs.scm._smt_answers import (
    _REPLAY_ERRORS,
    SmtResult,
    _outputs,
    _show,
    _solver,
    _unconfirmed,
    _unknown,
)
from causalabs.scm._z3translate import Encoding, condition, in_domain, to_z3, translate
from causalabs.scm.domains import domain_key
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import HypothesisLike, VarRef, as_batch, do, model_of, run, var_name

__all__ = [
    "ConstraintLike",
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


# --- the questions ----------------------------------------------------------------


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

    With input requirements (``ca.require``), on every input satisfying those
    of both hypotheses.

    Refuted witness: ``{"input": {...}, "outputs": (outputs of h1, outputs of h2)}``.
    """
    m1, m2 = model_of(h1), model_of(h2)
    d1 = {n: domain_key(m1.variables[n].domain) for n in m1.inputs}
    d2 = {n: domain_key(m2.variables[n].domain) for n in m2.inputs}
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
        if set(m1.requires) == set(m2.requires):
            where = f"for all {m1.input_space_size:,} inputs"
        else:  # each copy's inputs satisfy its own hypothesis' requirements, and the copies share inputs
            where = "on every input satisfying the requirements of both (" + " and ".join(
                sorted({sp.sstr(r) for r in (*m1.requires, *m2.requires)})) + ")"
        return SmtResult("proved", None, f"{m1.name} and {m2.name} agree on every output {where}")
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
