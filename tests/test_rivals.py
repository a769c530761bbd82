"""Rival hypotheses: generated rivals keep the outputs and change the mechanism; the hand-written
twins are among them (z3); rival files load back; generation says when its budget runs out."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import causalabs as ca
from causalabs.errors import CausalabsError
from causalabs.loading import hypothesis_classes, load_module
from causalabs.rivals import RivalError, generate, interventionally_equivalent, same_outputs, source
from causalabs.scm.semantics import enumerate_inputs, run


@pytest.fixture(scope="module")
def hyps(hypotheses_dir):
    return {n: load_module(str(hypotheses_dir / f"{n}.py")) for n in ("hierarchical_equality", "boolean_circuit", "addition")}


@pytest.fixture(scope="module")
def heq_rivals(hyps):
    return generate(hyps["hierarchical_equality"].HierarchicalEquality, limit=40)


def _outputs(h):
    m = ca.model_of(h)
    return run(m, enumerate_inputs(m))[m.output]


def test_every_rival_has_the_claims_outputs_and_another_mechanism(hyps, heq_rivals):
    claim = hyps["hierarchical_equality"].HierarchicalEquality
    assert len(heq_rivals.rivals) == 40
    for r in heq_rivals.rivals:
        np.testing.assert_array_equal(_outputs(r.hypothesis), _outputs(claim))  # all 256 inputs, run by numpy
        assert interventionally_equivalent(claim, r.hypothesis) is False
    for a, b in zip(heq_rivals.rivals, heq_rivals.rivals[1:]):  # deduplicated: no two the same claim
        assert interventionally_equivalent(a.hypothesis, b.hypothesis) is False


@pytest.mark.parametrize(
    "module, claim, twin",
    [
        ("hierarchical_equality", "HierarchicalEquality", "SwappedEquality"),
        ("hierarchical_equality", "LeftOnly", "LeftOnlySwapped"),
        ("boolean_circuit", "BooleanCircuit", "SwappedGates"),
        ("addition", "TwoDigitAddition", "TensCarryAddition"),
    ],
)
def test_hand_written_twin_is_z3_equivalent_to_a_generated_rival(hyps, module, claim, twin):
    mod = hyps[module]
    found = generate(getattr(mod, claim), limit=40)  # each twin comes early in the generation order
    matches = [r for r in found.rivals if interventionally_equivalent(r.hypothesis, getattr(mod, twin))]
    assert matches, f"{twin} not among {len(found.rivals)} rivals"


def test_crossed_equality_is_no_rival_it_changes_outputs(hyps):
    heq = hyps["hierarchical_equality"]
    assert same_outputs(heq.HierarchicalEquality, heq.CrossedEquality) is False
    assert same_outputs(heq.HierarchicalEquality, heq.SwappedEquality) is True


def test_interventional_equivalence_sees_a_renamed_copy_as_equal(hyps):
    heq = hyps["hierarchical_equality"]
    assert interventionally_equivalent(heq.HierarchicalEquality, heq.HierarchicalEquality) is True

    class Same(ca.Hypothesis):
        w, x, y, z = ca.inputs("w x y z", domain=range(4))
        left = ca.var(sp.Eq(x, w))
        right = ca.var(sp.Eq(z, y))
        out = ca.output(sp.Eq(right, left))

    assert interventionally_equivalent(heq.HierarchicalEquality, Same) is True


def test_rival_file_loads_back_to_equivalent_classes(tmp_path, heq_rivals):
    path = tmp_path / "rivals.py"
    path.write_text(source([r.hypothesis for r in heq_rivals.rivals[:12]], "Rivals"))
    loaded = {c.__name__: c for c in hypothesis_classes(load_module(str(path)))}
    assert len(loaded) == 12
    for r in heq_rivals.rivals[:12]:
        assert interventionally_equivalent(loaded[r.name], r.hypothesis) is True


def test_budget_runs_out_and_says_so(hyps):
    found = generate(hyps["addition"].TwoDigitAddition, budget_s=0.0)
    assert not found.complete and "budget" in found.note and found.rivals == ()


def test_callable_mechanism_is_refused_with_a_typed_error():
    class Opaque(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=(0, 1))
        g = ca.var(lambda a, b: a & b, parents=("a", "b"), domain=(0, 1))
        out = ca.output(sp.Eq(g, 1))

    with pytest.raises(RivalError, match="Opaque.g"):
        generate(Opaque)
    assert issubclass(RivalError, ValueError) and issubclass(RivalError, CausalabsError)
