"""HuggingFace causal LMs as causalabs networks (``causalabs.network.hf``).

Tiny, randomly initialised GPT-2 and Llama models built from configs
(seeded; no downloads) check sites by module path against references
computed without causalabs' hooks: ``output_hidden_states``, the residual
decomposition of a block (output = input + attention + MLP), the block's own
layer norm, and causal masking (a patch at position p cannot change logits
before p).  The real LM (SmolLM2, the ``[lm]`` extra) is in
``tests/test_hf_lm.py``.

Tolerances: a row's activations depend on the batch it is computed in (BLAS
picks kernels by shape), so results computed in different batches (the
engine runs sources deduplicated and sorted) are compared with ``ATOL``;
results of the same computation are compared bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

import causalabs as ca
from causalabs.backends.hooks import hook_count
from causalabs.backends.native import NativeBackend
from causalabs.data import random_pairs
from causalabs.engine import evaluate_pairs
from causalabs.errors import NetworkError, SiteError, UnknownModuleError
from causalabs.network import Alignment, Network, Rotation, predict, random_rotation, site
from causalabs.network.hf import (
    Slot,
    TokenTemplate,
    attention_site,
    block_path,
    block_site,
    blocks_path,
    candidate_decoder,
    hf_network,
    mlp_site,
    num_layers,
)

ROOT = Path(__file__).resolve().parents[1]
BE = NativeBackend()
ATOL = 1e-5
WIDTH = 32
CANDIDATES = (40, 41, 42, 43)


class AddMod4(ca.Hypothesis):
    """A toy task for the tiny LMs: out = (x + y) mod 4 (the random LMs do not solve it)."""

    x, y = ca.inputs("x y", domain=range(4))
    total = ca.var(sp.Mod(x + y, 4))
    out = ca.output(total)


#: "<1> x <2> <3> y <4>": x at position 1, y at positions 4 and 5 (two-token rows), length 7.
TEMPLATE = TokenTemplate([1, Slot("x", [10, 11, 12, 13]), [2, 3], Slot("y", [(20, 30), (21, 31), (22, 32), (23, 33)]), 4])
T = TEMPLATE.length


def tiny_module(kind: str, seed: int = 0) -> torch.nn.Module:
    """A 2-block GPT-2 or Llama with seeded random weights (the global RNG is left as it was)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if kind == "gpt2":
            config = GPT2Config(n_layer=2, n_embd=WIDTH, n_head=2, vocab_size=64, n_positions=32)
            module = GPT2LMHeadModel(config)
        else:
            config = LlamaConfig(
                hidden_size=WIDTH,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=2,
                vocab_size=64,
            )
            module = LlamaForCausalLM(config)
    return module.eval()


def tiny_network(kind: str, seed: int = 0, **kwargs: Any) -> Network:
    return hf_network(tiny_module(kind, seed), TEMPLATE, candidate_decoder(CANDIDATES), name=f"tiny-{kind}", **kwargs)


NETS = {kind: tiny_network(kind) for kind in ("gpt2", "llama")}
#: Bit-identical copies for the references: ``output_hidden_states=True`` makes transformers 5
#: install its own (permanent) output-capturing hooks, which must not be counted as ours.
REFS = {kind: tiny_module(kind) for kind in ("gpt2", "llama")}
PATHS = {
    "gpt2": ("transformer.h", "attn", "mlp"),
    "llama": ("model.layers", "self_attn", "mlp"),
}


@pytest.fixture(params=["gpt2", "llama"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def batch(n: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(0, 4, n), "y": rng.integers(0, 4, n)}


def per_example(b: dict[str, np.ndarray]) -> np.ndarray:
    """Per-example positions: the y slot's first token for even x, the last token for odd x."""
    return np.where(np.asarray(b["x"]) % 2 == 0, 4, T - 1)


@torch.no_grad()
def logits(net: Network, b: dict[str, np.ndarray]) -> torch.Tensor:
    """The plain forward, without causalabs."""
    return net.module(input_ids=TEMPLATE.encode(b), use_cache=False).logits


@torch.no_grad()
def hidden(kind: str, b: dict[str, np.ndarray]) -> tuple[torch.Tensor, ...]:
    """``output_hidden_states``: [0] is block 0's input, [i] block i-1's output (the last one is normed)."""
    return REFS[kind](input_ids=TEMPLATE.encode(b), use_cache=False, output_hidden_states=True).hidden_states


def rows_at(x: torch.Tensor, pos: np.ndarray | tuple[int, ...]) -> torch.Tensor:
    """``x[i, pos]`` for fixed positions (a tuple) or ``x[i, pos[i]]`` for per-example ones (an array)."""
    n = x.shape[0]
    if isinstance(pos, np.ndarray):
        p = torch.as_tensor(pos, dtype=torch.long).reshape(n, 1)
    else:
        p = torch.tensor(pos, dtype=torch.long).expand(n, len(pos))
    return x[torch.arange(n)[:, None], p % x.shape[1]]


# --- encoding and decoding ---------------------------------------------------


def test_template_encodes_slots_at_their_positions() -> None:
    b = {"x": np.array([0, 3]), "y": np.array([2, 1])}
    ids = TEMPLATE.encode(b)
    assert ids.dtype == torch.long and ids.shape == (2, 7)
    assert ids.tolist() == [[1, 10, 2, 3, 22, 32, 4], [1, 13, 2, 3, 21, 31, 4]]
    assert TEMPLATE.positions("x") == (1,) and TEMPLATE.positions("y") == (4, 5)


def test_slot_index_may_be_a_function_of_the_batch() -> None:
    t = TokenTemplate([Slot("max", [7, 8, 9, 10], index=lambda b: np.maximum(b["x"], b["y"])), 5])
    assert t.encode({"x": np.array([0, 3, 1]), "y": np.array([2, 1, 1])}).tolist() == [[9, 5], [10, 5], [8, 5]]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Slot("y", [(1, 2), (3,)]), "slot 'y'.*same positive number of tokens"),
        (lambda: Slot("y", []), "slot 'y'.*empty"),
        (lambda: TokenTemplate([Slot("x", [1]), Slot("x", [2])]), r"\['x'\] are used twice"),
        (lambda: TEMPLATE.encode({"x": np.array([4]), "y": np.array([0])}), "slot 'x'.*index 4.*4 rows"),
        (lambda: TEMPLATE.encode({"x": np.array([0])}), "slot 'y'.*no input 'y'"),
        (lambda: TEMPLATE.positions("z"), "no slot 'z'.*x, y"),
    ],
)
def test_template_errors_name_the_slot(make: Any, match: str) -> None:
    with pytest.raises((NetworkError, SiteError), match=match):
        make()


def test_candidate_decoder_reads_the_candidates_at_a_position() -> None:
    g = torch.Generator().manual_seed(0)
    out = torch.randn(5, 7, 64, generator=g)
    dec = candidate_decoder([40, 3, 17], values=[2, 0, 1])(out)
    assert torch.equal(dec.scores, out[:, -1, [40, 3, 17]])
    assert dec.values.tolist() == [[2, 0, 1][i] for i in out[:, -1, [40, 3, 17]].argmax(-1).tolist()]
    assert dec.classes == (2, 0, 1)
    at2 = candidate_decoder([40, 3, 17], position=2)(out)
    assert torch.equal(at2.scores, out[:, 2, [40, 3, 17]])


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([1, 1],), {}, "repeat an id"),
        (([1, 2],), {"values": [0]}, "2 candidate tokens but 1 values"),
        (([],), {}, "at least one"),
    ],
)
def test_candidate_decoder_errors(args: Any, kwargs: Any, match: str) -> None:
    with pytest.raises(NetworkError, match=match):
        candidate_decoder(*args, **kwargs)


def test_candidate_decoder_rejects_tokens_outside_the_vocabulary() -> None:
    with pytest.raises(NetworkError, match="candidate token 99 is outside the vocabulary of 64"):
        candidate_decoder([1, 99])(torch.zeros(2, 3, 64))


# --- module paths -------------------------------------------------------------


def test_module_paths_per_family(kind: str) -> None:
    net = NETS[kind]
    blocks, attn, mlp = PATHS[kind]
    assert blocks_path(net) == blocks and num_layers(net) == 2
    assert block_path(net, -1) == f"{blocks}.1"
    assert block_site(net, 0, positions=-1).name == f"{blocks}.0.output[pos -1]"
    assert attention_site(net, 1).module == f"{blocks}.1.{attn}"
    assert mlp_site(net, 0, io="input").module == f"{blocks}.0.{mlp}"
    assert net.info["blocks"] == blocks and net.info["layers"] == 2
    with pytest.raises(SiteError, match=f"tiny-{kind}: layer 2 is out of range; it has 2 decoder blocks"):
        block_site(net, 2)


def test_unknown_module_path_lists_close_names(kind: str) -> None:
    net = NETS[kind]
    blocks = PATHS[kind][0]
    with pytest.raises(UnknownModuleError, match=rf"{blocks}\.9.*did you mean.*{blocks}\.[01]"):
        BE.collect(net, batch(2), [site(f"{blocks}.9")])
    assert hook_count(net.module) == 0


# --- recording: sites against references computed without hooks -------------


@pytest.mark.parametrize("positions", [None, (1, 4), (-1,), per_example], ids=["all", "fixed", "negative", "per-example"])
def test_block_sites_match_hidden_states(kind: str, positions: Any) -> None:
    net, b = NETS[kind], batch()
    hs = hidden(kind, b)
    sites = [block_site(net, 0, io="input", positions=positions), block_site(net, 0, positions=positions)]
    got = BE.collect(net, b, sites)
    for s, ref in zip(sites, (hs[0], hs[1])):
        want = ref if positions is None else rows_at(ref, positions(b) if callable(positions) else positions)
        assert torch.equal(got[s.location_key()], want), s.name
    assert hook_count(net.module) == 0


@pytest.mark.parametrize("positions", [None, (2, -1), per_example], ids=["all", "fixed", "per-example"])
def test_block_output_is_input_plus_attention_plus_mlp(kind: str, positions: Any) -> None:
    net, b = NETS[kind], batch()
    parts = [
        block_site(net, 1, io="input", positions=positions),
        attention_site(net, 1, positions=positions),
        mlp_site(net, 1, positions=positions),
    ]
    out = block_site(net, 0, positions=positions)  # block 1's input is block 0's output
    got = BE.collect(net, b, [*parts, out])
    h_in, attn, mlp = (got[s.location_key()] for s in parts)
    # the last block's output goes through the final norm in hidden_states, so rebuild it here
    block1 = net.module.get_submodule(block_path(net, 1))
    assert torch.equal(h_in, got[out.location_key()])
    norm = block1.ln_1 if kind == "gpt2" else block1.input_layernorm
    attn_in = BE.collect(net, b, [attention_site(net, 1, io="input", positions=positions)])
    (attn_in_vec,) = attn_in.values()
    torch.testing.assert_close(attn_in_vec, norm(h_in), rtol=0, atol=ATOL)
    assert attn.abs().sum() > 0 and mlp.abs().sum() > 0
    full = BE.collect(net, b, [block_site(net, 1, positions=positions)])
    (h_out,) = full.values()
    torch.testing.assert_close(h_out, h_in + attn + mlp, rtol=0, atol=ATOL)


# --- patching -------------------------------------------------------------------


def _sites(net: Network) -> list:
    rot = Rotation(random_rotation(WIDTH, seed=3)).to(net.device)
    return [
        block_site(net, 0, positions=(1, 4)),
        block_site(net, 1, io="input", positions=-1),
        attention_site(net, 1, positions=per_example),
        mlp_site(net, 0),
        block_site(net, 1, positions=-2, featurizer=rot, dims=(0, 8)),
        mlp_site(net, 1, io="input", positions=(0, -1), units=range(5)),
    ]


def test_interchange_with_source_equal_to_base_is_the_plain_forward(kind: str) -> None:
    net, b = NETS[kind], batch()
    want = logits(net, b)
    for s in _sites(net):
        got = BE.interchange(net, b, [(s, b)]).logits
        torch.testing.assert_close(got, want, rtol=0, atol=ATOL, msg=s.name)
        assert torch.equal(got.argmax(-1), want.argmax(-1)), s.name
    assert hook_count(net.module) == 0


@pytest.mark.parametrize("where", ["block0.output", "block1.output", "block0.input"])
def test_patching_the_whole_residual_gives_the_source_logits(kind: str, where: str) -> None:
    net, base, source = NETS[kind], batch(16, seed=1), batch(16, seed=2)
    layer, io = int(where[5]), where.split(".")[1]
    got = BE.interchange(net, base, [(block_site(net, layer, io=io), source)]).logits
    torch.testing.assert_close(got, logits(net, source), rtol=0, atol=ATOL)
    assert not torch.allclose(logits(net, base), logits(net, source), atol=1e-3)  # the patch did something


@pytest.mark.parametrize("pos", [2, -2])
def test_a_patch_at_one_position_leaves_earlier_logits_alone(kind: str, pos: int) -> None:
    net, base, source = NETS[kind], batch(16, seed=1), batch(16, seed=2)
    p = pos % T
    got = BE.interchange(net, base, [(block_site(net, 0, positions=pos), source)]).logits
    want = logits(net, base)
    torch.testing.assert_close(got[:, :p], want[:, :p], rtol=0, atol=ATOL)  # causal attention
    assert (got[:, p:] - want[:, p:]).abs().amax() > 1e-3


def test_attention_and_mlp_patches_from_another_source_change_the_output(kind: str) -> None:
    net, base, source = NETS[kind], batch(16, seed=1), batch(16, seed=2)
    want = logits(net, base)
    for s in (attention_site(net, 1, positions=-1), mlp_site(net, 1, positions=-1)):
        got = BE.interchange(net, base, [(s, source)]).logits
        torch.testing.assert_close(got[:, :-1], want[:, :-1], rtol=0, atol=ATOL)
        assert (got[:, -1] - want[:, -1]).abs().amax() > 1e-4, s.name


def test_errors_inside_a_forward_leave_no_hooks(kind: str) -> None:
    net = NETS[kind]
    with pytest.raises(SiteError, match="position 9 is out of range for sequence length 7"):
        BE.interchange(net, batch(4), [(block_site(net, 1, positions=9), batch(4, seed=5))])
    with pytest.raises(SiteError, match="unit index 40 is out of range for width 32"):
        BE.interchange(net, batch(4), [(mlp_site(net, 0, units=[40]), batch(4, seed=5))])
    assert hook_count(net.module) == 0


# --- the engine on HF networks ---------------------------------------------------


def test_evaluate_pairs_on_an_hf_network(kind: str) -> None:
    """Aligning a variable with the whole last residual makes the network answer as on the source."""
    net = NETS[kind]
    ds = random_pairs(AddMod4, ["total"], 24, seed=0)
    res = evaluate_pairs(net, Alignment({"total": block_site(net, -1)}), ds, batch_size=10)
    assert np.array_equal(res.predicted, predict(net, ds.sources["total"]).values.numpy())
    assert np.array_equal(res.expected, ca.interchange(AddMod4, ds.base, {"total": ds.sources["total"]})["out"])
    assert res.prob_expected is not None and res.prob_expected.shape == (24,)
    assert hook_count(net.module) == 0


def test_logits_to_keep_decodes_like_the_full_logits(kind: str) -> None:
    b = batch()
    full, last = predict(NETS[kind], b), predict(tiny_network(kind, logits_to_keep=1), b)
    assert torch.equal(full.values, last.values)
    torch.testing.assert_close(last.scores, full.scores, rtol=0, atol=ATOL)


def test_same_seed_same_numbers_to_the_bit(kind: str) -> None:
    b = batch()
    again = tiny_network(kind, seed=0)
    assert torch.equal(logits(again, b), logits(NETS[kind], b))
    assert not torch.equal(logits(tiny_network(kind, seed=1), b), logits(NETS[kind], b))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sites_on_cuda(kind: str) -> None:
    net, base, source = tiny_network(kind).to("cuda"), batch(16, seed=1), batch(16, seed=2)
    cpu = NETS[kind]
    for s, s_cpu in zip(_sites(net), _sites(cpu)):
        got = BE.interchange(net, base, [(s, source)]).logits
        want = BE.interchange(cpu, base, [(s_cpu, source)]).logits
        assert got.device.type == "cuda"
        torch.testing.assert_close(got.cpu(), want, rtol=1e-3, atol=1e-3, msg=s.name)
    assert hook_count(net.module) == 0


# --- docs/transformers.md ---------------------------------------------------------


def test_docs_examples_run() -> None:
    """The Python blocks of docs/transformers.md before the SmolLM2 section run as written."""
    text = (ROOT / "docs" / "transformers.md").read_text()
    head = text.split("## SmolLM2", 1)[0]
    blocks = [b.split("```", 1)[0] for b in head.split("```python\n")[1:]]
    assert len(blocks) == 3
    namespace: dict[str, Any] = {"__name__": "docs_transformers"}
    with torch.random.fork_rng():
        for block in blocks:
            exec(compile(block, "docs/transformers.md", "exec"), namespace)  # noqa: S102
    assert hook_count(namespace["net"].module) == 0
