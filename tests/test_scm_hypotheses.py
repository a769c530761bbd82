"""The example hypotheses: each wrong twin agrees with its correct class on every
output (checked by brute force) and only interventions tell them apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import causalabs as ca
from causalabs.loading import load_module

HYPOTHESES = Path(__file__).resolve().parents[1] / "hypotheses"
HE = load_module(HYPOTHESES / "hierarchical_equality.py")
ADD = load_module(HYPOTHESES / "addition.py")
BOOL = load_module(HYPOTHESES / "boolean_circuit.py")

#: (correct, wrong twin, the variables whose interventions separate them)
TWINS = [
    (HE.HierarchicalEquality, HE.SwappedEquality, ("left", "right")),
    (HE.LeftOnly, HE.LeftOnlySwapped, ("left",)),
    (ADD.TwoDigitAddition, ADD.TensCarryAddition, ("carry",)),
    (BOOL.BooleanCircuit, BOOL.SwappedGates, ("g1", "g2")),
]
IDS = [f"{c.__name__}-vs-{w.__name__}" for c, w, _ in TWINS]


def all_pairs(hyp) -> tuple[dict, dict]:
    """Every (base, source) pair of inputs, as two aligned batches."""
    inputs = ca.enumerate_inputs(hyp)
    n = len(next(iter(inputs.values())))
    i, j = np.divmod(np.arange(n * n), n)
    return {k: v[i] for k, v in inputs.items()}, {k: v[j] for k, v in inputs.items()}


@pytest.mark.parametrize(("correct", "twin", "claimed"), TWINS, ids=IDS)
def test_the_twin_agrees_on_every_output(correct, twin, claimed):
    inputs = ca.enumerate_inputs(correct)
    a, b = ca.run(correct, inputs), ca.run(twin, inputs)
    m1, m2 = ca.model_of(correct), ca.model_of(twin)
    assert m1.inputs == m2.inputs and m1.outputs == m2.outputs
    for out in m1.outputs:
        np.testing.assert_array_equal(a[out], b[out])


@pytest.mark.parametrize(("correct", "twin", "claimed"), TWINS, ids=IDS)
def test_the_twin_claims_a_different_intermediate(correct, twin, claimed):
    inputs = ca.enumerate_inputs(correct)
    a, b = ca.run(correct, inputs), ca.run(twin, inputs)
    for v in claimed:
        assert not np.array_equal(a[v], b[v]), v


@pytest.mark.parametrize(("correct", "twin", "claimed"), TWINS, ids=IDS)
def test_an_interchange_on_the_claimed_variable_tells_them_apart(correct, twin, claimed):
    base, source = all_pairs(correct) if correct is not ADD.TwoDigitAddition else _addition_pairs()
    for v in claimed:
        a = ca.interchange(correct, base, {v: source})
        b = ca.interchange(twin, base, {v: source})
        out = ca.model_of(correct).output
        assert not np.array_equal(a[out], b[out]), v


def _addition_pairs() -> tuple[dict, dict]:
    # 10,000 inputs make 10^8 pairs; a seeded sample of 5,000 is plenty to separate them.
    inputs = ca.enumerate_inputs(ADD.TwoDigitAddition)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, 10_000, size=(2, 5_000))
    return {k: v[i] for k, v in inputs.items()}, {k: v[j] for k, v in inputs.items()}


def test_the_addition_variants_all_compute_the_sum():
    inputs = ca.enumerate_inputs(ADD.TwoDigitAddition)
    want = 10 * (inputs["a1"] + inputs["b1"]) + inputs["a0"] + inputs["b0"]
    for hyp in (ADD.TwoDigitAddition, ADD.TensCarryAddition, ADD.OnesSumAddition):
        np.testing.assert_array_equal(ca.run(hyp, inputs)["total"], want, err_msg=hyp.__name__)


def test_crossed_equality_already_differs_on_outputs():
    inputs = ca.enumerate_inputs(HE.HierarchicalEquality)
    a = ca.run(HE.HierarchicalEquality, inputs)["out"]
    b = ca.run(HE.CrossedEquality, inputs)["out"]
    assert not np.array_equal(a, b)


def test_boolean_circuit_truth_table():
    v = ca.run(BOOL.BooleanCircuit, ca.enumerate_inputs(BOOL.BooleanCircuit))
    want = (v["a"] & v["b"]) ^ (v["c"] | v["d"])
    np.testing.assert_array_equal(v["out"], want)
    assert ca.model_of(BOOL.BooleanCircuit).input_space_size == 16


@pytest.mark.parametrize("module", [HE, ADD, BOOL], ids=lambda m: Path(m.__file__).name)
def test_each_file_says_which_class_is_correct_and_which_wrong(module):
    doc = module.__doc__
    assert "correct" in doc and "wrong" in doc.lower() and "intervention" in doc
    for name, obj in vars(module).items():
        if isinstance(obj, type) and issubclass(obj, ca.Hypothesis) and obj is not ca.Hypothesis:
            assert name in doc, f"{name} is not described in the module docstring"
            assert obj.__doc__, f"{name} has no docstring"
