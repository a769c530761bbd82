"""Path patching: all paths give the full effect; a partial receiver explains only its share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from causalabs import enumerate_inputs
from causalabs.backends.hooks import hook_count
from causalabs.loading import load_hypothesis
from causalabs.network import load_network, site
from causalabs.scrub import path_patch

ROOT = Path(__file__).resolve().parents[1]
HEQ = ROOT / "models" / "heq_handbuilt.py"
TRAINED = ROOT / "models" / "heq_trained.py"


@pytest.fixture(scope="module")
def heq():
    net = load_network(HEQ)
    data = enumerate_inputs(load_hypothesis(f"{ROOT / 'hypotheses' / 'hierarchical_equality.py'}:HierarchicalEquality"))
    return net, data


@pytest.fixture(scope="module")
def trained():
    return load_network(TRAINED)


@given(
    seed=st.integers(0, 2**31 - 1),
    sender=st.sampled_from(["0", "1", "2", "3"]),
    downstream=st.sampled_from(["output", "next", "last_input"]),
)
def test_all_paths_give_the_full_effect(trained, seed, sender, downstream):
    rng = np.random.default_rng(seed)
    base = {k: rng.integers(0, 100, 32) for k in "wxyz"}
    cf = {k: rng.integers(0, 100, 32) for k in "wxyz"}
    receiver = {
        "output": site("6"),
        "next": site(str(int(sender) + 1), io="input"),
        "last_input": site("6", io="input"),
    }[downstream]
    r = path_patch(trained, base, cf, site(sender), [receiver], seed=seed)
    assert torch.equal(r.path_output, r.full_output)
    np.testing.assert_array_equal(r.path, r.full)
    if not np.allclose(r.full.mean(), r.clean.mean()):
        assert r.proportion.value == pytest.approx(1.0, abs=1e-12)
    assert hook_count(trained.module) == 0


def test_a_receiver_subspace_explains_only_its_path(heq):
    net, _ = heq
    # bases with w == x == 0 and y == z: out = 1; counterfactuals break w == x only
    n = 64
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, n)
    base = {"w": np.zeros(n, np.int64), "x": np.zeros(n, np.int64), "y": y, "z": y.copy()}
    cf = {"w": np.zeros(n, np.int64), "x": np.ones(n, np.int64), "y": y, "z": y.copy()}
    sender = site("1")
    via_left = path_patch(net, base, cf, sender, [site("3", io="input", units=[0])])
    via_right = path_patch(net, base, cf, sender, [site("3", io="input", units=[1])])
    assert via_left.full.mean() < via_left.clean.mean() - 1  # the sender matters
    assert via_left.proportion.value == pytest.approx(1.0, abs=1e-9)  # all of it goes through left
    assert via_right.proportion.value == pytest.approx(0.0, abs=1e-9)  # none through right
    assert np.array_equal(via_right.path, via_right.clean)
