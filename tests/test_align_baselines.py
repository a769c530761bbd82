"""Alignment-search baselines: neuron blocks and greedy units, PCA, full site, random-weights control."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import causalabs as ca
from causalabs.align.baselines import (
    evaluate_alignment,
    full_site,
    neuron_contiguous,
    neuron_greedy,
    pca_alignment,
    principal_components,
    random_init_control,
    reinitialised,
)
from causalabs.errors import AlignmentError, DatasetError
from causalabs.loading import load_attr
from causalabs.metrics import iia
from causalabs.network import Rotation, Site, load_network, predict

ROOT = Path(__file__).resolve().parent.parent
HEQ = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
LOC = Site("2")
DIMS = {"left": 1, "right": 1}


@pytest.fixture(scope="module")
def net():
    return load_network(ROOT / "models/heq_rotated.py")


@pytest.fixture(scope="module")
def train():
    return [ca.random_pairs(HEQ, v, 256, seed=i) for i, v in enumerate(["left", "right", ["left", "right"]])]


@pytest.fixture(scope="module")
def held():
    return [ca.random_pairs(HEQ, [v], 2048, seed=10 + i) for i, v in enumerate(("left", "right"))]


def test_neuron_baselines_fail_on_the_rotated_organism(net, train, held):
    for fit in (neuron_contiguous, neuron_greedy):
        res = fit(net, LOC, DIMS, train)
        units = [u for us in res.assignment.values() for u in us]
        assert len(units) == len(set(units)) == 2  # one unit each, disjoint
        assert all(res.alignment[v].subspace.units == res.assignment[v] for v in DIMS)
        report = iia(evaluate_alignment(net, res.alignment, held))
        assert report.overall.changed.value <= 0.6, (fit.__name__, str(report))
        assert 0.0 <= res.train_iia <= 1.0


def test_contiguous_blocks_are_disjoint_runs(net, train):
    res = neuron_contiguous(net, LOC, {"left": 3, "right": 3}, train)
    left, right = res.assignment["left"], res.assignment["right"]
    for block in (left, right):
        assert list(block) == list(range(block[0], block[0] + 3))
    assert not set(left) & set(right)


def test_greedy_is_deterministic(net, train):
    a = neuron_greedy(net, LOC, {"left": 2, "right": 2}, train)
    b = neuron_greedy(net, LOC, {"left": 2, "right": 2}, train)
    assert a.assignment == b.assignment and a.train_iia == b.train_iia
    assert sorted(a.assignment) == ["left", "right"] and all(len(u) == 2 for u in a.assignment.values())


def test_pca_alignment_is_the_top_components(net, train, held):
    res = pca_alignment(net, LOC, DIMS, train)
    basis = res.info["basis"].double()
    assert basis.shape == (8, 2)
    assert torch.allclose(basis.T @ basis, torch.eye(2, dtype=torch.float64), atol=1e-5)
    rot = res.alignment["left"].subspace.featurizer
    assert isinstance(rot, Rotation) and res.alignment["right"].subspace.featurizer is rot
    assert res.alignment["left"].subspace.dims == (0, 1) and res.alignment["right"].subspace.dims == (1, 2)
    # Variance along the components is non-increasing, and they beat any unit axis.
    from causalabs.align.baselines import distinct_activations

    acts = distinct_activations(net, LOC, train).double()
    acts = acts - acts.mean(0)
    var = (acts @ basis).var(0)
    assert var[0] >= var[1] - 1e-9
    assert var[0] >= acts.var(0).max() - 1e-9
    # Only two directions of layer "2" carry signal, so PCA finds their span here.
    assert iia(evaluate_alignment(net, res.alignment, held)).overall.overall.value == 1.0
    greedy = pca_alignment(net, LOC, DIMS, train, assign="greedy")
    assert sorted(greedy.assignment["left"] + greedy.assignment["right"]) == [0, 1]


def test_principal_components_sign_and_order():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1], dtype=torch.float64)
    u = principal_components(x, 2)
    assert torch.allclose(u[:, 0].abs(), torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), atol=0.05)
    assert (u[u.abs().argmax(0), torch.arange(2)] > 0).all()


def test_full_site_patches_every_unit(net, held):
    alignments = full_site(net, LOC, ["left", "right"])
    assert set(alignments) == {"left", "right"}
    ds = held[0]
    (result,) = evaluate_alignment(net, alignments["left"], [ds])
    # All of layer "2" from the source: the network answers as on the source input.
    on_source = predict(net, {k: np.asarray(v) for k, v in ds.sources["left"].items()}).values.numpy()
    assert np.array_equal(result.predicted, on_source)
    assert iia([result]).overall.changed.value < 1.0
    with pytest.raises(AlignmentError, match="covers none"):
        evaluate_alignment(net, alignments["left"], [held[1]])


def test_reinitialised_copy_is_seeded_and_leaves_the_original(net):
    before = {k: v.clone() for k, v in net.module.state_dict().items()}
    state = torch.random.get_rng_state()
    a, b, c = reinitialised(net, 0), reinitialised(net, 0), reinitialised(net, 1)
    assert torch.equal(torch.random.get_rng_state(), state)
    for k, v in net.module.state_dict().items():
        assert torch.equal(v, before[k])
    sa, sb, sc = a.module.state_dict(), b.module.state_dict(), c.module.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    assert any(not torch.equal(sa[k], before[k]) for k in sa)
    assert a.info == {"reinitialised_from": net.name, "reinitialised_seed": 0} and "random init" in a.name


def test_random_control_runs_das_on_the_random_copy(net, train, held):
    rnet, res = random_init_control(net, LOC, DIMS, train, init_seed=0, epochs=1, seed=0)
    assert rnet.module is not net.module
    assert res.alignment.info["method"] == "das"
    report = iia(evaluate_alignment(rnet, res.alignment, held))
    assert report.overall.changed.value <= 0.6


@pytest.mark.parametrize("fit", [neuron_contiguous, neuron_greedy, pca_alignment])
def test_bad_requests_raise_typed_errors(fit, net, train):
    with pytest.raises(AlignmentError, match=r"'left' asks for 9 dimensions but site 2.output has width 8"):
        fit(net, LOC, {"left": 9}, train[:1])
    with pytest.raises(AlignmentError, match="width 8; the variables' subspaces must be disjoint"):
        fit(net, LOC, {"left": 5, "right": 4}, train)
    with pytest.raises(AlignmentError, match="'left' needs a positive"):
        fit(net, LOC, {"left": 0, "right": 1}, train)
    with pytest.raises(AlignmentError, match="intervenes on 'right'"):
        fit(net, LOC, {"left": 1}, train)
    same = train[0].subset(np.flatnonzero(~train[0].changed))
    with pytest.raises(DatasetError, match="no training pair changes the output"):
        fit(net, LOC, {"left": 1}, [same])
    with pytest.raises(DatasetError, match="no training datasets"):
        fit(net, LOC, DIMS, [])
    assert not net.module._forward_hooks and not net.module._forward_pre_hooks
    assert all(not m._forward_hooks for m in net.module.modules())


def test_greedy_needs_a_dataset_on_the_first_variable_alone(net, train):
    with pytest.raises(DatasetError, match="intervening on 'left' alone"):
        neuron_greedy(net, LOC, DIMS, train[1:])


def test_other_bad_inputs(net, train):
    with pytest.raises(AlignmentError, match="assign must be"):
        pca_alignment(net, LOC, DIMS, train, assign="best")  # type: ignore[arg-type]
    with pytest.raises(AlignmentError, match="no variables"):
        full_site(net, LOC, [])


def test_too_many_placements_is_refused(net, train, monkeypatch):
    import causalabs.align.baselines as bl

    monkeypatch.setattr(bl, "MAX_PLACEMENTS", 10)
    with pytest.raises(AlignmentError, match="more than 10 placements"):
        bl.neuron_contiguous(net, LOC, DIMS, train)


def test_full_site_names_an_unknown_module(net):
    from causalabs.errors import UnknownModuleError

    with pytest.raises(UnknownModuleError, match="'9'"):
        full_site(net, Site("9"), ["left"])


def test_all_alignments_scores_every_method(net, train, held):
    from causalabs.align.baselines import all_alignments

    found = all_alignments(net, LOC, DIMS, train, das_options={"epochs": 1, "seed": 0})
    assert list(found) == [
        "das",
        "neuron_closest",
        "neuron_contiguous",
        "neuron_greedy",
        "pca_order",
        "pca_greedy",
        "full_site:left",
        "full_site:right",
        "random_init_das",
    ]
    assert found["random_init_das"][0] is not net and found["das"][0] is net
    scores = {k: iia(evaluate_alignment(n, al, held)).overall.changed.value for k, (n, al) in found.items()}
    assert scores["neuron_greedy"] <= 0.6 and scores["random_init_das"] <= 0.6
    assert scores["pca_order"] == 1.0
