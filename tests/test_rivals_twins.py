"""Every hand-written wrong twin of every organism is a generated rival (z3: interventionally
equivalent to one) or is shown not to be a rival; generation under its work budget is deterministic,
and a run cut short (work budget, wall-clock safety stop) says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import causalabs as ca
from causalabs.loading import load_hypothesis
from causalabs.organisms import find_organisms
from causalabs.rivals import generate, interventionally_equivalent, same_outputs, source
from causalabs.rivals.decisive import decisive, random_pairs_needed, simulate_random_pairs
from causalabs.scm.semantics import enumerate_inputs, run
from causalabs.scm.smt import equivalent

ROOT = Path(__file__).resolve().parents[1]
HYP = ROOT / "hypotheses"

#: (claim, twin) -> (hypothesis file, the kinds generated, limit): each twin is generated with these settings
#: (the kinds that build it, and a limit just past it, to keep the suite short; with every kind and the default
#: work budget, benchmarks/bench_rivals.py finds each of them too: docs/rivals.md).
RIVALS = {
    ("HierarchicalEquality", "SwappedEquality"): ("hierarchical_equality", ("swap",), 3),
    ("HierarchicalEqualityPool", "SwappedEqualityPool"): ("heq_pool", ("swap",), 3),
    ("BooleanCircuit", "SwappedGates"): ("boolean_circuit", ("swap",), 3),
    ("AndOr", "SwappedAnds"): ("and_or", ("swap",), 3),
    ("ModularSum", "SwappedModularSum"): ("planted", ("swap",), 10),
    ("TwoDigitAddition", "TensCarryAddition"): ("addition", ("swap", "substitute", "drop", "merge", "widen", "group"), 40),
    ("Induction", "NextTokenCarried"): ("induction", ("merge",), 5),
    ("Equality", "OperandEquality"): ("planted", ("widen",), 5),
    ("TracrReverse", "ReverseFromMaxLength"): ("tracr_programs", ("group",), 6),
    ("TracrHist", "HistOthers"): ("tracr_programs", ("group",), 3),
    ("TracrSort", "SortAntiStable"): ("tracr_programs", ("group",), 12),
    ("TracrFracPrevs", "FracPrevsExclusive"): ("tracr_programs", ("group",), None),
}
#: (claim, twin) -> (hypothesis file, why it is no rival).
NOT_RIVALS = {
    ("HierarchicalEquality", "CrossedEquality"): ("hierarchical_equality", "outputs"),
    ("HierarchicalEquality", "LeftOnlySwapped"): ("hierarchical_equality", "variables"),
    ("HierarchicalEqualityPool", "CrossedEqualityPool"): ("heq_pool", "outputs"),
    ("Induction", "PositionalShortcut"): ("induction", "outputs"),
}


def _load(file: str, name: str) -> type:
    return load_hypothesis(f"{HYP / file}.py:{name}")


def test_every_twin_of_every_organism_is_classified_here():
    catalogue = find_organisms(ROOT / "models")
    pairs = {(ca.model_of(o.hypothesis()).name, t.__name__) for o in catalogue.organisms for t in o.wrong_hypotheses()}
    assert len(catalogue.organisms) >= 16
    assert pairs == set(RIVALS) | set(NOT_RIVALS)  # a new twin must be added to one of the two tables


@pytest.mark.parametrize("claim_name, twin_name", sorted(RIVALS))
def test_twin_is_among_the_generated_rivals(claim_name, twin_name):
    file, kinds, limit = RIVALS[(claim_name, twin_name)]
    claim, twin = _load(file, claim_name), _load(file, twin_name)
    assert same_outputs(claim, twin) is True  # enumeration, or z3 above 200,000 inputs
    found = generate(claim, kinds=kinds, limit=limit, budget_s=None)
    matches = [r for r in found.rivals if interventionally_equivalent(r.hypothesis, twin) is True]
    assert matches, f"{twin_name} not among the {len(found.rivals)} rivals generated"
    assert interventionally_equivalent(claim, twin) is False  # a real rival: it differs under intervention


@pytest.mark.parametrize("claim_name, twin_name", sorted(NOT_RIVALS))
def test_twin_that_is_no_rival_is_shown_to_be_none(claim_name, twin_name):
    file, why = NOT_RIVALS[(claim_name, twin_name)]
    claim, twin = ca.model_of(_load(file, claim_name)), ca.model_of(_load(file, twin_name))
    if why == "variables":
        assert set(claim.variables) != set(twin.variables)  # a rival has the claim's variables
        return
    assert same_outputs(claim, twin) is False
    if claim.input_space_size <= 200_000:
        inputs = enumerate_inputs(claim)
        differ = run(claim, inputs)[claim.output] != run(twin, inputs)[twin.output]
        assert differ.any()
        return
    answer = equivalent(claim, twin)  # z3 witness, replayed with numpy
    assert answer.status == "refuted"
    row = {k: [v] for k, v in answer.witness["input"].items()}
    assert run(claim, row)[claim.output][0] != run(twin, row)[twin.output][0]


def _signature(found):
    return [(r.kind, r.how) for r in found.rivals], source([r.hypothesis for r in found.rivals], "Rivals")


@pytest.mark.parametrize("file, name, work", [("addition", "TwoDigitAddition", 4_000), ("tracr_programs", "TracrSort", 3_000)])
def test_generation_under_a_work_budget_is_deterministic(file, name, work):
    claim = _load(file, name)
    first = generate(claim, work=work, budget_s=None)
    second = generate(claim, work=work, budget_s=None)
    assert first.stopped_by == "work" and not first.complete and "work budget" in first.note
    assert first.steps <= work and first.steps == second.steps
    assert first.rivals and _signature(first) == _signature(second)  # same rivals, same order, same source


def test_a_hypothesis_too_large_for_the_budget_says_so_instead_of_hanging():
    sort = _load("tracr_programs", "TracrSort")
    found = generate(sort, work=500, budget_s=None)  # a few candidates of a 16-variable hypothesis
    assert found.stopped_by == "work" and not found.complete and found.steps <= 500
    stopped = generate(sort, budget_s=0.0)
    assert stopped.stopped_by == "wall clock" and not stopped.complete
    assert "safety stop" in stopped.note and "depends on the machine" in stopped.note


def test_merge_makes_the_other_children_read_through_the_merged_variable():
    class Chain(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=range(3))
        u = ca.var(a + b)
        v = ca.var(u + 1)
        w = ca.var(2 * u)
        out = ca.output(v + w)

    found = generate(Chain, kinds=("merge",), budget_s=None)
    merged = [r for r in found.rivals if r.how.startswith("u merged into v")]
    assert len(merged) == 1
    m = ca.model_of(merged[0].hypothesis)
    assert m.variables["w"].parents == ("v",)
    assert sp.simplify(m.variables["w"].mechanism - 2 * (sp.Symbol("v") - 1)) == 0
    assert same_outputs(Chain, merged[0].hypothesis) is True
    assert interventionally_equivalent(Chain, merged[0].hypothesis) is False


def test_random_pairs_by_simulation_lie_between_the_rarest_rival_and_the_union_bound():
    claim = _load("hierarchical_equality", "HierarchicalEquality")
    rivals = [r.hypothesis for r in generate(claim, limit=20, budget_s=None).rivals]
    d = decisive(claim, rivals)
    bounds = random_pairs_needed([d.random_rate[n] for n in d.separated], 0.95)
    sim = simulate_random_pairs(claim, rivals, runs=4_000, seed=1)
    assert sim.rivals == len(d.separated) and 1 <= sim.classes <= sim.rivals
    # the 95% quantile of 4,000 runs; at least the rarest rival's own need, at most the union bound (5% slack)
    assert 0.95 * bounds["lower"] <= sim.needed <= 1.05 * bounds["union"]
    assert len(d.experiments) <= sim.classes  # greedy cover: never more experiments than classes
    assert np.isfinite(sim.needed)


def test_rivals_keep_the_claims_input_requirements_and_write_them(tmp_path):
    from causalabs.loading import hypothesis_classes, load_module

    ioi = _load("ioi", "IOI")  # requires a != b: 4,032 of 4,608 inputs
    found = generate(ioi, limit=4, budget_s=None)
    assert len(found.rivals) == 4
    path = tmp_path / "ioi_rivals.py"
    path.write_text(source([r.hypothesis for r in found.rivals], "Rivals"))
    loaded = {c.__name__: c for c in hypothesis_classes(load_module(str(path)))}
    for r in found.rivals:
        m = ca.model_of(r.hypothesis)
        assert m.requires == ca.model_of(ioi).requires and m.input_space_size == 4_032
        assert same_outputs(ioi, r.hypothesis) is True
        assert ca.model_of(loaded[r.name]).requires == m.requires
        assert interventionally_equivalent(loaded[r.name], r.hypothesis) is True
