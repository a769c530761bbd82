"""Causal scrubbing: limits (claims nothing / everything), organisms, determinism, sampling."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given
from hypothesis import strategies as st

import causalabs as ca
from causalabs import enumerate_inputs, model_of, run
from causalabs.loading import load_hypothesis, load_module
from causalabs.network import load_network, site
from causalabs.scrub import AgreeingSampler, correspondence, scrub
from causalabs.scrub.plan import ScrubPlan

ROOT = Path(__file__).resolve().parents[1]
HEQ = ROOT / "models" / "heq_handbuilt.py"
HEQ_HYP = ROOT / "hypotheses" / "hierarchical_equality.py"


@pytest.fixture(scope="module")
def heq():
    net = load_network(HEQ)
    h = load_hypothesis(f"{HEQ_HYP}:HierarchicalEquality")
    return net, h, load_module(HEQ).alignment(), enumerate_inputs(h)


def _close(a: ca.Estimate, b: ca.Estimate, sa: float, sb: float) -> bool:
    return abs(a.value - b.value) <= 4 * math.sqrt(sa**2 + sb**2)


def test_claiming_nothing_gives_the_random_loss(heq):
    net, h, _, data = heq
    r = scrub(net, h, {}, data, n=3000, seed=0)
    assert r.passes_per_batch == 1
    assert r.loss_random.value - r.loss_original.value > 1.0  # the baselines differ a lot
    assert _close(r.loss_scrubbed, r.loss_random, r.se["loss_scrubbed"], r.se["loss_random"])
    assert abs(r.loss_recovered.value) < 0.1
    assert r.loss_recovered.lo <= 0 <= r.loss_recovered.hi


def test_claiming_the_full_model_gives_the_original_loss(heq):
    net, h, _, data = heq
    full = {"out": site("5"), "left": site("2", units=[0]), "right": site("2", units=[1])}
    r = scrub(net, h, full, data, n=2000, seed=1)
    assert r.passes_per_batch == 3  # left+right share one collect; out one pass; the final pass
    np.testing.assert_allclose(r.per_reference["scrubbed"], r.per_reference["original"], rtol=0, atol=1e-6)
    assert r.loss_recovered.value == pytest.approx(1.0, abs=1e-6)
    assert r.accuracy.value == 1.0


@pytest.mark.parametrize(
    ("organism", "hyp", "wrong"),
    [
        ("heq_handbuilt.py", "hierarchical_equality.py:HierarchicalEquality", "hierarchical_equality.py:SwappedEquality"),
        ("boolean_circuit.py", "boolean_circuit.py:BooleanCircuit", "boolean_circuit.py:SwappedGates"),
    ],
)
def test_handbuilt_correct_recovers_and_wrong_twin_does_not(organism, hyp, wrong):
    path = ROOT / "models" / organism
    net, align = load_network(path), load_module(path).alignment()
    good = load_hypothesis(f"{ROOT / 'hypotheses' / hyp}")
    bad = load_hypothesis(f"{ROOT / 'hypotheses' / wrong}")
    data = enumerate_inputs(good)
    r = scrub(net, good, align, data, n=2000, seed=0)
    assert r.loss_recovered.value >= 0.99
    assert r.accuracy.value == 1.0
    w = scrub(net, bad, align, data, n=2000, seed=0)
    assert w.loss_recovered.value <= 0.2
    assert w.accuracy.hi < 0.9


def test_left_only_keys_the_output_on_its_direct_inputs(heq):
    net, _, align, data = heq
    left_only = load_hypothesis(f"{HEQ_HYP}:LeftOnly")
    r = scrub(net, left_only, {"left": align["left"]}, data, n=2000, seed=0)
    assert correspondence(left_only, {"left": align["left"]}).input_key("out") == ("y", "z")
    assert r.loss_recovered.value >= 0.99


def test_same_seed_same_bits_and_other_seed_other_draws(heq):
    net, _, align, data = heq
    s = load_hypothesis(f"{HEQ_HYP}:SwappedEquality")
    a = scrub(net, s, align, data, n=500, seed=7, batch_size=128)
    b = scrub(net, s, align, data, n=500, seed=7, batch_size=128)
    c = scrub(net, s, align, data, n=500, seed=8, batch_size=128)
    for k in ("scrubbed", "original", "random"):
        assert np.array_equal(a.per_reference[k], b.per_reference[k])
    assert a.to_dict() == b.to_dict()
    assert not np.array_equal(a.per_reference["scrubbed"], c.per_reference["scrubbed"])


def test_explicit_references_are_used_as_given(heq):
    net, h, align, data = heq
    refs = {k: v[:40] for k, v in data.items()}
    r = scrub(net, h, align, data, references=refs, seed=0)
    assert r.n == 40 and r.dropped == 0


def test_plan_of_a_deeper_tree_costs_at_most_claimed_plus_one():
    class Deep(ca.Hypothesis):
        a, b, c = ca.inputs("a b c", domain=(0, 1))
        g = ca.var(sp.And(a, b))
        h = ca.var(sp.Or(g, c))
        out = ca.output(sp.Not(h))

    corr = correspondence(Deep, {"g": site("0"), "h": site("2"), "out": site("4")})
    plan = ScrubPlan(corr)
    assert corr.children("h") == ("g",) and corr.input_key("h") == ("c",)
    assert plan.passes == 3 + 1
    assert [plan.nodes[c].var for c in plan.nodes[0].children] == ["out"]


def test_a_shared_claimed_node_is_copied_per_path():
    class Shared(ca.Hypothesis):
        a, b, c, d = ca.inputs("a b c d", domain=(0, 1))
        g = ca.var(sp.And(a, b))
        h1 = ca.var(sp.Or(g, c))
        h2 = ca.var(sp.And(g, d))
        out = ca.output(sp.Xor(h1, h2))

    sites = {"g": site("1", units=[0]), "h1": site("2", units=[0]), "h2": site("2", units=[1])}
    plan = ScrubPlan(correspondence(Shared, sites))
    assert [n.var for n in plan.nodes].count("g") == 2
    assert plan.passes == 2 + 1  # two copies of g share one pass; h1, h2 (same height) one; the final pass
    path = ROOT / "models" / "boolean_circuit.py"
    r = scrub(load_network(path), Shared, sites, enumerate_inputs(Shared), n=300, seed=0)
    assert r.n == 300 and np.isfinite(r.loss_scrubbed.value)
    assert r.passes_per_batch == 3


@given(seed=st.integers(0, 2**32 - 1), key=st.sampled_from([("left",), ("right",), ("out",), ("w", "x"), ()]))
def test_sampler_draws_only_agreeing_rows(seed, key):
    h = load_hypothesis(f"{HEQ_HYP}:HierarchicalEquality")
    model = model_of(h)
    rng = np.random.default_rng(seed)
    data = {k: rng.integers(0, 4, 300) for k in "wxyz"}
    values = run(model, data)
    sampler = AgreeingSampler(model, values, 300)
    context = rng.integers(0, 300, 200)
    got = sampler.sample(key, context, np.random.default_rng(seed))
    assert got.shape == (200,) and got.min() >= 0 and got.max() < 300
    for k in key:
        assert np.array_equal(values[k][got], values[k][context])
    again = sampler.sample(key, context, np.random.default_rng(seed))
    assert np.array_equal(got, again)


def test_sampler_is_uniform_within_a_group():
    h = load_hypothesis(f"{HEQ_HYP}:HierarchicalEquality")
    model = model_of(h)
    data = enumerate_inputs(h)
    sampler = AgreeingSampler(model, run(model, data), 256)
    context = np.zeros(40_000, dtype=np.int64)  # row 0: w == x, so left = 1 (64 rows agree)
    got = sampler.sample(("left",), context, np.random.default_rng(0))
    counts = np.bincount(got, minlength=256)
    assert (counts > 0).sum() == 64
    assert counts[counts > 0].min() > 0.6 * 40_000 / 64


@pytest.mark.parametrize(
    ("organism", "good", "bad"),
    [
        ("tracr_hist", "TracrHist", "HistOthers"),
        ("tracr_reverse", "TracrReverse", "ReverseFromMaxLength"),
        ("tracr_sort", "TracrSort", "SortAntiStable"),
        ("tracr_frac_prevs", "TracrFracPrevs", "FracPrevsExclusive"),
    ],
)
def test_tracr_organisms_with_the_error_loss(organism, good, bad):
    # tracr decoders give no scores: the loss is the 0/1 error; shared claimed nodes are copied
    path = ROOT / "models" / "tracr" / f"{organism}.py"
    net, align = load_network(path), load_module(path).alignment()
    progs = ROOT / "hypotheses" / "tracr_programs.py"
    right, wrong = (load_hypothesis(f"{progs}:{c}") for c in (good, bad))
    data = enumerate_inputs(right)
    r = scrub(net, right, align, data, n=300, seed=0, loss="error")
    assert r.loss_recovered.value >= 0.99 and r.accuracy.value == 1.0
    w = scrub(net, wrong, align, data, n=300, seed=0, loss="error")
    assert w.loss_recovered.value <= 0.2 and w.accuracy.hi < 0.5


def test_result_serialises(heq):
    net, h, align, data = heq
    r = scrub(net, h, align, data, n=100, seed=0)
    d = r.to_dict()
    assert d["n"] == 100 and d["loss_recovered"]["method"] == "bootstrap percentile"
    assert "loss recovered" in str(r)
    assert torch.get_num_threads() >= 1


@pytest.mark.parametrize("organism", ["tracr_hist", "tracr_reverse", "tracr_sort", "tracr_frac_prevs"])
def test_same_height_nodes_share_one_pass_to_the_bit(organism):
    # one patched pass per height, rows of several nodes stacked, equals one pass per node exactly
    from causalabs.backends.native import NativeBackend
    from causalabs.scrub.resampling import encoded_once, scrubbed_outputs

    path = ROOT / "models" / "tracr" / f"{organism}.py"
    net, align = load_network(path), load_module(path).alignment()
    hyp = load_hypothesis(f"{ROOT / 'hypotheses' / 'tracr_programs.py'}:{organism.title().replace('_', '')}")
    corr = correspondence(hyp, align)
    plan = ScrubPlan(corr)
    assert plan.passes <= len(corr.claimed) + 1
    data = enumerate_inputs(hyp)
    sampler = AgreeingSampler(corr.model, run(corr.model, data), len(next(iter(data.values()))))
    fast, table = encoded_once(net, data)
    refs = np.random.default_rng(0).integers(0, sampler.n_data, 64)
    batched = scrubbed_outputs(fast, plan, sampler, table, refs, np.random.default_rng(1), NativeBackend())
    single = ScrubPlan(corr)
    single.levels = [[i] for level in single.levels for i in level]
    each = scrubbed_outputs(fast, single, sampler, table, refs, np.random.default_rng(1), NativeBackend())
    assert len(single.levels) > len(plan.levels)
    flat_a, flat_b = [], []
    for out, flat in ((batched, flat_a), (each, flat_b)):
        stack = [out]
        while stack:
            x = stack.pop()
            if isinstance(x, torch.Tensor):
                flat.append(x)
            elif isinstance(x, dict):
                stack.extend(x.values())
            elif isinstance(x, (tuple, list)):
                stack.extend(x)
    assert flat_a and len(flat_a) == len(flat_b)
    assert all(torch.equal(a, b) for a, b in zip(flat_a, flat_b))
