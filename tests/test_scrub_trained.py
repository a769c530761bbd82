"""Causal scrubbing on the trained DAS-paper MLP with its committed DAS alignment.

The correct hypothesis must recover at least 90% of the loss and its
left/right-swapped twin (same outputs on every input) at most 20%.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from causalabs.loading import load_hypothesis, load_module
from causalabs.network import load_network
from causalabs.scrub import scrub

ROOT = Path(__file__).resolve().parents[1]
TRAINED = ROOT / "models" / "heq_trained.py"
POOL = ROOT / "hypotheses" / "heq_pool.py"


@pytest.fixture(scope="module")
def setup():
    mod = load_module(TRAINED)
    return load_network(TRAINED), mod.alignment(), mod.balanced_inputs(2_000, 123)


def test_correct_hypothesis_recovers_the_loss(setup):
    net, align, data = setup
    r = scrub(net, load_hypothesis(f"{POOL}:HierarchicalEqualityPool"), align, data, n=4_000, seed=0)
    assert r.loss_recovered.value >= 0.90
    assert r.loss_recovered.lo >= 0.90
    assert r.accuracy.value >= 0.95
    assert r.passes_per_batch == 2


def test_swapped_twin_recovers_little(setup):
    net, align, data = setup
    r = scrub(net, load_hypothesis(f"{POOL}:SwappedEqualityPool"), align, data, n=4_000, seed=0)
    assert r.loss_recovered.value <= 0.20
    assert r.loss_recovered.hi <= 0.20
    assert r.accuracy.hi < 0.6
