"""Shared by the z3 tests: small hypotheses covering every operator, random expressions, and the brute-force
numpy enumeration the answers are checked against (not a test module).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import z3
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

import causalabs as ca
from causalabs.errors import HypothesisDefinitionError
from causalabs.loading import load_module
from causalabs.scm import smt

HE = load_module(Path(__file__).resolve().parents[1] / "hypotheses" / "hierarchical_equality.py")
Hier, Swapped, Crossed, LeftOnly = (
    HE.HierarchicalEquality,
    HE.SwappedEquality,
    HE.CrossedEquality,
    HE.LeftOnly,
)
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- small hypotheses covering every operator ------------------------------------


class Ops(ca.Hypothesis):
    """Every supported operator; d avoids 0 (a non-contiguous domain), p is 0/1."""

    a, b = ca.inputs("a b", domain=range(-2, 3))
    d = ca.input("d", domain=(-3, -2, -1, 1, 2, 3))
    p = ca.input("p", domain=(0, 1))
    eq = ca.var(sp.Eq(a, b))
    ne = ca.var(sp.Ne(a, d))
    lt = ca.var(sp.Lt(a, b))
    le = ca.var(sp.Le(b, d))
    gt = ca.var(sp.Gt(a, 0))
    ge = ca.var(sp.Ge(d, b))
    both = ca.var(sp.And(eq, p))
    either = ca.var(sp.Or(lt, gt, sp.Eq(b, 2)))
    neg = ca.var(sp.Not(p))
    odd = ca.var(sp.Xor(eq, p, ge))
    truthy = ca.var(sp.And(a, b))  # ints in a boolean context: nonzero is true
    falsy = ca.var(sp.Not(a))
    nested = ca.var(sp.Eq(a, sp.Eq(b, 1)))  # a boolean compared with an int
    booleq = ca.var(sp.Eq(eq, lt))
    arith = ca.var(a * b - 2 * a + 3 - d)
    power = ca.var(a**2 - b**3)
    mod = ca.var(sp.Mod(a, d))
    mod3 = ca.var(sp.Mod(a + b, 3))
    div = ca.var(a // d)
    div2 = ca.var(b // 2)
    divneg = ca.var(a // -2)
    ceil = ca.var(sp.ceiling((a + b) / 2))
    big = ca.var(sp.Max(a, b, 0))
    small = ca.var(sp.Min(a, d))
    absolute = ca.var(sp.Abs(a - b))
    piece = ca.var(sp.Piecewise((a + b, a > b), (a * b, sp.Eq(a, 0)), (a - b, True)))
    boolpiece = ca.var(sp.Piecewise((eq, p > 0), (lt, True)))
    yes = ca.var(sp.true)
    no = ca.var(sp.false)
    seven = ca.var(7)
    out = ca.output(piece + mod * seven + sp.Piecewise((div, sp.And(yes, sp.Not(no))), (0, True)))


class Fractions(ca.Hypothesis):
    """Rationals inside integer values: sympy itself writes Eq(2*a, a + b) as Eq(a, a/2 + b/2)."""

    a, b = ca.inputs("a b", domain=range(-3, 4))
    d = ca.input("d", domain=(-3, -2, -1, 1, 2, 3))
    halves = ca.var(sp.floor(sp.Piecewise((b / 2, sp.Eq(a, d)), (a / 2, True))))
    up = ca.var(sp.ceiling(sp.Piecewise((b / d, sp.Eq(a, d)), (a / d, True))))
    biggest = ca.var(sp.floor(sp.Max(a / 2, b / 3)))
    canon = ca.var(sp.Piecewise((1, sp.Eq(2 * a, a + b)), (0, True)))
    ratio = ca.var(sp.Lt(a / d, b / 3))
    recip = ca.var(sp.floor(7 / (a * a + 1)))
    inverse = ca.var(sp.floor(5 * a / d**2))
    neg = ca.var(sp.floor((a + b) / -3))
    triangle = ca.var(a * (a + 1) / 2)  # integer-valued
    signum = ca.var(sp.sign(a - b))
    out = ca.output(
        halves + up + biggest + canon + ratio + recip + inverse + neg + triangle + signum
    )


class Chain(ca.Hypothesis):
    """A small arithmetic chain with an output of several values."""

    a, b, c = ca.inputs("a b c", domain=range(3))
    s = ca.var(a + b)
    m = ca.var(sp.Max(b, c))
    out = ca.output(sp.Mod(s * m + c, 4))


class MaxPiecewise(ca.Hypothesis):
    a, b = ca.inputs("a b", domain=range(-3, 4))
    out = ca.output(sp.Max(a, b) + a // 2)


class MaxRewritten(ca.Hypothesis):
    a, b = ca.inputs("a b", domain=range(-3, 4))
    out = ca.output(sp.Piecewise((a, a >= b), (b, True)) + sp.floor((a - sp.Mod(a, 2)) / 2))


class MaxWrong(ca.Hypothesis):
    a, b = ca.inputs("a b", domain=range(-3, 4))
    out = ca.output(sp.Piecewise((a, a > b + 1), (b, True)) + a // 2)


def _double(x):
    return 2 * x


class WithCallable(ca.Hypothesis):
    """``side`` is a Python callable; only the output ``out`` avoids it."""

    a, b = ca.inputs("a b", domain=range(3))
    side = ca.var(_double, parents=(a,), domain=(0, 2, 4))
    left = ca.var(sp.Eq(a, b))
    out = ca.output(sp.Not(left))
    out2 = ca.output(side + b)


class CallableOnPath(ca.Hypothesis):
    a, b = ca.inputs("a b", domain=range(3))
    side = ca.var(_double, parents=(a,), domain=(0, 2, 4))
    mid = ca.var(side + b)
    out = ca.output(sp.Gt(mid, 2))


# --- brute force -----------------------------------------------------------------


def assert_z3_agrees(hyp, enc=None, interventions=None):
    """One query: is there an input where some encoded variable's z3 value differs from numpy's?"""
    model = ca.model_of(hyp)
    enc = enc or smt.to_z3(model, "t.")
    table = ca.enumerate_inputs(model)
    want = ca.do(model, table, interventions or {})
    names = [n for n in enc.values if not model.variables[n].is_input]
    mismatch = [
        z3.And(
            *[enc.values[k] == int(table[k][i]) for k in model.inputs],
            z3.Or([enc.values[n] != int(want[n][i]) for n in names]),
        )
        for i in range(len(table[model.inputs[0]]))
    ]
    s = z3.Solver()
    s.add(*enc.constraints, z3.Or(mismatch))
    answer = s.check()
    if answer == z3.sat:
        m = s.model()
        row = {k: m.eval(enc.values[k]).as_long() for k in model.inputs}
        got = {n: m.eval(enc.values[n], model_completion=True).as_long() for n in names}
        pytest.fail(
            f"{model.name}: z3 and numpy differ at {row}: z3 {got} vs numpy {ca.rows(ca.do(model, row, interventions or {}))}"
        )
    assert answer == z3.unsat


def outputs_table(hyp, inputs):
    values = ca.run(hyp, inputs)
    return np.stack([values[o] for o in ca.model_of(hyp).outputs], axis=1)


def brute_equivalent(h1, h2):
    table = ca.enumerate_inputs(h1)
    return bool(np.array_equal(outputs_table(h1, table), outputs_table(h2, table)))


def brute_mediates(hyp, names):
    table = ca.enumerate_inputs(hyp)
    values = ca.run(hyp, table)
    model = ca.model_of(hyp)
    seen: dict[tuple, tuple] = {}
    for i in range(len(table[model.inputs[0]])):
        key = tuple(int(values[n][i]) for n in names)
        out = tuple(int(values[o][i]) for o in model.outputs)
        if seen.setdefault(key, out) != out:
            return False
    return True


def brute_solutions(hyp, mapping):
    table = ca.enumerate_inputs(hyp)
    values = ca.run(hyp, table)
    mask = np.ones(len(table[next(iter(table))]), dtype=bool)
    for k, v in mapping.items():
        mask &= values[k] == v
    return {tuple(int(table[n][i]) for n in ca.model_of(hyp).inputs) for i in np.flatnonzero(mask)}


def brute_can_change(hyp, base, name):
    model = ca.model_of(hyp)
    before = outputs_table(hyp, base)
    return any(
        not np.array_equal(outputs_table_do(hyp, base, {name: v}), before)
        for v in model.variables[name].domain
    )


def outputs_table_do(hyp, base, interventions):
    values = ca.do(hyp, base, interventions)
    return np.stack([values[o] for o in ca.model_of(hyp).outputs], axis=1)


A, B, D = sp.symbols("A B D")
INT_LEAF = st.one_of(st.sampled_from([A, B, D]), st.integers(-3, 3).map(sp.Integer))
RELATIONS = st.sampled_from([sp.Eq, sp.Ne, sp.Lt, sp.Le, sp.Gt, sp.Ge])
DIVISORS = st.sampled_from([D, sp.Integer(2), sp.Integer(-3)])


def _int_ops(c):
    pair = st.tuples(c, c)
    rel = st.tuples(RELATIONS, c, c).map(lambda t: t[0](t[1], t[2]))
    return st.one_of(
        pair.map(lambda t: t[0] + t[1]),
        pair.map(lambda t: t[0] - t[1]),
        pair.map(lambda t: t[0] * t[1]),
        st.tuples(c, DIVISORS).map(lambda t: sp.Mod(t[0], t[1])),
        st.tuples(c, DIVISORS).map(lambda t: t[0] // t[1]),
        pair.map(lambda t: sp.Max(*t)),
        pair.map(lambda t: sp.Min(*t)),
        st.tuples(c, rel, c).map(lambda t: sp.Piecewise((t[0], t[1]), (t[2], True))),
    )


INT_EXPRS = st.recursive(INT_LEAF, _int_ops, max_leaves=5)
BOOL_EXPRS = st.recursive(
    st.one_of(
        st.tuples(RELATIONS, INT_EXPRS, INT_EXPRS).map(lambda t: t[0](t[1], t[2])),
        st.sampled_from([A, B]),
    ),
    lambda bs: st.one_of(
        st.tuples(bs, bs).map(lambda t: sp.And(*t)),
        st.tuples(bs, bs).map(lambda t: sp.Or(*t)),
        st.tuples(bs, bs).map(lambda t: sp.Xor(*t)),
        bs.map(sp.Not),
    ),
    max_leaves=3,
)
EXPRS = st.one_of(INT_EXPRS, BOOL_EXPRS)


def make_hypothesis(expr, name="Random"):
    """A hypothesis over a, b in -2..2 and d in {-2, -1, 1, 2} whose output is ``expr``."""
    a, b = ca.inputs("a b", domain=range(-2, 3))
    d = ca.input("d", domain=(-2, -1, 1, 2))
    body = {"a": a, "b": b, "d": d}
    body["out"] = ca.output(sp.sympify(expr).xreplace({A: a, B: b, D: d}))
    try:
        return type(name, (ca.Hypothesis,), body)
    except HypothesisDefinitionError:  # a constant output
        assume(False)
    except ValueError:  # sympy's lambdify fails on some Piecewise conditions (not under test here)
        assume(False)
