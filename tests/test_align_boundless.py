"""Boundless DAS learns small intervals on a planted rotation, is deterministic, and refuses bad requests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import causalabs as ca
from causalabs.align.boundless import _hard_dims, fit_boundless
from causalabs.engine import evaluate_pairs
from causalabs.errors import AlignmentError, DatasetError
from causalabs.loading import load_attr, load_module
from causalabs.metrics import iia
from causalabs.network import Rotation, Site, load_network

ROOT = Path(__file__).resolve().parent.parent
HEQ = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
ROTATED = ROOT / "models/heq_rotated.py"
TRAINED = ROOT / "models/heq_trained.py"


def _fit(net, train, **kw):
    args = {"epochs": 3, "seed": 0, "penalty": 1.0, **kw}
    return fit_boundless(net, Site("2"), ["left", "right"], train, **args)


@pytest.fixture(scope="module")
def fitted():
    net = load_network(ROTATED)
    train = [ca.random_pairs(HEQ, [v], 768, seed=i) for i, v in enumerate(["left", "right"])]
    return net, train, _fit(net, train)


def test_boundless_recovers_the_planted_rotation_with_small_k(fitted):
    net, _, res = fitted
    results = [evaluate_pairs(net, res.alignment, ca.exhaustive_pairs(HEQ, [v])) for v in ("left", "right")]
    assert iia(results).overall.overall.value == 1.0
    both = evaluate_pairs(net, res.alignment, ca.random_pairs(HEQ, ["left", "right"], 4_000, seed=7))
    assert bool(np.all(both.correct))
    # planted: one coordinate each; the learned intervals are as small as that
    assert res.k == {"left": 1, "right": 1}
    assert res.collapsed == ()
    # the hard alignment is a fixed Rotation with the learned dims, disjoint and in order
    assert res.dims["left"][1] <= res.dims["right"][0]
    for v in ("left", "right"):
        sub = res.alignment[v].subspace
        assert isinstance(sub.featurizer, Rotation)
        assert sub.dims == res.dims[v]
        assert res.dims[v][1] - res.dims[v][0] == res.k[v]
    # soft intervals are consecutive by construction
    assert res.boundaries["left"][0] == 0.0
    assert res.boundaries["left"][1] == pytest.approx(res.boundaries["right"][0], abs=1e-5)
    # the temperature was annealed down to its end value
    assert res.temperatures == sorted(res.temperatures, reverse=True)
    assert res.temperatures[-1] == pytest.approx(0.05)
    assert res.losses[-1] < res.losses[0]
    assert torch.allclose(res.basis.T @ res.basis, torch.eye(8), atol=1e-4)
    assert res.alignment.info["method"] == "boundless_das"


def test_boundless_is_deterministic(fitted):
    net, train, res = fitted
    again = _fit(net, train)
    assert torch.equal(res.basis, again.basis)
    assert res.losses == again.losses
    assert res.boundaries == again.boundaries and res.k == again.k
    other = _fit(net, train, epochs=1, seed=1)
    assert not torch.equal(res.basis, other.basis)


def test_boundless_on_the_trained_mlp_has_high_heldout_iia():
    mod = load_module(TRAINED)
    net = load_network(TRAINED)
    res = fit_boundless(net, Site("1"), ["left", "right"], mod.das_datasets(10, 20, n=2_000), epochs=5, seed=0)
    scores = [float(np.mean(evaluate_pairs(net, res.alignment, ds).correct)) for ds in mod.das_datasets(30, 40, n=1_000)]
    # measured at seed 0: k = 5 + 6 of 16, held-out IIA 0.972-0.981
    assert min(scores) >= 0.95, scores
    assert sum(res.k.values()) < 16


def test_boundless_with_fewer_learned_directions_than_the_width(fitted):
    net, train, _ = fitted
    res = _fit(net, train, coords=4, penalty=0.3)
    assert res.basis.shape == (8, 4)
    assert torch.allclose(res.basis.T @ res.basis, torch.eye(4), atol=1e-4)
    results = [evaluate_pairs(net, res.alignment, ca.exhaustive_pairs(HEQ, [v])) for v in ("left", "right")]
    assert iia(results).overall.overall.value == 1.0
    assert res.k == {"left": 1, "right": 1}


def test_hard_dims_give_a_collapsed_variable_its_best_free_coordinate():
    masks = torch.tensor([[0.9, 0.8, 0.1, 0.0], [0.0, 0.45, 0.4, 0.1]])
    dims, collapsed = _hard_dims(masks, ["a", "b"])
    assert dims == {"a": (0, 2), "b": (2, 3)}
    assert collapsed == ("b",)


def test_boundless_refuses_bad_requests(fitted):
    net, train, _ = fitted
    before = [p.requires_grad for p in net.module.parameters()]
    with pytest.raises(AlignmentError, match="temperature"):
        _fit(net, train, temperature=(0.1, 1.0))
    with pytest.raises(AlignmentError, match="'right'"):
        fit_boundless(net, Site("2"), ["left"], train, epochs=1)
    with pytest.raises(AlignmentError, match="coords=9"):
        _fit(net, train, coords=9)
    with pytest.raises(AlignmentError, match="listed twice"):
        fit_boundless(net, Site("2"), ["left", "left"], train[:1], epochs=1)
    with pytest.raises(DatasetError, match="no training datasets"):
        fit_boundless(net, Site("2"), ["left"], [], epochs=1)
    ds = train[0]
    same = ds.subset(np.flatnonzero(~ds.changed))
    with pytest.raises(DatasetError, match="changes the output"):
        fit_boundless(net, Site("2"), ["left"], [same], epochs=1)
    # the network is left as it was: requires_grad flags restored, no hooks remain
    assert [p.requires_grad for p in net.module.parameters()] == before
    assert not any(m._forward_hooks for m in net.module.modules())


def test_a_boundless_result_saves_and_loads_exactly(fitted, tmp_path):
    from causalabs.align.store import load_alignment, save_das

    net, _, res = fitted
    back = load_alignment(save_das(res, tmp_path / "b.json", network=net))
    assert torch.equal(back["left"].subspace.featurizer.matrix, res.basis)
    assert {v: s.subspace.dims for v, s in back.sites.items()} == res.dims
    info = back.info
    assert info["method"] == "boundless_das" and info["k"] == res.k and info["losses"] == res.losses
    assert {v: tuple(b) for v, b in info["boundaries"].items()} == res.boundaries
    ds = ca.random_pairs(HEQ, ["left", "right"], 300, seed=2)
    assert np.array_equal(evaluate_pairs(net, back, ds).predicted, evaluate_pairs(net, res.alignment, ds).predicted)
