"""z3 reasoning (causalabs.scm.smt) checked against brute-force numpy enumeration."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import z3
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import causalabs as ca
from causalabs.errors import (
    HypothesisDefinitionError,
    UnknownVariableError,
    UnsupportedMechanismError,
    ValueOutOfDomainError,
)
from causalabs.loading import load_module
from causalabs.scm import _input_search, smt

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


# --- translation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "hyp", [Ops, Fractions, Chain, Hier, LeftOnly, MaxRewritten], ids=lambda h: h.__name__
)
def test_translation_agrees_with_numpy_on_every_input(hyp):
    assert_z3_agrees(hyp)


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


@FAST
@given(EXPRS)
def test_translation_agrees_with_numpy_on_random_expressions(expr):
    assert_z3_agrees(make_hypothesis(expr))


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


# --- (a) equivalence -------------------------------------------------------------


@pytest.mark.parametrize(
    "h1,h2",
    [
        (Hier, Swapped),
        (Hier, Crossed),
        (Hier, LeftOnly),
        (Crossed, Swapped),
        (MaxPiecewise, MaxRewritten),
        (MaxPiecewise, MaxWrong),
    ],
    ids=lambda h: h.__name__,
)
def test_equivalent_agrees_with_brute_force(h1, h2):
    r = smt.equivalent(h1, h2)
    assert r.proved == brute_equivalent(h1, h2)
    if r.refuted:
        inp = r.witness["input"]
        assert outputs_table(h1, inp).tolist() != outputs_table(h2, inp).tolist()
        assert r.witness["outputs"][0] == {"out": int(ca.run(h1, inp)["out"][0])}
        assert r.witness["outputs"][1] == {"out": int(ca.run(h2, inp)["out"][0])}
        assert f"{h1.__name__} and {h2.__name__} differ" in r.reason
    else:
        assert r.witness is None


@settings(FAST, max_examples=15)
@given(EXPRS, EXPRS)
def test_equivalent_agrees_with_brute_force_on_random_pairs(e1, e2):
    h1, h2 = make_hypothesis(e1, "First"), make_hypothesis(e2, "Second")
    rewritten = sp.expand(e1) if isinstance(e1, sp.Expr) else sp.Piecewise((1, e1), (0, True))
    for other in (h2, make_hypothesis(rewritten, "Rewritten")):
        r = smt.equivalent(h1, other)
        assert r.status == ("proved" if brute_equivalent(h1, other) else "refuted")
        if r.refuted:
            inp = r.witness["input"]
            assert ca.run(h1, inp)["out"][0] != ca.run(other, inp)["out"][0]


def test_equivalent_refuses_different_inputs():
    with pytest.raises(smt.HypothesisMismatchError, match="Chain"):
        smt.equivalent(Hier, Chain)


# --- (b) mediation ---------------------------------------------------------------


def test_hierarchical_equality_is_mediated_by_left_and_right_not_left():
    assert smt.mediates(Hier, [Hier.left, Hier.right]).proved
    r = smt.mediates(Hier, ["left"])
    assert r.refuted
    ia, ib = r.witness["inputs"]
    va, vb = ca.run(Hier, ia), ca.run(Hier, ib)
    assert va["left"][0] == vb["left"][0] and va["out"][0] != vb["out"][0]


@pytest.mark.parametrize("hyp", [Hier, Chain, LeftOnly], ids=lambda h: h.__name__)
def test_mediates_agrees_with_brute_force_on_every_subset(hyp):
    names = list(ca.model_of(hyp).variables)
    for k in range(len(names) + 1):
        for subset in itertools.combinations(names, k):
            r = smt.mediates(hyp, subset)
            assert r.status == ("proved" if brute_mediates(hyp, subset) else "refuted"), subset
            if r.refuted:
                ia, ib = r.witness["inputs"]
                va, vb = ca.run(hyp, ia), ca.run(hyp, ib)
                assert all(va[n][0] == vb[n][0] for n in subset)
                assert va["out"][0] != vb["out"][0]


# --- (c) finding inputs ----------------------------------------------------------


def test_find_inputs_with_a_sympy_condition():
    r = smt.find_inputs(Hier, sp.Ne(Hier.left, Hier.right), n=5)
    assert r.status == "found" and len(r) == 5
    assert len({tuple(x.values()) for x in r.inputs}) == 5
    v = ca.run(Hier, r.batch)
    assert np.all(v["left"] != v["right"])
    everything = smt.find_inputs(Hier, [sp.Ne(Hier.left, Hier.right), {"left": 1}], n=1000)
    assert everything.status == "exhausted"
    assert {tuple(x.values()) for x in everything.inputs} == brute_solutions(
        Hier, {"left": 1, "right": 0}
    )


@FAST
@given(st.data())
def test_find_inputs_agrees_with_brute_force(data):
    hyp = data.draw(st.sampled_from([Hier, Chain, Ops]))
    model = ca.model_of(hyp)
    names = data.draw(
        st.lists(st.sampled_from(list(model.variables)), min_size=1, max_size=2, unique=True)
    )
    mapping = {n: data.draw(st.sampled_from(model.variables[n].domain)) for n in names}
    want = brute_solutions(hyp, mapping)
    n = data.draw(st.integers(1, 4))
    r = smt.find_inputs(hyp, mapping, n=n)
    got = {tuple(x[k] for k in model.inputs) for x in r.inputs}
    assert len(got) == len(r.inputs) and got <= want
    assert r.status == ("found" if len(want) >= n else "exhausted")
    assert len(got) == min(n, len(want))


def test_find_inputs_reports_no_solution_as_exhausted():
    r = smt.find_inputs(Hier, sp.And(sp.Eq(Hier.w, Hier.x), sp.Eq(Hier.left, 0)), n=3)
    assert r.status == "exhausted" and r.inputs == ()
    assert r.batch["w"].shape == (0,)


def test_find_inputs_rejects_unknown_names():
    with pytest.raises(UnknownVariableError, match="nope"):
        smt.find_inputs(Hier, {"nope": 1})
    with pytest.raises(UnknownVariableError, match="q"):
        smt.find_inputs(Hier, sp.Eq(sp.Symbol("q"), 1))


# --- (d) can an intervention change the output? ----------------------------------


@FAST
@given(st.data())
def test_can_change_output_agrees_with_brute_force(data):
    hyp = data.draw(st.sampled_from([Hier, Chain, Ops, LeftOnly]))
    model = ca.model_of(hyp)
    base = {n: data.draw(st.sampled_from(model.variables[n].domain), label=n) for n in model.inputs}
    name = data.draw(st.sampled_from(list(model.variables)))
    r = smt.can_change_output(hyp, base, name)
    assert r.status == ("proved" if brute_can_change(hyp, base, name) else "refuted")
    if r.proved:
        w = r.witness
        after = ca.do(hyp, base, {name: w["value"]})
        assert {o: int(after[o][0]) for o in model.outputs} == w["output"] != w["base_output"]


def test_can_change_output_examples():
    base = {"w": 0, "x": 0, "y": 1, "z": 2}  # left = 1, right = 0, out = 0
    assert smt.can_change_output(Hier, base, "left").proved
    assert smt.can_change_output(Hier, base, Hier.right).proved
    # Chain at a=b=c=0: s = 0, so m cannot matter (out = c mod 4)
    assert smt.can_change_output(Chain, {"a": 0, "b": 0, "c": 0}, "m").refuted


# --- unknown is never proved -----------------------------------------------------


class Fermat(ca.Hypothesis):
    a, b, c = ca.inputs("a b c", domain=range(1, 2000))
    out = ca.output(sp.Eq(a**3 + b**3, c**3), domain=(0, 1))


class Never(ca.Hypothesis):
    a, b, c = ca.inputs("a b c", domain=range(1, 2000))
    out = ca.output(sp.Lt(a, 0), domain=(0, 1))


def test_a_hard_query_under_a_tiny_timeout_is_unknown():
    r = smt.equivalent(Fermat, Never, timeout_ms=1)
    assert r.status == "unknown" and "not proved" in r.reason
    s = smt.find_inputs(Fermat, {"out": 1}, timeout_ms=1)
    assert s.status == "unknown" and s.inputs == ()


def test_solver_unknown_is_reported_as_unknown(monkeypatch):
    monkeypatch.setattr(z3.Solver, "check", lambda self, *a: z3.unknown)
    for r in (
        smt.equivalent(Hier, Swapped, timeout_ms=50),
        smt.mediates(Hier, ["left", "right"]),
        smt.can_change_output(Hier, {"w": 0, "x": 0, "y": 1, "z": 2}, "left"),
    ):
        assert r.status == "unknown" and not r.proved and r.witness is None
    assert smt.find_inputs(Hier, {"left": 1}, n=2).status == "unknown"


def test_results_refuse_truth_testing():
    r = smt.equivalent(Hier, Swapped)
    with pytest.raises(TypeError, match="proved"):
        bool(r)
    with pytest.raises(ValueError, match="timeout_ms"):
        smt.equivalent(Hier, Swapped, timeout_ms=0)


def test_a_witness_numpy_does_not_confirm_is_unknown(monkeypatch):
    """z3 finds a difference, but the (patched) numpy replay sees none: not refuted, not proved."""
    real_run = smt.run
    monkeypatch.setattr(smt, "run", lambda h, inp: real_run(Hier, inp))
    r = smt.equivalent(Hier, Crossed)
    assert r.status == "unknown" and "not confirmed" in r.reason

    def broken(*args, **kwargs):
        raise ValueError("numpy says: non-integer value")

    monkeypatch.setattr(smt, "run", broken)
    monkeypatch.setattr(_input_search, "run", broken)  # find_inputs replays in its own module
    assert smt.mediates(Hier, ["left"]).status == "unknown"
    s = smt.find_inputs(Hier, {"left": 1}, n=3)
    assert s.status == "unknown" and s.inputs == ()
