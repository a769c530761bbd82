"""Position-local suffixes of causal decoders: only positions from the patch on run, earlier keys and values cached.

Checked against the full forward (tolerance 1e-6, float32) on GPT-2, Llama
and GPT-NeoX (tiny random configs), with the decisions of every pair equal
to the full path's, whether the network reads the last logits or every
position's (those before the patch are the base's own, kept from its pass);
where it cannot apply (a patch at position 0, a call it cannot follow) the
reason is given and the prefix-cached path runs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_suffix import _hf, _token_pairs

from causalabs.engine import evaluate_pairs
from causalabs.network import Alignment, site
from causalabs.network.suffix import TOLERANCE
from causalabs.network.suffix_local import checked_local_suffix, local_suffix


@pytest.mark.parametrize("keep", [1, 3, 0])  # logits read: the last, the last 3, every position
@pytest.mark.parametrize("family", ["gpt2", "llama", "neox"])
def test_local_suffix_matches_the_full_forward(family: str, keep: int) -> None:
    net = _hf(family, logits_to_keep=keep)
    ids = torch.randint(0, 50, (4, 6), generator=torch.Generator().manual_seed(4))
    for layer, positions in ((0, (5,)), (1, (3, 5)), (2, (-1,))):
        local, reason = checked_local_suffix(net, f"{net.info['blocks']}.{layer}", "output", positions, ids)
        assert local is not None, reason
        assert local.start == min(q % 6 for q in positions)
        h, cached = local.record(ids)
        assert h.shape == (4, 6, 32) and len(cached.kv) == 3 - layer - 1  # one (keys, values) per block after the site
        assert all(k.shape[2] == v.shape[2] == local.start for k, v in cached.kv)
        read = 6 - keep if keep else 0
        before = max(0, local.start - read)  # logits read before the patch: the base's own, kept
        assert (cached.before is None) if before == 0 else (cached.before is not None and cached.before.shape == (4, before, 50))
        with torch.no_grad():  # the kept logits are the base's own
            full = net.call(net.module, ids).logits
        if cached.before is not None:
            torch.testing.assert_close(cached.before, full[:, :before], atol=1e-6, rtol=0)


@pytest.mark.parametrize(("family", "keep"), [("gpt2", 1), ("llama", 1), ("gpt2", 0), ("llama", 0)])
def test_every_pair_decides_as_the_full_path(family: str, keep: int) -> None:
    net = _hf(family, logits_to_keep=keep)
    pairs = _token_pairs(200, seed=9)
    for layer in (0, 1):
        align = Alignment({"v": site(f"{net.info['blocks']}.{layer}", positions=(-1,))})
        local = evaluate_pairs(net, align, pairs, batch_size=48)
        full = evaluate_pairs(net, align, pairs, batch_size=48, suffix=False)
        assert local.execution == "suffix-local"
        np.testing.assert_array_equal(local.predicted, full.predicted)
        np.testing.assert_allclose(local.prob_expected, full.prob_expected, atol=1e-6, rtol=0)  # type: ignore[arg-type]
        assert TOLERANCE == 1e-6


def test_where_it_cannot_apply_the_reason_is_given() -> None:
    import attrs

    last = _hf("gpt2", logits_to_keep=1)
    ids = torch.randint(0, 50, (3, 6))
    reason = local_suffix(last, "transformer.h.1", "output", (0,), ids)
    assert isinstance(reason, str) and "position 0" in reason
    own = attrs.evolve(last, call=lambda module, inputs: module(inputs))  # a call it cannot follow
    reason = local_suffix(own, "transformer.h.1", "output", (-1,), ids)
    assert isinstance(reason, str) and "call()" in reason
    pairs = _token_pairs(40, seed=1)
    res = evaluate_pairs(last, Alignment({"v": site("transformer.h.1", positions=(0,))}), pairs)
    assert res.execution == "suffix: a patch at position 0 leaves no earlier position to cache"  # the prefix cache


def test_a_fallback_from_the_local_path_encodes_each_distinct_input_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import attrs

    from causalabs.engine import evaluate as evaluate_module

    net = _hf("gpt2", logits_to_keep=1)
    encoded: list[int] = []

    def counting(batch: dict[str, np.ndarray]) -> torch.Tensor:
        encoded.append(len(batch["t0"]))
        return net.encode.__wrapped__(batch)  # type: ignore[attr-defined, no-any-return]

    counted = attrs.evolve(net, encode=counting)
    pairs = _token_pairs(60, seed=5)
    align = Alignment({"v": site("transformer.h.1", positions=(-1,))})
    table = np.stack([np.concatenate([pairs.base[f"t{i}"], pairs.sources["v"][f"t{i}"]]) for i in range(6)], 1)
    distinct = len(np.unique(table, axis=0))
    # room for the site tensors (768 bytes a row) but not the keys and values too: the local path falls back
    memory = 768 * distinct + 100
    fallback = evaluate_pairs(counted, align, pairs, batch_size=16, memory=memory)
    assert fallback.execution == (
        "suffix: the inputs' cached keys and values (and logits read before the patch) would exceed the memory bound"
    )
    assert encoded == [distinct]  # one encode of the distinct inputs, shared by both paths tried
    assert evaluate_pairs(counted, align, pairs, batch_size=16).execution == "suffix-local"
    monkeypatch.setattr(evaluate_module, "run_local", lambda *a, **k: "not tried")
    alone = evaluate_pairs(counted, align, pairs, batch_size=16, memory=memory)
    assert alone.execution == "suffix: not tried"
    np.testing.assert_array_equal(fallback.predicted, alone.predicted)
    np.testing.assert_array_equal(fallback.prob_expected, alone.prob_expected)  # type: ignore[arg-type]


def test_pairs_that_share_no_input_skip_the_local_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from causalabs.engine import prefixes_local

    net = _hf("gpt2", logits_to_keep=1)
    rng = np.random.default_rng(11)
    table = np.unique(rng.integers(0, 50, (80, 6)), axis=0)[:40]  # 40 distinct inputs: 20 bases, 20 sources
    pairs = _token_pairs(20, seed=0)
    pairs.base = {f"t{i}": np.ascontiguousarray(table[:20, i]) for i in range(6)}
    pairs.sources = {"v": {f"t{i}": np.ascontiguousarray(table[20:, i]) for i in range(6)}}
    align = Alignment({"v": site("transformer.h.1", positions=(-1,))})
    recorded: list[int] = []
    monkeypatch.setattr(prefixes_local, "checked_local_suffix", lambda *a, **k: recorded.append(1) or (None, "checked"))
    res = evaluate_pairs(net, align, pairs, batch_size=8)
    assert recorded == []  # decided before any input is encoded or checked
    assert res.execution.startswith("patch: no base input repeats")
    full = evaluate_pairs(net, align, pairs, batch_size=8, suffix=False)
    np.testing.assert_array_equal(res.predicted, full.predicted)


def test_the_key_value_cache_goes_by_the_name_the_installed_transformers_takes() -> None:
    from types import SimpleNamespace

    from torch import nn

    from causalabs.network.suffix_local import _cache_name, _cache_of

    class New(nn.Module):
        def forward(self, input_ids: torch.Tensor, cache: object = None, use_cache: bool = False) -> None: ...

    class Old(nn.Module):
        def forward(self, input_ids: torch.Tensor, past_key_values: object = None, use_cache: bool = False) -> None: ...

    assert _cache_name(New()) == "cache" and _cache_name(Old()) == "past_key_values"
    kv = object()
    assert _cache_of(SimpleNamespace(cache=kv)) is kv
    assert _cache_of(SimpleNamespace(past_key_values=kv)) is kv
    assert _cache_name(_hf("gpt2", logits_to_keep=1).module) in ("cache", "past_key_values")


def test_inputs_that_are_never_a_base_run_only_up_to_the_site() -> None:
    net = _hf("gpt2", logits_to_keep=1)
    rng = np.random.default_rng(3)
    table = np.unique(rng.integers(0, 50, (60, 6)), axis=0)[:24]
    ib, i_s = rng.integers(0, 8, 90), rng.integers(0, 24, 90)  # bases from 8 inputs, sources from all 24
    pairs = _token_pairs(90, seed=0)
    pairs.base = {f"t{i}": np.ascontiguousarray(table[ib, i]) for i in range(6)}
    pairs.sources = {"v": {f"t{i}": np.ascontiguousarray(table[i_s, i]) for i in range(6)}}
    align = Alignment({"v": site("transformer.h.0", positions=(-1,))})
    full = evaluate_pairs(net, align, pairs, batch_size=16, suffix=False)
    evaluate_pairs(net, align, pairs, batch_size=16)  # the local suffix's check (a few rows) runs once, here
    whole: list[int] = []  # rows through the last block with every position: the inputs recorded whole

    def count(module: torch.nn.Module, args: object, out: object) -> None:
        x = out[0] if isinstance(out, tuple) else out
        if x.shape[1] == 6:  # type: ignore[union-attr]
            whole.append(int(x.shape[0]))  # type: ignore[union-attr]

    handle = net.module.transformer.h[2].register_forward_hook(count)
    try:
        local = evaluate_pairs(net, align, pairs, batch_size=16)
    finally:
        handle.remove()
    assert local.execution == "suffix-local"
    assert sum(whole) == len(np.unique(ib))  # the distinct bases only; the other sources stopped at the site
    np.testing.assert_array_equal(local.predicted, full.predicted)
    np.testing.assert_allclose(local.prob_expected, full.prob_expected, atol=1e-6, rtol=0)  # type: ignore[arg-type]


def test_with_no_base_repeated_the_prefix_cached_path_runs_instead() -> None:
    net = _hf("gpt2", logits_to_keep=1)
    rng = np.random.default_rng(4)
    table = np.unique(rng.integers(0, 50, (80, 6)), axis=0)[:40]
    pairs = _token_pairs(30, seed=0)
    pairs.base = {f"t{i}": np.ascontiguousarray(table[:30, i]) for i in range(6)}  # 30 distinct bases
    src = rng.integers(0, 40, 30)  # sources from the same 40 inputs: some are bases too
    pairs.sources = {"v": {f"t{i}": np.ascontiguousarray(table[src, i]) for i in range(6)}}
    align = Alignment({"v": site("transformer.h.1", positions=(-1,))})
    res = evaluate_pairs(net, align, pairs, batch_size=8)
    assert res.execution == "suffix: no base input repeats, so the position-local path would save no pass over the prefix-cached one"
    np.testing.assert_array_equal(res.predicted, evaluate_pairs(net, align, pairs, batch_size=8, suffix=False).predicted)


@pytest.mark.parametrize("keep", [0, 1])
def test_named_positions_the_same_in_every_input_take_the_local_path(keep: int) -> None:
    import sympy as sp
    from transformers import GPT2Config, GPT2LMHeadModel

    import causalabs as ca
    from causalabs.network.hf import Slot, TokenTemplate, candidate_decoder, hf_network

    class AddMod8(ca.Hypothesis):
        x, y = ca.inputs("x y", domain=range(8))
        total = ca.var(sp.Mod(x + y, 8))
        out = ca.output(total)

    torch.manual_seed(0)
    module = GPT2LMHeadModel(GPT2Config(n_layer=3, n_embd=32, n_head=2, vocab_size=50, n_positions=16,
                                        bos_token_id=0, eos_token_id=0))
    template = TokenTemplate([1, Slot("x", list(range(10, 18))), [2, 3], Slot("y", list(range(20, 28))), 4])
    net = hf_network(module, template, candidate_decoder(list(range(30, 38))), name="tiny", logits_to_keep=keep)
    pairs = ca.random_pairs(AddMod8, "total", 120, pool=12, seed=2)
    for positions, path in (("last", "suffix-local"), ("slot:y", "suffix-local"),
                            (lambda b: np.where(b["x"] > 3, 5, 4), "suffix: the position-local path needs positions "
                             "that are the same in every input")):
        align = Alignment({"total": site("transformer.h.1", positions=positions)})
        fast = evaluate_pairs(net, align, pairs)
        assert fast.execution == path
        np.testing.assert_array_equal(fast.predicted, evaluate_pairs(net, align, pairs, suffix=False).predicted)
