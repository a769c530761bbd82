"""sympy -> z3 translation (causalabs.scm.smt.to_z3) checked against numpy on every input; callables refused by name.
"""

from __future__ import annotations

import pytest
import sympy as sp
import z3
from _smt_cases import (
    EXPRS,
    FAST,
    CallableOnPath,
    Chain,
    Fractions,
    Hier,
    LeftOnly,
    MaxRewritten,
    Ops,
    WithCallable,
    assert_z3_agrees,
    make_hypothesis,
)
from hypothesis import given

import causalabs as ca
from causalabs.errors import UnknownVariableError, UnsupportedMechanismError, ValueOutOfDomainError
from causalabs.scm import smt


# --- translation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "hyp", [Ops, Fractions, Chain, Hier, LeftOnly, MaxRewritten], ids=lambda h: h.__name__
)
def test_translation_agrees_with_numpy_on_every_input(hyp):
    assert_z3_agrees(hyp)


@FAST
@given(EXPRS)
def test_translation_agrees_with_numpy_on_random_expressions(expr):
    assert_z3_agrees(make_hypothesis(expr))


def test_an_integer_beside_a_folded_relation_stays_a_truth_value():
    """``a & (floor(a/2) <= floor(a/2))``: the exact-division rewrite folds the relation to True, and
    sympy would then fold ``And(a, True)`` into ``a`` (2 at a = 2) where z3 and the meaning say a != 0 (1)."""
    hyp = make_hypothesis(sp.sympify("A & (floor(A/2) <= floor(A/2))"))
    assert ca.rows(ca.do(ca.model_of(hyp), {"a": 2, "b": 0, "d": 1}, {}))[0]["out"] == 1
    assert_z3_agrees(hyp)


def test_interventions_replace_mechanisms_like_do():
    interventions = {"left": 0, "right": 1}
    assert_z3_agrees(Hier, smt.to_z3(Hier, "i.", {"left": 0, Hier.right: 1}), interventions)
    assert_z3_agrees(Chain, smt.to_z3(Chain, "i.", {"s": 3, Chain.b: 0}), {"s": 3, "b": 0})


def test_symbolic_intervention_is_constrained_to_the_domain():
    src = smt.to_z3(Chain, "src.")
    enc = smt.to_z3(Chain, "dst.", {"s": src["s"] + 10})  # s's domain is 0..4
    s = z3.Solver()
    s.add(*src.constraints, *enc.constraints)
    assert s.check() == z3.unsat
    enc = smt.to_z3(Chain, "dst.", {"s": src["s"]})
    s = z3.Solver()
    s.add(
        *src.constraints,
        *enc.constraints,
        src["a"] == 2,
        src["b"] == 1,
        enc["b"] == 2,
        enc["c"] == 0,
    )
    assert s.check() == z3.sat
    assert s.model().eval(enc["out"]).as_long() == (3 * 2 + 0) % 4


def test_out_of_domain_intervention_is_refused():
    with pytest.raises(ValueOutOfDomainError, match="left"):
        smt.to_z3(Hier, interventions={"left": 2})


def test_needed_restricts_the_encoding():
    enc = smt.to_z3(Hier, needed=["left"])
    assert set(enc.values) == {"w", "x", "left"}
    with pytest.raises(UnknownVariableError, match="right"):
        enc["right"]


def test_translate_and_condition_helpers():
    w, x = z3.Ints("w x")
    e = smt.translate(
        sp.Symbol("w") // 3 + sp.Piecewise((1, sp.Eq(sp.Symbol("x"), 1)), (0, True)),
        {"w": w, "x": x},
    )
    assert z3.simplify(z3.substitute(e, (w, z3.IntVal(-7)), (x, z3.IntVal(1)))).as_long() == -2
    c = smt.condition(sp.Symbol("w"), {"w": w})
    assert z3.is_bool(c)
    assert smt.in_domain(w, (0, 2, 5)).decl().name() == "or"


@pytest.mark.parametrize(
    "mechanism",
    [lambda a: 2**a, lambda a: sp.floor(sp.sqrt(a))],
    ids=["power", "sqrt"],
)
def test_untranslatable_expressions_name_the_variable(mechanism):
    class Odd(ca.Hypothesis):
        a = ca.input("a", domain=(0, 2, 4))
        weird = ca.var(mechanism(a))
        out = ca.output(sp.Gt(weird, 0))

    with pytest.raises(UnsupportedMechanismError, match=r"Odd\.weird"):
        smt.to_z3(Odd)


# --- callables -----------------------------------------------------------------


def test_callable_mechanism_raises_naming_the_variable():
    with pytest.raises(UnsupportedMechanismError, match=r"WithCallable\.side"):
        smt.to_z3(WithCallable)
    with pytest.raises(UnsupportedMechanismError, match=r"CallableOnPath\.side.*callable"):
        smt.equivalent(CallableOnPath, CallableOnPath)
    with pytest.raises(UnsupportedMechanismError, match="side"):
        smt.find_inputs(CallableOnPath, {"out": 1})


def test_questions_not_touching_a_callable_still_work():
    assert smt.find_inputs(WithCallable, {"left": 1}, n=10).status == "exhausted"
    assert smt.can_change_output(WithCallable, {"a": 0, "b": 0}, "left").proved
    with pytest.raises(UnsupportedMechanismError, match="side"):
        smt.mediates(WithCallable, ["left"])  # out2 reads side
    # upstream callables are computed with numpy at the base input
    r = smt.can_change_output(CallableOnPath, {"a": 1, "b": 0}, "mid")
    assert r.proved and r.witness["value"] > 2  # mid = 2 at the base; out = mid > 2
