"""Properties of the batched semantics: run, do, interchange, enumerate_inputs.

Each property is checked on every example hypothesis plus two escape-hatch
classes, with inputs and interventions drawn by the ``hypothesis`` library
(imported as ``hyp`` / ``given`` to keep the name free for causalabs' own
hypotheses).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import causalabs as ca
from causalabs.loading import load_module

HERE = Path(__file__).resolve().parent
FILES = {
    name: load_module(HERE.parent / "hypotheses" / f"{name}.py")
    for name in ("hierarchical_equality", "addition", "boolean_circuit")
}
HE = FILES["hierarchical_equality"]
ADD = FILES["addition"]
BOOL = FILES["boolean_circuit"]


class Hatch(ca.Hypothesis):
    """Escape-hatch mechanisms, vectorized and row by row, on a non-contiguous domain."""

    a = ca.input("a", domain=(0, 2, 5))
    b = ca.input("b", domain=range(3))
    s = ca.var(lambda a, b: a + b, parents=(a, b), domain=range(8))
    m = ca.var(lambda s, b: max(s - b, 1), parents=("s", b), domain=range(8), vectorized=False)
    out = ca.output(sp.Mod(s * m, 4))


class Wide(ca.Hypothesis):
    """Floor division and a multi-parent chain, with a non-trivial graph."""

    p, q = ca.inputs("p q", domain=range(-3, 4))
    r = ca.input("r", domain=(1, 7))
    h = ca.var(sp.floor((p + q) / 3))
    k = ca.var(sp.ceiling((q - r) / 2))
    out = ca.output(h * k + r)


HYPS = [
    HE.HierarchicalEquality,
    HE.LeftOnly,
    HE.CrossedEquality,
    HE.SwappedEquality,
    HE.LeftOnlySwapped,
    ADD.TwoDigitAddition,
    ADD.TensCarryAddition,
    ADD.OnesSumAddition,
    BOOL.BooleanCircuit,
    BOOL.SwappedGates,
    Hatch,
    Wide,
]
HYP_IDS = [h.__name__ for h in HYPS]


def rows_of(model: ca.CausalModel, min_size: int = 1, max_size: int = 6) -> st.SearchStrategy:
    row = st.fixed_dictionaries({n: st.sampled_from(model.variables[n].domain) for n in model.inputs})
    return st.lists(row, min_size=min_size, max_size=max_size)


def to_batch(model: ca.CausalModel, rows: list[dict[str, int]]) -> dict[str, np.ndarray]:
    return {n: np.array([r[n] for r in rows], dtype=np.int64) for n in model.inputs}


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert list(got) == list(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@st.composite
def case(draw: st.DrawFn, n_rows: int | None = None):
    """(model, base rows, non-empty list of distinct non-input or input variable names)."""
    hyp = draw(st.sampled_from(HYPS))
    model = ca.model_of(hyp)
    size = draw(st.integers(1, 6)) if n_rows is None else n_rows
    base = draw(rows_of(model, size, size))
    names = draw(st.lists(st.sampled_from(list(model.variables)), min_size=1, max_size=3, unique=True))
    return hyp, model, base, names


# --- interchange and do: identities ----------------------------------------


@given(case())
def test_interchange_with_the_base_as_source_is_the_identity(c):
    hyp, model, base, names = c
    want = ca.run(hyp, base)
    got = ca.interchange(hyp, base, {n: base for n in names})
    assert_same(got, want)


@given(case())
def test_do_with_a_variables_own_value_changes_nothing(c):
    hyp, model, base, names = c
    want = ca.run(hyp, base)
    got = ca.do(hyp, base, {n: want[n] for n in names})
    assert_same(got, want)


@given(st.data())
def test_interchange_with_several_sources_matches_do_by_hand(data):
    hyp, model, base, names = data.draw(case())
    n = len(base)
    sources = {v: data.draw(rows_of(model, n, n), label=f"source for {v}") for v in names}
    got = ca.interchange(hyp, base, sources)
    by_hand = ca.do(hyp, base, {v: ca.run(hyp, src)[v] for v, src in sources.items()})
    assert_same(got, by_hand)
    # Intervened variables hold their source values; their non-descendants keep base values.
    plain = ca.run(hyp, base)
    touched = set(names).union(*(model.descendants(v) for v in names))
    for v in names:
        np.testing.assert_array_equal(got[v], ca.run(hyp, sources[v])[v])
    for v in set(model.variables) - touched:
        np.testing.assert_array_equal(got[v], plain[v], err_msg=v)


@given(st.data())
def test_interventions_keep_every_variable_inside_its_domain(data):
    hyp, model, base, names = data.draw(case())
    n = len(base)
    values = {
        v: data.draw(st.lists(st.sampled_from(model.variables[v].domain), min_size=n, max_size=n))
        for v in names
    }
    out = ca.do(hyp, base, values)
    for name, var in model.variables.items():
        assert set(out[name].tolist()) <= set(var.domain), name
        assert out[name].dtype == np.int64


# --- batches -----------------------------------------------------------------


@given(st.data())
def test_batched_evaluation_equals_row_by_row(data):
    hyp, model, base, names = data.draw(case())
    n = len(base)
    sources = {v: data.draw(rows_of(model, n, n)) for v in names}
    consts = {v: data.draw(st.sampled_from(model.variables[v].domain)) for v in names}

    def stack(results):
        return {k: np.concatenate([r[k] for r in results]) for k in results[0]}

    assert_same(ca.run(hyp, base), stack([ca.run(hyp, row) for row in base]))
    assert_same(ca.do(hyp, base, consts), stack([ca.do(hyp, row, consts) for row in base]))
    assert_same(
        ca.interchange(hyp, base, sources),
        stack([ca.interchange(hyp, base[i], {v: s[i] for v, s in sources.items()}) for i in range(n)]),
    )


@given(case())
def test_every_input_form_gives_the_same_batch(c):
    hyp, model, base, names = c
    columns = to_batch(model, base)
    matrix = np.stack([columns[n] for n in model.inputs], axis=1)
    by_symbol = {getattr(hyp, n): columns[n].tolist() for n in model.inputs}
    want = ca.run(hyp, columns)
    for form in (base, matrix, by_symbol, {n: list(v) for n, v in columns.items()}):
        assert_same(ca.run(hyp, form), want)
    assert ca.rows(ca.as_batch(hyp, base)) == base


def test_a_scalar_column_broadcasts_against_a_batch():
    hyp = HE.HierarchicalEquality
    got = ca.run(hyp, {"w": [0, 1, 2], "x": 1, "y": 3, "z": [3, 3, 0]})
    np.testing.assert_array_equal(got["x"], [1, 1, 1])
    np.testing.assert_array_equal(got["out"], [0, 1, 1])


# --- enumeration -------------------------------------------------------------


@pytest.mark.parametrize("hyp", HYPS, ids=HYP_IDS)
def test_run_on_enumerate_inputs_covers_the_product_of_domains(hyp):
    model = ca.model_of(hyp)
    inputs = ca.enumerate_inputs(hyp)
    domains = [model.variables[n].domain for n in model.inputs]
    seen = list(zip(*(inputs[n].tolist() for n in model.inputs)))
    assert seen == list(itertools.product(*domains))  # every combination, once, in order
    assert len(seen) == model.input_space_size
    values = ca.run(hyp, inputs)
    for name, var in model.variables.items():
        assert len(values[name]) == len(seen)
        assert set(values[name].tolist()) <= set(var.domain), name


def test_enumeration_refuses_a_space_over_the_limit():
    with pytest.raises(ca.errors.DomainTooLargeError, match="TwoDigitAddition"):
        ca.enumerate_inputs(ADD.TwoDigitAddition, limit=9_999)


# --- agreement with independent references -----------------------------------


def test_addition_matches_plain_integer_arithmetic():
    v = ca.run(ADD.TwoDigitAddition, ca.enumerate_inputs(ADD.TwoDigitAddition))
    a, b = 10 * v["a1"] + v["a0"], 10 * v["b1"] + v["b0"]
    np.testing.assert_array_equal(v["total"], a + b)
    np.testing.assert_array_equal(v["carry"], (v["a0"] + v["b0"]) // 10)
    np.testing.assert_array_equal(v["s0"], (v["a0"] + v["b0"]) % 10)


def test_floor_and_ceiling_of_fractions_are_exact():
    # lambdify alone computes floor((p + q) / 3) as floor(p/3 + q/3) in floats,
    # which is wrong on some inputs; the compiled mechanism must be exact.
    v = ca.run(Wide, ca.enumerate_inputs(Wide))
    np.testing.assert_array_equal(v["h"], (v["p"] + v["q"]) // 3)
    np.testing.assert_array_equal(v["k"], -((v["r"] - v["q"]) // 2))

    class Big(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=range(300))
        f = ca.output(sp.floor((a + b) / 3) + sp.floor(sp.floor(a / 7) / 3))

    v = ca.run(Big, ca.enumerate_inputs(Big))
    np.testing.assert_array_equal(v["f"], (v["a"] + v["b"]) // 3 + (v["a"] // 7) // 3)


@given(st.data())
def test_hierarchical_equality_interchange_matches_its_definition(data):
    hyp = HE.HierarchicalEquality
    model = ca.model_of(hyp)
    base = data.draw(rows_of(model))
    src = data.draw(rows_of(model, len(base), len(base)))
    got = ca.interchange(hyp, base, {"left": src})["out"].tolist()
    want = [int((s["w"] == s["x"]) == (b["y"] == b["z"])) for b, s in zip(base, src)]
    assert got == want


def test_interventions_tell_the_addition_twins_apart():
    base = {"a1": 0, "a0": 3, "b1": 0, "b0": 4}  # 3 + 4
    assert ca.run(ADD.TwoDigitAddition, base)["total"].tolist() == [7]
    assert ca.do(ADD.TwoDigitAddition, base, {"carry": 1})["total"].tolist() == [17]
    assert ca.do(ADD.TensCarryAddition, base, {"carry": 1})["total"].tolist() == [107]


def test_interventions_accept_symbols_and_per_row_values():
    hyp = HE.HierarchicalEquality
    base = {"w": [0, 0], "x": [0, 1], "y": [2, 2], "z": [2, 3]}
    by_name = ca.do(hyp, base, {"left": [0, 1]})
    by_symbol = ca.do(hyp, base, {hyp.left: [0, 1]})
    assert_same(by_symbol, by_name)
    assert by_name["out"].tolist() == [0, 0]
