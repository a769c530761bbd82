"""Errors in use are typed and name what is at fault: a value outside a domain, an unknown name, batches of
unequal length; and callable mechanisms (the escape hatch) evaluate alike vectorized and row by row.
"""

from __future__ import annotations

import numpy as np
import pytest
from _scm_checks import BASE, Reference, check

import causalabs as ca
from causalabs import errors as E


# --- run-time errors ------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs",
    [{"a": [0, 3], "b": [0, 0]}, {"a": 0, "b": -1}, [{"a": 0, "b": 7}], np.array([[0, 0], [9, 0]])],
    ids=["columns", "scalars", "rows", "matrix"],
)
def test_run_rejects_an_input_outside_its_domain(inputs):
    with pytest.raises(E.ValueOutOfDomainError) as info:
        ca.run(Reference, inputs)
    check(info, "Reference.")


def test_run_rejects_non_integer_inputs():
    with pytest.raises(E.ValueOutOfDomainError) as info:
        ca.run(Reference, {"a": [0.5], "b": [0]})
    check(info, "Reference.a", "integers")


def test_do_rejects_a_value_outside_the_variables_domain():
    with pytest.raises(E.ValueOutOfDomainError) as info:
        ca.do(Reference, BASE, {"s": 5})
    check(info, "Reference.s", "5")
    with pytest.raises(E.ValueOutOfDomainError) as info:
        ca.do(Reference, BASE, {Reference.out: [0, 2]})
    check(info, "Reference.out", "2")


@pytest.mark.parametrize("call", ["do", "interchange"])
def test_an_unknown_variable_is_named(call):
    with pytest.raises(E.UnknownVariableError) as info:
        if call == "do":
            ca.do(Reference, BASE, {"nope": 1})
        else:
            ca.interchange(Reference, BASE, {"nope": BASE})
    check(info, "Reference", "'nope'")


def test_an_unknown_input_name_is_named():
    with pytest.raises(E.UnknownVariableError) as info:
        ca.run(Reference, {"a": 0, "b": 0, "c": 1})
    check(info, "Reference", "c")


def test_batches_of_different_lengths_are_rejected():
    with pytest.raises(E.BatchShapeError, match="Reference"):
        ca.run(Reference, {"a": [0, 1], "b": [0, 1, 2]})
    with pytest.raises(E.BatchShapeError, match="Reference.s"):
        ca.interchange(Reference, BASE, {"s": {"a": [0, 1, 2], "b": 0}})
    with pytest.raises(E.BatchShapeError, match="Reference.s"):
        ca.do(Reference, BASE, {"s": [0, 1, 2]})
    with pytest.raises(E.BatchShapeError, match="lack b"):
        ca.run(Reference, {"a": 0})


def test_model_of_rejects_a_non_hypothesis():
    with pytest.raises(TypeError, match="dict"):
        ca.model_of(dict)


# --- the escape hatch -----------------------------------------------------------


def test_callable_mechanisms_vectorized_and_row_by_row_evaluate_correctly():
    seen: dict[str, list[type]] = {"vec": [], "row": []}

    def vec(a, b):
        seen["vec"].append(type(a))
        return a + b

    def row(a, b):
        seen["row"].append(type(a))
        return a + b if a >= b else a * b

    class Hatch(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=range(4))
        s = ca.var(vec, parents=(a, b), domain=range(7))
        t = ca.var(row, parents=("a", "b"), domain=range(10), vectorized=False)
        u = ca.var(lambda a, b: a + b, parents=(a, b), domain=range(7))
        r = ca.var(lambda a, b: a + b, parents=(a, b), domain=range(7), vectorized=False)
        out = ca.output(s + t + u - r)

    model = ca.model_of(Hatch)
    assert model.variables["s"].parents == ("a", "b")
    assert not model.variables["s"].symbolic
    assert model.variables["s"].domain == tuple(range(7))

    v = ca.run(Hatch, ca.enumerate_inputs(Hatch))
    a, b = v["a"], v["b"]
    np.testing.assert_array_equal(v["s"], a + b)
    np.testing.assert_array_equal(v["u"], a + b)
    np.testing.assert_array_equal(v["r"], a + b)
    np.testing.assert_array_equal(v["t"], np.where(a >= b, a + b, a * b))
    np.testing.assert_array_equal(v["out"], a + b + v["t"])
    assert set(seen["vec"]) == {np.ndarray}  # whole columns
    assert np.ndarray not in set(seen["row"])  # one value at a time

    done = ca.do(Hatch, {"a": [1, 3], "b": [2, 0]}, {"s": 6})
    assert done["out"].tolist() == [6 + 2, 6 + 3]  # s set to 6; t, u and r unchanged


def test_a_class_defined_in_exec_has_no_source_file_but_works():
    namespace: dict = {"ca": ca}
    exec(
        "class Dynamic(ca.Hypothesis):\n"
        "    a = ca.input('a', domain=range(2))\n"
        "    out = ca.output(1 - a)\n",
        namespace,
    )
    model = ca.model_of(namespace["Dynamic"])
    assert model.source_file is None
    assert ca.run(model, {"a": [0, 1]})["out"].tolist() == [1, 0]
