"""Suffix-only execution: the split networks, their check, and evaluation on cached prefixes.

What is shown: a suffix found for nested ``nn.Sequential``, GPT-2, Llama and
GPT-NeoX (tiny random configs, absolute and rotary positions,
``logits_to_keep``) and the tracr transformer (declared) reproduces the full
forward within ``TOLERANCE`` (1e-6, float32) on plain and patched
activations; a network that cannot be split, or whose declared suffix is
wrong, keeps the full path and the result says why; and on every organism
the suffix path and the full path give the same decisions, bit for bit.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _nets import heq_hypotheses, heq_network, tiny_transformer, token_batch
from torch import nn

from causalabs.data import random_pairs
from causalabs.engine import evaluate_pairs
from causalabs.network import Alignment, Decoded, Network, argmax_decoder, site
from causalabs.network.hf import candidate_decoder, hf_network
from causalabs.network.suffix import TOLERANCE, Suffix, check_suffix, checked_suffix, find_suffix
from causalabs.organisms import find_organisms

MODELS = Path(__file__).resolve().parents[1] / "models"


def _full_patched(network: Network, path: str, io: str, inputs: Any, h: torch.Tensor) -> torch.Tensor:
    """The full forward with the tensor at ``path``'s ``io`` replaced by ``h`` (an independent hook)."""
    module = network.module.get_submodule(path)
    if io == "output":
        handle = module.register_forward_hook(
            lambda m, a, out: (h, *out[1:]) if isinstance(out, tuple) else h
        )
    else:
        handle = module.register_forward_pre_hook(lambda m, a: (h, *a[1:]))
    try:
        with torch.no_grad():
            out = network.call(network.module, inputs)
    finally:
        handle.remove()
    return out.logits if hasattr(out, "logits") else out


def _record(network: Network, path: str, io: str, inputs: Any) -> torch.Tensor:
    store: list[torch.Tensor] = []
    module = network.module.get_submodule(path)
    if io == "output":
        handle = module.register_forward_hook(lambda m, a, out: store.append(out[0] if isinstance(out, tuple) else out))
    else:
        handle = module.register_forward_pre_hook(lambda m, a: store.append(a[0]))
    try:
        with torch.no_grad():
            network.call(network.module, inputs)
    finally:
        handle.remove()
    return store[0]


# --- nn.Sequential ------------------------------------------------------------------------


def nested_sequential() -> Network:
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Linear(6, 16),
        nn.Sequential(nn.ReLU(), nn.Sequential(nn.Linear(16, 16), nn.Tanh()), nn.Linear(16, 8)),
        nn.ReLU(),
        nn.Linear(8, 3),
    ).eval()

    def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
        return torch.as_tensor(np.stack([batch[f"x{i}"] for i in range(6)], 1), dtype=torch.float32)

    return Network(module, encode, argmax_decoder((0, 1, 2)), name="nested")


SEQ_PATHS = ["0", "1", "1.0", "1.1", "1.1.0", "1.1.1", "1.2", "2", "3"]


@pytest.mark.parametrize("io", ["output", "input"])
@pytest.mark.parametrize("path", SEQ_PATHS)
def test_nested_sequential_suffix_matches_the_full_forward(path: str, io: str) -> None:
    net = nested_sequential()
    inputs = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    check = checked_suffix(net, path, io, inputs)
    assert check.suffix is not None and check.suffix.kind == "sequential", check.reason
    assert check.max_diff is not None and check.max_diff <= TOLERANCE
    h = _record(net, path, io, inputs) + torch.randn(5, *_record(net, path, io, inputs).shape[1:])
    with torch.no_grad():
        got = check.suffix.run(h, inputs)
    assert (got - _full_patched(net, path, io, inputs, h)).abs().max() <= TOLERANCE


# --- HuggingFace decoders -----------------------------------------------------------------


def _hf(family: str, *, logits_to_keep: int = 0, seed: int = 0) -> Network:
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    common = {"vocab_size": 50, "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0}
    if family == "gpt2":
        module = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=3, n_embd=32, n_head=4, n_positions=16, **common))
    elif family == "llama":
        module = transformers.LlamaForCausalLM(transformers.LlamaConfig(
            num_hidden_layers=3, hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=16, **common))
    else:
        module = transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(
            num_hidden_layers=3, hidden_size=32, intermediate_size=64, num_attention_heads=4,
            max_position_embeddings=16, **common))

    def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
        return torch.as_tensor(np.stack([batch[f"t{i}"] for i in range(6)], 1))

    return hf_network(module.float(), encode, candidate_decoder([3, 5, 7]), name=family, logits_to_keep=logits_to_keep)


def _blocks(net: Network) -> str:
    return str(net.info["blocks"])


@pytest.mark.parametrize("keep", [0, 1])
@pytest.mark.parametrize("family", ["gpt2", "llama", "neox"])
def test_hf_decoder_suffix_matches_the_full_forward(family: str, keep: int) -> None:
    net = _hf(family, logits_to_keep=keep)
    ids = torch.randint(0, 50, (4, 6), generator=torch.Generator().manual_seed(2))
    for layer in range(3):
        for io in ("output", "input"):
            path = f"{_blocks(net)}.{layer}"
            check = checked_suffix(net, path, io, ids)
            assert check.suffix is not None and check.suffix.kind == "hf-decoder", check.reason
            assert check.max_diff is not None and check.max_diff <= TOLERANCE
            h = _record(net, path, io, ids)
            h = h + 0.5 * torch.randn_like(h)
            with torch.no_grad():
                got = check.suffix.run(h, ids).logits
            want = _full_patched(net, path, io, ids, h)
            assert got.shape == want.shape == (4, keep or 6, 50)
            assert (got - want).abs().max() <= TOLERANCE


def _token_pairs(n: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    table = rng.integers(0, 50, (12, 6))
    base, src = table[rng.integers(0, 12, n)], table[rng.integers(0, 12, n)]

    class Pairs:
        pass

    p = Pairs()
    p.base = {f"t{i}": np.ascontiguousarray(base[:, i]) for i in range(6)}  # type: ignore[attr-defined]
    p.sources = {"v": {f"t{i}": np.ascontiguousarray(src[:, i]) for i in range(6)}}  # type: ignore[attr-defined]
    p.expected = p.base_output = np.zeros(n, dtype=np.int64)  # type: ignore[attr-defined]
    p.intervened = ("v",)  # type: ignore[attr-defined]
    return p


@pytest.mark.parametrize("family", ["gpt2", "llama", "neox"])
def test_hf_decisions_on_the_suffix_path_equal_the_full_path(family: str) -> None:
    net = _hf(family, logits_to_keep=1)
    pairs = _token_pairs(150, seed=3)
    for layer, pos in ((0, (-1,)), (1, (2, 4)), (2, None)):
        align = Alignment({"v": site(f"{_blocks(net)}.{layer}", positions=pos, units=range(0, 32, 3))})
        fast = evaluate_pairs(net, align, pairs, batch_size=32)
        full = evaluate_pairs(net, align, pairs, batch_size=32, suffix=False)
        # fixed positions at or after 2 with the last logits read: only those positions run
        assert fast.execution == ("suffix: a patch at every position leaves no earlier position to cache" if pos is None else "suffix-local"), fast.execution
        assert full.execution == "patch"
        np.testing.assert_array_equal(fast.predicted, full.predicted)
        assert fast.prob_expected is not None and full.prob_expected is not None
        np.testing.assert_allclose(fast.prob_expected, full.prob_expected, atol=1e-6, rtol=0)


def test_pairs_that_share_no_input_take_the_full_patch_path() -> None:
    """Every base distinct and no base also a source: a suffix pass would save no prefix pass, so the full
    patch runs (and says why); one repeated base is enough for the suffix path. Decisions agree either way."""
    net = _hf("gpt2")
    pairs = _token_pairs(12, seed=3)
    table = np.random.default_rng(5).permutation(np.arange(24 * 6) % 50).reshape(24, 6)
    pairs.base = {f"t{i}": np.ascontiguousarray(table[:12, i]) for i in range(6)}
    pairs.sources = {"v": {f"t{i}": np.ascontiguousarray(table[12:, i]) for i in range(6)}}
    align = Alignment({"v": site(f"{_blocks(net)}.1")})
    distinct = evaluate_pairs(net, align, pairs)
    assert distinct.execution.startswith("patch: no base input repeats"), distinct.execution
    np.testing.assert_array_equal(distinct.predicted, evaluate_pairs(net, align, pairs, suffix=False).predicted)
    pairs.base = {k: np.concatenate([v[:11], v[:1]]) for k, v in pairs.base.items()}
    assert evaluate_pairs(net, align, pairs).execution == "suffix: a patch at every position leaves no earlier position to cache"


def test_padding_mask_inputs_keep_the_full_path_and_say_why() -> None:
    net = _hf("gpt2")
    ids = torch.randint(0, 50, (3, 6))
    found = find_suffix(net, f"{_blocks(net)}.1", "output", {"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    assert isinstance(found, str) and "token ids" in found


# --- fallbacks ----------------------------------------------------------------------------


def test_a_network_without_a_split_keeps_the_full_path_and_says_why() -> None:
    net = tiny_transformer()
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 8, (40, 6))

    class Pairs:  # one base repeated: pairs that share no input take the full path for that reason alone
        base = token_batch(np.concatenate([rows[:19], rows[:1]]))
        sources = {"v": token_batch(rows[20:])}
        expected = base_output = np.zeros(20, dtype=np.int64)
        intervened = ("v",)

    res = evaluate_pairs(net, Alignment({"v": site("blocks.0", positions=(-1,))}), Pairs())
    assert res.execution.startswith("patch: ") and "declares no suffixes" in res.execution
    ref = evaluate_pairs(net, Alignment({"v": site("blocks.0", positions=(-1,))}), Pairs(), suffix=False)
    np.testing.assert_array_equal(res.predicted, ref.predicted)


class IgnoresTheSite(nn.Module):
    """Declares a suffix that recomputes from the inputs instead of reading ``h``: its check must fail."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(6, 8), nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))

    def causalabs_suffix(self, path: str, io: str) -> Any:
        return (lambda h, x: self.forward(x)) if (path, io) == ("a", "output") else None


def test_a_wrong_declared_suffix_fails_its_check() -> None:
    net = Network(IgnoresTheSite().eval(), lambda b: torch.as_tensor(np.stack([b[f"x{i}"] for i in range(6)], 1), dtype=torch.float32),
                  argmax_decoder((0, 1, 2)))
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    found = find_suffix(net, "a", "output", x)
    assert isinstance(found, Suffix) and found.kind == "declared"
    check = check_suffix(net, found, x)
    assert check.suffix is None
    assert "failed its check" in check.reason or "differs" in check.reason


def test_declared_suffix_is_used_and_exact() -> None:
    class Declares(IgnoresTheSite):
        def causalabs_suffix(self, path: str, io: str) -> Any:
            return (lambda h, x: self.b(torch.relu(h))) if (path, io) == ("a", "output") else None

    net = Network(Declares().eval(), lambda b: torch.as_tensor(np.stack([b[f"x{i}"] for i in range(6)], 1), dtype=torch.float32),
                  argmax_decoder((0, 1, 2)))
    check = checked_suffix(net, "a", "output", torch.randn(4, 6))
    assert check.suffix is not None and check.max_diff == 0.0


# --- the prefix cache ----------------------------------------------------------------------


def test_memory_bound_chunks_give_the_same_decisions() -> None:
    net = heq_network()
    ds = random_pairs(heq_hypotheses().HierarchicalEquality, ["left", "right"], 400, seed=7, pool=60)
    align = Alignment({"left": site("2", units=[0]), "right": site("2", units=[1])})
    ref = evaluate_pairs(net, align, ds, suffix=False, batch_size=50)
    for memory in (1, 10_000):  # one row per chunk, a few rows per chunk
        got = evaluate_pairs(net, align, ds, batch_size=50, memory=memory)
        assert got.execution == "suffix"
        np.testing.assert_array_equal(got.predicted, ref.predicted)
        np.testing.assert_allclose(got.prob_expected, ref.prob_expected, atol=1e-6, rtol=0)  # type: ignore[arg-type]


# --- every organism: the suffix path decides as the full path does ----------------------------


@functools.cache
def _organisms() -> list[Any]:
    """Every organism under models/ small enough for a CPU test (SmolLM2 is checked by the HF tests' families)."""
    found = find_organisms(MODELS).organisms
    return sorted((o for o in found if o.parameters < 2_000_000), key=lambda o: o.name)


@pytest.mark.parametrize("name", [o.name for o in _organisms()])
def test_organism_decisions_are_the_same_on_both_paths(name: str) -> None:
    org = next(o for o in _organisms() if o.name == name)
    hyp = org.hypothesis()
    align = org.alignment()
    names = list(align.sites)
    for variables in ([names[0]], names):
        ds = random_pairs(hyp, variables, 300, seed=11)
        fast = evaluate_pairs(org.network, align, ds, batch_size=64)
        full = evaluate_pairs(org.network, align, ds, batch_size=64, suffix=False)
        np.testing.assert_array_equal(fast.predicted, full.predicted)
        assert fast.execution == "suffix" or fast.execution.startswith("patch: ")


@pytest.mark.parametrize("name", ["tracr_hist", "tracr_sort"])
def test_tracr_declares_its_blocks_and_each_variable_runs_on_the_suffix(name: str) -> None:
    org = next(o for o in _organisms() if o.name == name)
    hyp, align = org.hypothesis(), org.alignment()
    for variable in list(align.sites)[:4]:
        ds = random_pairs(hyp, [variable], 200, seed=5)
        fast = evaluate_pairs(org.network, align, ds, batch_size=64)
        full = evaluate_pairs(org.network, align, ds, batch_size=64, suffix=False)
        assert fast.execution == "suffix", fast.execution
        np.testing.assert_array_equal(fast.predicted, full.predicted)


@pytest.mark.parametrize(
    "shape,high",
    [((0, 3), 2), ((1, 3), 2), ((50, 1), 3), ((300, 4), 3), ((200, 16), 1000), ((64, 2), 2), ((128, 16), 2), ((90, 2), 2**29), ((90, 2), 2**32)],
)
def test_row_ids_match_numpy_unique_over_rows(shape: tuple[int, int], high: int) -> None:
    from causalabs.data.ops import _packed, row_ids

    table = np.random.default_rng(shape[0]).integers(-high, high, shape)
    if shape[0] > 1:  # small domains take the one-integer-per-row sort, wide ones the sort of columns
        spans = table.max(0).astype(object) - table.min(0).astype(object) + 1
        assert (_packed(table) is None) == (np.prod(spans) >= 1 << 62)
    first, inverse = row_ids(table)
    if shape[0] <= 1:
        assert len(inverse) == shape[0] and not inverse.any()
        return
    _, want_first, want_inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
    np.testing.assert_array_equal(first, want_first)
    np.testing.assert_array_equal(inverse, want_inverse.reshape(-1))


@pytest.mark.parametrize("name", ["heq_handbuilt", "heq_rotated", "boolean_circuit", "planted_carry_bypass"])
@pytest.mark.parametrize("mode", ["exhaustive", "sample"])
def test_verify_gives_the_same_verdict_and_counts_on_both_paths(name: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from causalabs.engine import evaluate as evaluate_module
    from causalabs.verification import exhaustive as exhaustive_module
    from causalabs.verification.pipeline import verify

    from causalabs.backends.native import NativeBackend

    org = next(o for o in _organisms() if o.name == name)
    hyp, align = org.hypothesis(), org.alignment()
    calls = []
    original = NativeBackend.patch_suffix
    monkeypatch.setattr(NativeBackend, "patch_suffix", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    fast = verify(hyp, org.network, align, mode=mode, seed=0, samples=400)  # type: ignore[arg-type]
    assert calls  # the suffix path ran
    monkeypatch.setattr(NativeBackend, "patch_suffix", original)
    # the full path: no suffix in exhaustive verification, none in evaluate_pairs
    monkeypatch.setattr(exhaustive_module, "cached_prefix", lambda *a, **k: None)
    monkeypatch.setattr(evaluate_module, "suffix_runner", lambda be: None)
    full = verify(hyp, org.network, align, mode=mode, seed=0, samples=400)  # type: ignore[arg-type]
    assert fast.verdict == full.verdict
    a, b = fast.to_dict(), full.to_dict()
    for key in ("iia", "per_variable", "counterexample", "statistics"):
        assert a[key] == b[key], key
