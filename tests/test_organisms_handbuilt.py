"""The hand-built organisms and their rotated twins: exact, known mechanisms.

Claims checked on every organism, over the whole finite domain:

* task accuracy is exactly 1.0;
* IIA of the correct hypothesis at the known alignment is exactly 1.0 for
  each aligned variable, on every (base, source) pair;
* each wrong hypothesis scores clearly lower wherever its mechanism differs;
* a rotated twin scores 1.0 through its known rotation and fails (changed
  pairs <= 0.6) at the unit alignment that is right for the unrotated twin.

Exact IIA over 10^8 pairs comes from :func:`_organisms_exact.exact_iia`, itself checked in
test_organisms_exact_iia.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from _organisms_exact import (
    GAP,
    HANDBUILT,
    MODELS,
    NEURON_CHANGED_MAX,
    ORGANISMS,
    ROTATED,
    WRONG,
    correct_cases,
    exact_iia,
    family,
    measured,
    neuron_cases,
    organism,
    wrong_cases,
)

from causalabs import enumerate_inputs, interchange, model_of, run
from causalabs.errors import NetworkFileError, OrganismError
from causalabs.loading import load_hypothesis, load_module, sha256_file
from causalabs.network import Alignment, load_network, predict, site
from causalabs.organisms import OrganismInfo, find_organisms, not_an_organism, resolve_ref, task_accuracy


# --- loading and metadata -------------------------------------------------------


@pytest.mark.parametrize("name", ORGANISMS)
def test_organism_loads_with_its_metadata(name: str) -> None:
    # Load time is measured in benchmarks/bench_organisms.py, not asserted here.
    path = MODELS / f"{name}.py"
    net = load_network(path)
    info = OrganismInfo.from_mapping(net.info, where=name)
    o = organism(name)
    assert net.name == name
    assert info.accuracy == 1.0
    assert info.weights is not None and (path.parent / info.weights).is_file()
    assert info.alignment == {v: s.name for v, s in o.alignment().sites.items()}
    assert o.hypothesis().__name__ in info.hypothesis
    assert len(o.wrong_hypotheses()) == len(info.wrong) >= 1
    assert o.parameters == sum(p.numel() for p in net.module.parameters()) > 0


@pytest.mark.parametrize("name", ORGANISMS)
def test_loading_leaves_the_global_rng_alone(name: str) -> None:
    state = torch.get_rng_state()
    load_network(MODELS / f"{name}.py")
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("name", ORGANISMS)
def test_weights_file_is_regenerated_bit_identically(name: str, tmp_path: Path) -> None:
    source = load_module(MODELS / f"{name}.py")
    org = load_module(MODELS / "_organism.py")
    tensors, meta = source.build()
    out = org.save_weights(tensors, tmp_path / "w.safetensors", meta)
    assert sha256_file(out) == sha256_file(MODELS / "weights" / f"{name}.safetensors")


@pytest.mark.parametrize("name", ORGANISMS)
def test_task_accuracy_is_one_on_the_whole_domain(name: str) -> None:
    o = organism(name)
    est = task_accuracy(o.network, o.hypothesis())
    assert est.exact and est.n == model_of(o.hypothesis()).input_space_size
    assert est.value == 1.0


@pytest.mark.parametrize("name", list(ROTATED))
def test_rotated_twin_computes_the_same_function(name: str) -> None:
    plain, rotated = organism(name), organism(ROTATED[name])
    inputs = enumerate_inputs(plain.hypothesis())
    a, b = predict(plain.network, inputs), predict(rotated.network, inputs)
    assert torch.equal(a.values, b.values)
    assert a.scores is not None and b.scores is not None
    scale = a.scores.abs().max().item()  # float32 rounding grows with the logits' size
    torch.testing.assert_close(b.scores, a.scores, rtol=0, atol=1e-6 * scale + 1e-5)
    for scores in (a.scores, b.scores):  # the designed margin (>= 2 logits) survives the rotation
        top2 = scores.topk(2, dim=-1).values
        assert (top2[:, 0] - top2[:, 1]).min().item() > 1.9
    # ... while no unit of the rotated layer is the variable any more
    rot = rotated.source.rotation()
    assert rot.abs().max().item() < 0.95
    assert rotated.info.rotation_seed == rotated.source.SEED


def test_a_missing_weights_file_is_named(tmp_path: Path) -> None:
    org = load_module(MODELS / "_organism.py")
    with pytest.raises(NetworkFileError, match="nothing.safetensors"):
        org.load_weights(tmp_path / "nothing.safetensors")


def test_bad_metadata_names_the_field() -> None:
    good = dict(organism("heq_handbuilt").network.info)
    with pytest.raises(OrganismError, match="accuracy"):
        OrganismInfo.from_mapping({**good, "accuracy": 1.5}, where="x.py")
    with pytest.raises(OrganismError, match="hypothesis"):
        OrganismInfo.from_mapping({**good, "hypothesis": ""}, where="x.py")
    with pytest.raises(OrganismError, match="not of the form"):
        OrganismInfo.from_mapping({**good, "wrong": ["hypotheses/x.py"]}, where="x.py")


def test_hypothesis_refs_resolve_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ref = resolve_ref("hypotheses/hierarchical_equality.py:HierarchicalEquality", MODELS / "heq_handbuilt.py")
    assert Path(ref.rpartition(":")[0]).is_file()


@pytest.mark.parametrize("name", list(ROTATED.values()))
def test_a_rotated_twin_binds_load_by_assignment_and_the_catalogue_reads_it(name: str) -> None:
    path = MODELS / f"{name}.py"
    tree = ast.parse(path.read_text())
    assert not [n for n in tree.body if isinstance(n, ast.FunctionDef)], "the twin's functions come from RotatedTwin"
    assert not_an_organism(path) is None
    o = organism(name)
    assert o.network.name == name and o.info.twin_of == {v: k for k, v in ROTATED.items()}[name] + ".py"
    assert o.source.load.__self__ is o.source.alignment.__self__  # one RotatedTwin defines both


def test_the_catalogue_reads_a_plain_assignment_to_load_only(tmp_path: Path) -> None:
    (tmp_path / "assigned.py").write_text("TASK = 't'\nload = dict\n")
    (tmp_path / "unpacked.py").write_text("TASK = 't'\nload, other = dict, dict\n")
    assert not_an_organism(tmp_path / "assigned.py") is None
    assert not_an_organism(tmp_path / "unpacked.py") == "no load() function"
    catalogue = find_organisms(tmp_path)
    assert catalogue.organisms == ()
    reasons = dict((p.name, why) for p, why in catalogue.skipped)
    # the assigned load() was imported and called (it returns a dict, not a Network); the unpacked one never was
    assert "load() returned dict" in reasons["assigned.py"] and reasons["unpacked.py"] == "no load() function"


# --- IIA: correct, wrong, neuron alignment on the rotated twin -------------------


@pytest.mark.parametrize(("name", "variable"), correct_cases())
def test_correct_hypothesis_has_iia_one_at_the_known_alignment(name: str, variable: str) -> None:
    m = measured(name, organism(name).hypothesis().__name__, variable)
    assert m.iia.overall.exact
    assert m.iia.overall.value == 1.0 and m.iia.changed.value == 1.0
    assert m.iia.changed.n > 0


@pytest.mark.parametrize("name", ["heq_handbuilt", "heq_rotated"])
def test_coarser_left_only_is_also_right(name: str) -> None:
    assert measured(name, "LeftOnly", "left").iia.overall.value == 1.0


@pytest.mark.parametrize(("name", "cls", "variable"), wrong_cases())
def test_wrong_hypothesis_is_clearly_lower(name: str, cls: str, variable: str) -> None:
    m = measured(name, cls, variable)
    assert m.iia.overall.value <= GAP, f"{cls}.{variable} on {name}: {m.iia.overall}"
    assert m.iia.changed.value <= GAP


def test_wrong_table_covers_exactly_the_variables_whose_mechanism_differs() -> None:
    for name in HANDBUILT:
        o = organism(name)
        correct = model_of(o.hypothesis())
        inputs = enumerate_inputs(correct)
        truth = run(correct, inputs)
        listed = {h.__name__ for h in o.wrong_hypotheses()}
        assert listed == {cls for cls, _ in WRONG[family(name)]}
        differs = set()
        for h in o.wrong_hypotheses():
            values = run(h, inputs)
            differs |= {(h.__name__, v) for v in o.alignment().sites if v in values and np.any(values[v] != truth[v])}
        assert differs == set(WRONG[family(name)])


@pytest.mark.parametrize(("name", "variable"), neuron_cases())
def test_unit_alignment_of_the_unrotated_twin_fails_on_the_rotated_one(name: str, variable: str) -> None:
    o = organism(name)
    neuron = o.neuron_alignment()
    assert neuron is not None and o.info.twin_of is not None
    twin = organism(o.info.twin_of.removesuffix(".py"))
    assert {v: s.name for v, s in neuron.sites.items()} == {v: s.name for v, s in twin.alignment().sites.items()}
    m = measured(name, o.hypothesis().__name__, variable, "neuron")
    assert m.iia.changed.value <= NEURON_CHANGED_MAX, f"{name}.{variable}: {m.iia.changed}"
    assert m.iia.overall.value <= GAP


def test_addition_carry_intervention_moves_the_sum_by_ten() -> None:
    o = organism("addition_handbuilt")
    base = {"a1": np.array([0, 9]), "a0": np.array([3, 9]), "b1": np.array([0, 9]), "b0": np.array([4, 0])}
    source = {"a1": np.array([0, 0]), "a0": np.array([5, 5]), "b1": np.array([0, 0]), "b0": np.array([5, 5])}
    from causalabs.engine import interchange_network

    got = interchange_network(o.network, o.alignment(), base, {"carry": source}).values.tolist()
    assert got == [17, 199] == interchange(o.hypothesis(), base, {"carry": source})["total"].tolist()


@pytest.mark.parametrize("name", ["addition_handbuilt", "addition_rotated"])
def test_ones_sum_is_right_on_carry_and_digit_together(name: str) -> None:
    o = organism(name)
    h = load_hypothesis(resolve_ref("hypotheses/addition.py:OnesSumAddition", MODELS))
    carry_site = o.alignment()["carry"]
    if carry_site.subspace.featurizer is not None:
        joint = site("2", featurizer=carry_site.subspace.featurizer, dims=(0, 2))
    else:
        joint = site("2", units=[0, 1])
    assert exact_iia(o.network, h, Alignment({"ones": joint}), "ones").iia.overall.value == 1.0
    assert exact_iia(o.network, h, Alignment({"ones": carry_site}), "ones").iia.changed.value <= GAP
