"""Scrubbing's inner levels on cached prefixes: the same results as full passes, each prefix once, and the fallbacks.

Results are compared with ``suffix=False``: decisions exactly, per-reference
losses within 10x the suffix check's tolerance (1e-5) and loss recovered
with its interval within 1e-4.  The two paths compute the same operations
on the same rows, but a cached prefix ran in another batch (distinct
inputs) than the full pass's, so the last bits may differ in general.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
import sympy as sp
import torch
from test_scrub_suffix import _suffix_rows
from torch import nn

import causalabs as ca
from causalabs import enumerate_inputs
from causalabs.backends.native import NativeBackend
from causalabs.loading import load_hypothesis, load_module
from causalabs.network import Network, load_network, site
from causalabs.network.suffix import TOLERANCE
from causalabs.scrub import AgreeingSampler, correspondence, scrub
from causalabs.scrub.encoding import encoded_once
from causalabs.scrub.plan import ScrubPlan
from causalabs.scrub.resampling import scrubbed_outputs
from causalabs.scrub.suffix_levels import scrub_prefixes

ROOT = Path(__file__).resolve().parents[1]
CIRCUIT = ROOT / "models" / "boolean_circuit.py"
HEQ = ROOT / "models" / "heq_handbuilt.py"


class Chain(ca.Hypothesis):
    """Claims at three heights of the boolean circuit's MLP: g at "1", k at "2", out at "4" (right or not)."""

    a, b, c, d = ca.inputs("a b c d", domain=(0, 1))
    g = ca.var(sp.And(a, b))
    k = ca.var(sp.Or(g, c))
    out = ca.output(sp.Xor(k, d))


CHAIN = {"g": site("1", units=[0]), "k": site("2", units=[0]), "out": site("4")}


class Split(ca.Hypothesis):
    """Two height-1 nodes, each patching its own child's site at "2": a level whose sites only some nodes patch."""

    a, b, c, d = ca.inputs("a b c d", domain=(0, 1))
    g1 = ca.var(sp.And(a, b))
    g2 = ca.var(sp.Or(c, d))
    h1 = ca.var(sp.And(g1, a))
    h2 = ca.var(sp.Or(g2, c))
    out = ca.output(sp.Xor(h1, h2))


SPLIT = {"g1": site("2", units=[0]), "g2": site("2", units=[1]), "h1": site("4", units=[0]), "h2": site("4", units=[1])}


def _heq() -> tuple[Any, ...]:
    hyp = load_hypothesis(f"{ROOT / 'hypotheses' / 'hierarchical_equality.py'}:HierarchicalEquality")
    full = {"out": site("5"), "left": site("2", units=[0]), "right": site("2", units=[1])}
    return load_network(HEQ), hyp, full, enumerate_inputs(hyp)


def _circuit(hyp: Any, sites: dict[str, Any]) -> tuple[Any, ...]:
    return load_network(CIRCUIT), hyp, sites, enumerate_inputs(hyp)


def _tracr(name: str, cls: str) -> tuple[Any, ...]:
    path = ROOT / "models" / "tracr" / f"{name}.py"
    hyp = load_hypothesis(f"{ROOT / 'hypotheses' / 'tracr_programs.py'}:{cls}")
    return load_network(path), hyp, load_module(path).alignment(), enumerate_inputs(hyp)


def _partial(plan: ScrubPlan) -> bool:
    """Whether some level patches a site on the rows of only some of its nodes."""
    for level in plan.levels:
        patched = [{plan.site(c) for c in plan.nodes[i].children} for i in level]
        if set.union(*patched) != set.intersection(*patched):
            return True
    return False


def _same(fast: Any, full: Any) -> None:
    np.testing.assert_array_equal(fast.per_reference["correct"], full.per_reference["correct"])
    assert fast.accuracy == full.accuracy
    for key in ("scrubbed", "original", "random"):
        np.testing.assert_allclose(fast.per_reference[key], full.per_reference[key], rtol=0, atol=10 * TOLERANCE)
    a, b = fast.loss_recovered, full.loss_recovered
    np.testing.assert_allclose([a.value, a.lo, a.hi], [b.value, b.lo, b.hi], rtol=0, atol=1e-4)


CASES = {
    "heq-out-claimed": (_heq, "cross-entropy", False),
    "circuit-chain": (lambda: _circuit(Chain, CHAIN), "cross-entropy", False),
    "circuit-split": (lambda: _circuit(Split, SPLIT), "cross-entropy", True),
    "tracr-frac-prevs": (lambda: _tracr("tracr_frac_prevs", "TracrFracPrevs"), "error", True),
    "tracr-reverse": (lambda: _tracr("tracr_reverse", "TracrReverse"), "error", True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_inner_levels_run_on_the_suffix_with_the_same_results(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, loss, partial = CASES[case]
    net, hyp, sites, data = make()
    plan = ScrubPlan(correspondence(hyp, sites))
    assert plan.levels and _partial(plan) == partial
    rows = _suffix_rows(monkeypatch)
    fast = scrub(net, hyp, sites, data, n=200, seed=5, batch_size=64, loss=loss)  # type: ignore[arg-type]
    assert fast.execution == "suffix"
    # every inner level (its nodes' bases stacked) and the final pass of every batch ran from a cached location
    assert rows == [r for c in (64, 64, 64, 8) for r in (*(len(lv) * c for lv in plan.levels), c)]
    full = scrub(net, hyp, sites, data, n=200, seed=5, batch_size=64, loss=loss, suffix=False)  # type: ignore[arg-type]
    assert full.execution == "patch" and len(rows) == 4 * (len(plan.levels) + 1)
    _same(fast, full)


def _rows_through(module: nn.Module, store: list[torch.Tensor]) -> Any:
    return module.register_forward_hook(lambda m, a, out: store.append(a[0].detach().clone()))


def test_each_prefix_runs_once_per_distinct_input_and_a_level_stops_after_its_sites() -> None:
    net, hyp, sites, data = _circuit(Chain, CHAIN)
    corr = correspondence(hyp, sites)
    plan = ScrubPlan(corr)
    n_data = len(data["a"])
    sampler = AgreeingSampler(corr.model, ca.run(corr.model, data), n_data)
    fast, table = encoded_once(net, data)
    backend = NativeBackend()
    prefixes = scrub_prefixes(net, fast, table, plan, n_data, backend, batch_size=64, memory=1 << 20)
    assert prefixes.execution == "suffix" and prefixes.cache is not None
    assert set(prefixes.cache.wholes) == {("1", "output"), ("2", "output"), ("4", "output")}
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in ("0", "2", "3", "5")}
    handles = [_rows_through(net.module.get_submodule(name), store) for name, store in seen.items()]
    rng = np.random.default_rng(0)
    b, batches = 32, 5
    try:
        for _ in range(batches):
            scrubbed_outputs(fast, plan, sampler, table, rng.integers(0, n_data, b), rng, backend, prefixes)
    finally:
        for h in handles:
            h.remove()
    first = torch.cat(seen["0"])
    # the layers before the first cached location ran once for each distinct input, all 16 of them
    assert first.shape[0] == n_data == prefixes.cache.recorded
    assert torch.unique(first, dim=0).shape[0] == n_data
    # besides the recording pass (which stops at "4", the deepest cached location), "2" runs in the
    # height-1 pass only (height 2 starts after it), "3" in the height-2 pass only (stopped at "4", its
    # node's site) and "5" in the final pass only
    ran = [sum(t.shape[0] for t in seen[name]) for name in ("2", "3", "5")]
    assert ran == [b * batches + n_data, b * batches + n_data, b * batches]
    # the same batches in full passes: every pass runs from the input
    seen = {name: [] for name in ("0",)}
    handles = [_rows_through(net.module.get_submodule("0"), seen["0"])]
    try:
        scrubbed_outputs(fast, plan, sampler, table, rng.integers(0, n_data, b), rng, backend)
    finally:
        handles[0].remove()
    assert sum(t.shape[0] for t in seen["0"]) == 4 * b  # leaves' collect, two levels, the final pass


def test_a_level_past_the_memory_bound_runs_in_full_and_says_why() -> None:
    net, hyp, sites, data = _circuit(Chain, CHAIN)
    # 16 distinct inputs: the final pass's "4" holds 16 x 2 floats (128 B), "1" 16 x 3 (192 B), "2" 16 x 8 (512 B)
    r = scrub(net, hyp, sites, data, n=200, seed=1, memory=400)
    assert r.execution == (
        "suffix; height 1: suffix; height 2: patch: the dataset's tensors at 2.output would exceed the memory bound"
    )
    _same(r, scrub(net, hyp, sites, data, n=200, seed=1, suffix=False))


def test_levels_at_several_locations_run_in_full_and_say_why() -> None:
    net, hyp, align, data = _tracr("tracr_reverse", "ReverseFromMaxLength")
    r = scrub(net, hyp, align, data, n=200, seed=2, loss="error")
    assert r.execution == (
        "suffix; height 1: suffix; height 2: patch: the sites of the height-2 pass lie at more than one module location"
    )
    _same(r, scrub(net, hyp, align, data, n=200, seed=2, loss="error", suffix=False))


def test_an_encoder_that_is_not_row_wise_keeps_every_pass_full_with_one_reason() -> None:
    net, hyp, sites, data = _circuit(Chain, CHAIN)
    plain = net.encode.__wrapped__  # type: ignore[attr-defined]

    def batch_dependent(batch):  # type: ignore[no-untyped-def]
        return plain(batch) + 1e-3 * len(next(iter(batch.values())))

    r = scrub(attrs.evolve(net, encode=batch_dependent), hyp, sites, data, n=100, seed=0)
    assert r.execution == "patch: the network's encode is not row-wise, so a row's prefix would depend on its batch"


class _Declared(nn.Module):
    """The boolean circuit behind a declared suffix that computes its layers functionally (no module runs)."""

    def __init__(self, seq: nn.Sequential) -> None:
        super().__init__()
        self.seq = seq

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)

    def causalabs_suffix(self, path: str, io: str) -> Any:
        if io != "output" or not path.startswith("seq."):
            return None
        rest = list(self.seq)[int(path.split(".")[1]) + 1 :]

        def run(h: torch.Tensor, inputs: Any) -> torch.Tensor:
            for m in rest:
                h = torch.relu(h) if isinstance(m, nn.ReLU) else torch.nn.functional.linear(h, m.weight, m.bias)
            return h

        return run


def test_a_suffix_that_skips_a_nodes_module_falls_back_to_the_full_level_pass() -> None:
    base, hyp, _, data = _circuit(Chain, CHAIN)
    net = Network(_Declared(base.module), base.encode.__wrapped__, base.decode.__wrapped__, name="declared")  # type: ignore[attr-defined]
    sites = {k: attrs.evolve(s, module=f"seq.{s.module}") for k, s in CHAIN.items()}
    r = scrub(net, hyp, sites, data, n=150, seed=4)
    assert r.execution == (
        "suffix; height 1: patch: the suffix after seq.1.output does not run the module of seq.2.output<units [0]>; "
        "height 2: patch: the suffix after seq.2.output does not run the module of seq.4.output"
    )
    _same(r, scrub(net, hyp, sites, data, n=150, seed=4, suffix=False))


class TokenSums(ca.Hypothesis):
    """Claims on a tiny GPT-2 over six token ids: two nodes at block 0, two at block 1 (right or not)."""

    t0, t1, t4 = ca.inputs("t0 t1 t4", domain=range(3))
    t2, t3, t5 = ca.inputs("t2 t3 t5", domain=(0, 1))
    u1 = ca.var(sp.Mod(t0 + t1, 3))
    u2 = ca.var(sp.Mod(t2 + t3, 2))
    v1 = ca.var(sp.Mod(u1 + t4, 3))
    v2 = ca.var(sp.Mod(u2 + t5, 2))
    out = ca.output(sp.Mod(v1 + v2, 3))


def test_a_tiny_gpt2_runs_its_inner_level_on_the_suffix_with_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    transformers = pytest.importorskip("transformers")
    from causalabs.network.hf import candidate_decoder, hf_network

    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=3, n_embd=32, n_head=4, n_positions=16, vocab_size=50, bos_token_id=0,
                                     eos_token_id=0, pad_token_id=0)

    def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
        return torch.as_tensor(np.stack([batch[f"t{i}"] for i in range(6)], 1))

    net = hf_network(transformers.GPT2LMHeadModel(config).float(), encode, candidate_decoder([3, 5, 7]), name="gpt2")
    # a level whose sites only some nodes patch: v1 patches u1's site (position 4), v2 u2's (position 5)
    sites = {
        "u1": site("transformer.h.0", positions=[4]), "u2": site("transformer.h.0", positions=[5]),
        "v1": site("transformer.h.1", positions=[5], units=range(16)),
        "v2": site("transformer.h.1", positions=[5], units=range(16, 32)),
    }
    plan = ScrubPlan(correspondence(TokenSums, sites))
    assert [len(lv) for lv in plan.levels] == [2] and _partial(plan)
    data = enumerate_inputs(TokenSums)
    rows = _suffix_rows(monkeypatch)
    fast = scrub(net, TokenSums, sites, data, n=100, seed=0, batch_size=64)
    assert fast.execution == "suffix"
    assert rows == [128, 64, 72, 36]  # per batch: the level (two nodes' bases stacked), then the final pass
    _same(fast, scrub(net, TokenSums, sites, data, n=100, seed=0, batch_size=64, suffix=False))
