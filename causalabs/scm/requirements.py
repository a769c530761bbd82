"""Requirements on a hypothesis' inputs (``ca.require``): collected, checked, compiled, and refused when they leave no input.

:func:`causalabs.scm.declare.require` records each condition in the class
namespace while the body runs; when the class is created these helpers turn
them into the model's ``requires`` (conditions over the final input symbols)
and ``admit`` (the compiled mask).  What the requirements mean for every
consumer is in :mod:`causalabs.scm.space` and docs/hypotheses.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy as sp

from causalabs.errors import (
    EmptyInputSpaceError,
    HypothesisDefinitionError,
    UnknownSymbolError,
    UnsupportedMechanismError,
)
from causalabs.scm.compile import MechanismCompileError, NonIntegerValueError, compile_expression
from causalabs.scm.declare import REQUIREMENTS_KEY, lookup
from causalabs.scm.model import Compiled, CausalModel

#: Requirements are checked to leave some input by counting when the box is at most this big (else by z3).
DEFINITION_COUNT_LIMIT = 1 << 20


def collect(cls: type) -> list[Any]:
    """The requirements of the bases (already in final symbols), then those of this class body."""
    out: list[Any] = []
    for klass in reversed(cls.__mro__[1:]):
        for r in vars(klass).get("__ca_requirements__", ()):
            if r not in out:
                out.append(r)
    return out + list(vars(cls).get(REQUIREMENTS_KEY, ()))


def compile_admit(conditions: Sequence[sp.Basic], inputs: Sequence[sp.Symbol]) -> Compiled:
    """All conditions as one compiled function of the input columns (nonzero where every one holds)."""
    return compile_expression(conditions[0] if len(conditions) == 1 else sp.And(*conditions), list(inputs))


def resolve(
    cls: type, requires: Sequence[Any], rename: dict[sp.Symbol, sp.Symbol], inputs_: list[str]
) -> list[sp.Basic]:
    """The requirements in final symbols, each checked to be a condition over inputs only."""
    out: list[sp.Basic] = []
    for r in requires:
        expr = r.xreplace(rename)
        bad = sorted((s for s in expr.free_symbols if s.name not in inputs_ or s not in rename.values()),
                     key=lambda s: s.name)
        if bad:
            shown = []
            for sym in bad:
                foreign = lookup(sym)
                label = (foreign.given_name or foreign.kind) if foreign is not None else sym.name
                shown.append(repr(label) + (f" (declared outside the body of {cls.__name__})" if foreign else ""))
            raise UnknownSymbolError(
                f"{cls.__name__}: the requirement uses {', '.join(shown)}, not an input of {cls.__name__}; "
                f"ca.require(...) restricts inputs only (its inputs are {', '.join(inputs_)})"
            )
        if expr == sp.true:
            continue
        if expr == sp.false:
            raise EmptyInputSpaceError(
                f"{cls.__name__}: the requirement {sp.sstr(r)} is always false (sympy simplifies it to "
                "False): it leaves no input"
            )
        if not expr.free_symbols:
            raise HypothesisDefinitionError(
                f"{cls.__name__}: the requirement {sp.sstr(expr)} names no input; ca.require(...) takes a "
                "condition over the inputs, such as sp.Ne(a, b)"
            )
        if expr not in out:
            out.append(expr)
    return out


def check_admits_some(cls: type, model: CausalModel) -> None:
    """Refuse requirements that leave no input: counted when the box is small, asked of z3 otherwise."""
    from causalabs.scm import space

    where = f"{cls.__name__}: the requirement {space.requirement_text(model)}"
    try:
        if model.box_size <= DEFINITION_COUNT_LIMIT:
            space.count(model)  # raises EmptyInputSpaceError when none is left
            return
        import z3

        from causalabs.scm._z3translate import condition, in_domain

        xs = {n: z3.Int(n) for n in model.inputs}
        solver = z3.Solver()
        solver.set("timeout", 2000)
        solver.add(*[in_domain(x, model.variables[n].domain) for n, x in xs.items()])
        solver.add(*[condition(r, xs, where=f"{cls.__name__} requirement") for r in model.requires])
        answer = solver.check()
    except EmptyInputSpaceError:
        raise EmptyInputSpaceError(
            f"{where} leaves no input: none of the {model.box_size:,} combinations of its input domains "
            "satisfies it"
        ) from None
    except (MechanismCompileError, NonIntegerValueError, UnsupportedMechanismError) as exc:
        raise HypothesisDefinitionError(f"{where} cannot be evaluated on its inputs: {exc}") from None
    if answer == z3.unsat:
        raise EmptyInputSpaceError(
            f"{where} leaves no input: z3 proves no combination of its input domains satisfies it"
        )
