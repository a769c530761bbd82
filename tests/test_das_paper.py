"""The DAS paper's result on CPU (Geiger et al. 2023), with the baselines and the random-weights control.

Trained organism (``models/heq_trained.py``): at the first hidden layer
("1", width 16), DAS with 8 + 8 rotated dimensions for ``left`` / ``right``
reaches held-out IIA >= 0.95 (paper 1.00; pyvene's tutorial 0.97), and the
best contiguous 8 + 8 unit split stays at most 0.75 (paper 0.60 to 0.73).
The greedy 8 + 8 unit subset scores much higher than the issue's target on
this network (measured 0.98): recorded as a strict xfail, not loosened.

Planted organism (``models/heq_rotated.py``): neuron search fails on the
changed pairs, DAS recovers the planted rotation (IIA 1.0, principal angles
near 0 within the two directions that carry signal).

Measured numbers are in docs/alignment.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import causalabs as ca
from causalabs.align.baselines import (
    evaluate_alignment,
    full_site,
    neuron_closest,
    neuron_contiguous,
    neuron_greedy,
    random_init_control,
)
from causalabs.align.das import fit_das
from causalabs.loading import load_attr, load_module
from causalabs.metrics import iia
from causalabs.network import Site, load_network

ROOT = Path(__file__).resolve().parent.parent
TRAINED = ROOT / "models/heq_trained.py"
ROTATED = ROOT / "models/heq_rotated.py"
LAYER = Site("1")
DIMS = {"left": 8, "right": 8}
DAS_OPTIONS = {"epochs": 8, "patience": None, "seed": 0}  # the measured table: 8 epochs on every pair


@pytest.fixture(scope="module")
def paper():
    organism = load_module(TRAINED)
    net = load_network(TRAINED)
    train = organism.das_datasets(10, 20, n=1000)  # left, right, both: 3 x 1000 pairs
    held = organism.das_datasets(30, 40, n=2000)  # other inputs, other pairs
    return net, train, held


@pytest.fixture(scope="module")
def das_paper(paper):
    net, train, held = paper
    res = fit_das(net, LAYER, DIMS, train, **DAS_OPTIONS)
    return res, iia(evaluate_alignment(net, res.alignment, held))


@pytest.mark.slow
def test_das_reaches_the_paper_iia(das_paper):
    res, report = das_paper
    assert report.overall.overall.value >= 0.95, str(report)
    assert report.overall.changed.value >= 0.95, str(report)
    for key in ("left", "right", "left+right"):
        assert report.per_variable[key].overall.value >= 0.93, (key, str(report))
    assert res.losses[-1] < res.losses[0]


@pytest.mark.slow
def test_das_with_the_default_stopping_rule_converges_on_the_paper_mlp(paper):
    net, train, held = paper
    res = fit_das(net, LAYER, DIMS, train, seed=0)
    assert res.training.stopped == "patience" and res.training.converged
    report = iia(evaluate_alignment(net, res.alignment, held))
    # measured: 36 epochs of at most 50 (best 31); held-out 0.991 (changed 0.992)
    assert report.overall.overall.value >= 0.95 and report.overall.changed.value >= 0.95, str(report)


@pytest.mark.slow
def test_best_contiguous_neuron_split_stays_low(paper, das_paper):
    net, train, held = paper
    res = neuron_contiguous(net, LAYER, DIMS, train)
    report = iia(evaluate_alignment(net, res.alignment, held))
    assert report.overall.overall.value <= 0.75, str(report)
    assert report.overall.overall.value < das_paper[1].overall.overall.value - 0.2


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="measured: the greedy 8+8 unit subset of layer '1' reaches held-out IIA 0.98 on heq_trained "
    "(issue target <= 0.75); units of this trained network separate left from right, and in 9 trainings "
    "(benchmarks/heq_neuron_vs_das.py) greedy stays <= 0.75 only where DAS also fails at layer 1",
)
def test_greedy_neuron_split_stays_low(paper):
    net, train, held = paper
    res = neuron_greedy(net, LAYER, DIMS, train)
    report = iia(evaluate_alignment(net, res.alignment, held))
    assert report.overall.overall.value <= 0.75, str(report)


@pytest.mark.slow
def test_closest_localist_split_scores_well_below_das(paper, das_paper):
    """The DAS paper's "closest localist alignment" (paper: 0.73): units assigned by DAS's own loadings."""
    net, train, held = paper
    res = neuron_closest(net, das_paper[0], train)
    assert sorted(len(u) for u in res.assignment.values()) == [8, 8]
    assert not set(res.assignment["left"]) & set(res.assignment["right"])
    report = iia(evaluate_alignment(net, res.alignment, held))
    assert report.overall.overall.value <= 0.9, str(report)  # measured 0.858
    assert report.overall.overall.value < das_paper[1].overall.overall.value - 0.1


@pytest.mark.slow
def test_full_site_and_random_control_do_not_score(paper):
    net, train, held = paper
    for v, al in full_site(net, LAYER, ["left", "right"]).items():
        assert iia(evaluate_alignment(net, al, held)).overall.overall.value <= 0.6, v
    rnet, res = random_init_control(net, LAYER, DIMS, train, init_seed=0, **DAS_OPTIONS)
    report = iia(evaluate_alignment(rnet, res.alignment, held))
    assert report.overall.overall.value <= 0.6, str(report)


# --- planted ground truth -------------------------------------------------------------


@pytest.fixture(scope="module")
def planted():
    heq = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
    net = load_network(ROTATED)
    train = [ca.random_pairs(heq, v, 768, seed=i) for i, v in enumerate(["left", "right", ["left", "right"]])]
    held = [ca.exhaustive_pairs(heq, [v]) for v in ("left", "right")]
    held.append(ca.random_pairs(heq, ["left", "right"], 4096, seed=99))
    return net, train, held


@pytest.mark.parametrize("fit", [neuron_contiguous, neuron_greedy])
def test_neuron_search_fails_on_the_planted_rotation(planted, fit):
    net, train, held = planted
    res = fit(net, Site("2"), {"left": 1, "right": 1}, train)
    report = iia(evaluate_alignment(net, res.alignment, held))
    assert report.overall.changed.value <= 0.6, str(report)  # measured 0.10
    assert report.overall.overall.value < 0.9, str(report)  # measured 0.66 (unchanged pairs are easy)


@pytest.mark.parametrize("fit", [neuron_contiguous, neuron_greedy])
def test_neuron_search_is_near_chance_on_balanced_heldout_pairs(planted, fit):
    """On pairs balanced over the output (half change it), neuron-aligned IIA is at most 0.6; DAS's is 1."""
    net, train, _ = planted
    heq = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
    balanced = [ca.balanced(heq, v, 2000, seed=50 + i) for i, v in enumerate(["left", "right", ["left", "right"]])]
    neurons = iia(evaluate_alignment(net, fit(net, Site("2"), {"left": 1, "right": 1}, train).alignment, balanced))
    assert neurons.overall.overall.value <= 0.6, str(neurons)  # measured 0.538
    das = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=3, patience=None, seed=0)
    assert iia(evaluate_alignment(net, das.alignment, balanced)).overall.overall.value == 1.0


def test_closest_localist_split_fails_on_the_planted_rotation(planted):
    net, train, held = planted
    das = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=3, patience=None, seed=0)
    res = neuron_closest(net, das, train)
    report = iia(evaluate_alignment(net, res.alignment, held))
    assert report.overall.changed.value <= 0.6, str(report)  # measured 0.09 (exhaustive left, right)


def test_das_recovers_the_planted_rotation(planted):
    net, train, held = planted
    res = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=3, patience=None, seed=0)
    report = iia(evaluate_alignment(net, res.alignment, held))
    assert report.overall.overall.value >= 0.99 and report.overall.changed.value >= 0.99, str(report)
    # Only units 0 and 1 of the unrotated layer ever carry signal: compare the learned
    # directions with the planted ones within their span (cosine of the principal angle).
    rot = load_module(ROTATED).rotation().double()[:2]  # planted directions of left, right
    coords = rot @ res.basis.double()[:, :2]  # columns: learned left, right
    for j in range(2):
        assert coords[j, j].abs().item() / coords[:, j].norm().item() > 0.99
    # most of each learned direction lies in that span (measured 0.96, 0.98)
    assert (coords.norm(dim=0) > 0.9).all()
