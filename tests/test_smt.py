"""z3 questions (causalabs.scm.smt: equivalent, mediates, find_inputs, can_change_output) checked against
brute-force numpy enumeration; unknown is never proved.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp
import z3
from _smt_cases import (
    EXPRS,
    FAST,
    Chain,
    Crossed,
    Hier,
    LeftOnly,
    MaxPiecewise,
    MaxRewritten,
    MaxWrong,
    Ops,
    Swapped,
    brute_can_change,
    brute_equivalent,
    brute_mediates,
    brute_solutions,
    make_hypothesis,
    outputs_table,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import causalabs as ca
from causalabs.errors import UnknownVariableError
from causalabs.scm import _input_search, smt


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
