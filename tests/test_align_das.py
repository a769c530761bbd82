"""DAS recovers a planted rotated alignment, is deterministic, and refuses bad requests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import causalabs as ca
from causalabs.align.das import fit_das
from causalabs.engine import evaluate_pairs
from causalabs.errors import AlignmentError, DatasetError
from causalabs.loading import load_attr, load_module
from causalabs.metrics import iia
from causalabs.network import Site, load_network

ROOT = Path(__file__).resolve().parent.parent
HEQ = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
SWAPPED = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:SwappedEquality"))
ROTATED = ROOT / "models/heq_rotated.py"


@pytest.fixture(scope="module")
def fitted():
    net = load_network(ROTATED)
    train = [ca.random_pairs(HEQ, [v], 768, seed=i) for i, v in enumerate(["left", "right"])]
    return net, train, fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=3, seed=0)


def test_das_recovers_the_planted_rotation(fitted):
    net, _, res = fitted
    results = [evaluate_pairs(net, res.alignment, ca.exhaustive_pairs(HEQ, [v])) for v in ("left", "right")]
    assert iia(results).overall.overall.value == 1.0
    # The wrong twin is refuted under the same learned alignment.
    wrong = [evaluate_pairs(net, res.alignment, ca.exhaustive_pairs(SWAPPED, [v])) for v in ("left", "right")]
    assert iia(wrong).overall.overall.value < 0.6
    # The learned directions are the planted ones (principal angles near 0): the
    # organism computes h_rot = h @ R, so unit j of h is the direction R[j, :].
    # Only units 0 and 1 of h are ever non-zero, so a direction is identifiable
    # only within their span: compare the learned directions projected onto it.
    planted = load_module(ROTATED).rotation().double()[:2]
    coords = planted @ res.basis.double()  # 2 x 2: learned direction j in planted coordinates
    for j in range(2):
        cos = coords[j, j].abs().item() / coords[:, j].norm().item()
        assert cos > 0.99


def test_das_is_deterministic(fitted):
    net, train, res = fitted
    again = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=3, seed=0)
    assert torch.equal(res.basis, again.basis)
    assert res.losses == again.losses
    other = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=1, seed=1)
    assert not torch.equal(res.basis, other.basis)


def test_das_refuses_too_many_dims(fitted):
    net, train, _ = fitted
    with pytest.raises(AlignmentError, match="width 8"):
        fit_das(net, Site("2"), {"left": 5, "right": 4}, train, epochs=1)


def test_das_refuses_data_where_nothing_changes(fitted):
    net, _, _ = fitted
    ds = ca.random_pairs(HEQ, ["left"], 64, seed=0)
    same = ds.subset(np.flatnonzero(~ds.changed))
    with pytest.raises(DatasetError, match="changes the output"):
        fit_das(net, Site("2"), {"left": 1}, [same], epochs=1)


def test_das_refuses_a_variable_without_dims(fitted):
    net, train, _ = fitted
    with pytest.raises(AlignmentError, match="right"):
        fit_das(net, Site("2"), {"left": 1}, train, epochs=1)
