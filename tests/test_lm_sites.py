"""Sites by name (``PATH[.input|.output][pos P][head H]``) on every supported family, against hand-written hooks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import _lm_tiny as tiny
from causalabs.backends.hooks import hook_count
from causalabs.backends.native import NativeBackend
from causalabs.errors import SiteError, UnknownModuleError
from causalabs.network.hf import candidate_decoder, hf_network, logits_of
from causalabs.network.site_names import parse_site

TOK = tiny.tokenizer()
VOCAB = {"a": tiny.NAMES, "b": tiny.NAMES, "s": tiny.NAMES, "place": tiny.PLACES}
BLOCKS = {"gpt2": "transformer.h", "gpt_neox": "gpt_neox.layers"}
ATTN = {"gpt2": ("attn", "c_proj"), "gpt_neox": ("attention", "dense")}
HEAD_DIM = {"gemma": 16}


def subject(batch: dict[str, np.ndarray]) -> np.ndarray:
    return np.where(np.asarray(batch["s"]) == 0, batch["a"], batch["b"])


def network(family: str) -> Any:
    return hf_network(tiny.module(family), tiny.TEXT, candidate_decoder([1, 2]), tokenizer=TOK, vocab=VOCAB,
                      index={"s": subject}, name=family)


def batch(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"a": rng.integers(0, 4, n), "b": rng.integers(0, 4, n), "s": rng.integers(0, 2, n),
            "place": rng.integers(0, len(tiny.PLACES), n)}


def blocks(family: str) -> str:
    return BLOCKS.get(family, "model.layers")


def out_proj(family: str, layer: int) -> str:
    attn, proj = ATTN.get(family, ("self_attn", "o_proj"))
    return f"{blocks(family)}.{layer}.{attn}.{proj}"


@torch.no_grad()
def by_hand(family: str, net: Any, base: dict[str, np.ndarray], source: dict[str, np.ndarray], *,
            module: str, pre: bool, units: slice, where: str) -> torch.Tensor:
    """Counterfactual logits at each base prompt's last token, one prompt at a time, with plain torch hooks.

    ``where``: "last" (the last token) or "slot:s" (the subject's one token).
    """
    t = net.encode.__wrapped__
    target = net.module.get_submodule(module)
    out = []
    for i in range(len(base["a"])):
        rows = [{k: v[i : i + 1] for k, v in d.items()} for d in (source, base)]
        toks = [t.tokenize(r)[0] for r in rows]
        pos = [len(tk.ids) - 1 if where == "last" else tk.spans["s"][0] for tk in toks]
        ids = [torch.tensor([tk.ids]) for tk in toks]
        saved: list[torch.Tensor] = []

        def read(mod: Any, args: Any, kwargs: Any = None, output: Any = None) -> None:
            x = args[0] if pre else (output[0] if isinstance(output, tuple) else output)
            saved.append(x[0, pos[0], units].clone())

        def write_pre(mod: Any, args: Any) -> Any:
            x = args[0].clone()
            x[0, pos[1], units] = saved[0]
            return (x, *args[1:])

        def write_out(mod: Any, args: Any, output: Any) -> Any:
            x = (output[0] if isinstance(output, tuple) else output).clone()
            x[0, pos[1], units] = saved[0]
            return (x, *output[1:]) if isinstance(output, tuple) else x

        h = target.register_forward_pre_hook(lambda m, a: read(m, a)) if pre else target.register_forward_hook(
            lambda m, a, o: read(m, a, output=o))
        net.module(input_ids=ids[0], use_cache=False)
        h.remove()
        h = target.register_forward_pre_hook(write_pre) if pre else target.register_forward_hook(write_out)
        out.append(net.module(input_ids=ids[1], use_cache=False).logits[0, -1])
        h.remove()
    return torch.stack(out)


@torch.no_grad()
def by_site(net: Any, text: str, base: dict[str, np.ndarray], source: dict[str, np.ndarray]) -> torch.Tensor:
    s = parse_site(text, net)
    be = NativeBackend()
    vectors = be.collect(net, source, [s])[s.location_key()]
    return logits_of(be.patch(net, base, [(s, vectors)]))[:, -1]


@pytest.mark.parametrize("family", tiny.FAMILIES)
@pytest.mark.parametrize("where", ["last", "slot:s"])
def test_a_head_site_matches_a_hand_written_hook(family: str, where: str) -> None:
    net = network(family)
    base, source = batch(6, 1), batch(6, 2)
    d = HEAD_DIM.get(family, 8)
    layer = 1 if where == "last" else 0  # a patch at the subject reaches the last token through a later block
    got = by_site(net, f"{blocks(family)}.{layer}[head 2][pos {where}]", base, source)
    want = by_hand(family, net, base, source, module=out_proj(family, layer), pre=True, units=slice(2 * d, 3 * d),
                   where=where)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    plain = logits_of(net.call(net.module, net.encode(base)))[:, -1]
    assert (got - plain).abs().max() > 1e-4  # the patch did something
    assert hook_count(net.module) == 0


@pytest.mark.parametrize("family", tiny.FAMILIES)
@pytest.mark.parametrize("where", ["last", "slot:s"])
def test_a_position_site_matches_a_hand_written_hook(family: str, where: str) -> None:
    net = network(family)
    base, source = batch(6, 3), batch(6, 4)
    got = by_site(net, f"{blocks(family)}.0[pos {where}]", base, source)
    want = by_hand(family, net, base, source, module=f"{blocks(family)}.0", pre=False, units=slice(None), where=where)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    plain = logits_of(net.call(net.module, net.encode(base)))[:, -1]
    assert (got - plain).abs().max() > 1e-4


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_sublayer_inputs_and_outputs_parse_to_their_modules(family: str) -> None:
    net = network(family)
    attn = ATTN.get(family, ("self_attn", "o_proj"))[0]
    s = parse_site(f"{blocks(family)}.1.mlp.input[pos last]", net)
    assert (s.module, s.io, s.positions.__name__) == (f"{blocks(family)}.1.mlp", "input", "last")
    s = parse_site(f"{blocks(family)}.1.{attn}.output", net)
    assert (s.module, s.io, s.positions) == (f"{blocks(family)}.1.{attn}", "output", None)
    s = parse_site(f"{blocks(family)}.1.{attn}[head 1,3]", net)
    d = HEAD_DIM.get(family, 8)
    assert s.module == out_proj(family, 1) and s.io == "input"
    assert s.subspace.units == tuple(range(d, 2 * d)) + tuple(range(3 * d, 4 * d))
    base, source = batch(3, 5), batch(3, 6)
    for text in (f"{blocks(family)}.1.mlp.input[pos last]", f"{blocks(family)}.1.{attn}[pos -1]"):
        assert by_site(net, text, base, source).shape == (3, 300)


def test_position_integers_need_no_template_and_names_are_kept() -> None:
    s = parse_site("layers.1[pos -1]")
    assert s.module == "layers.1" and s.positions == (-1,) and s.name == "layers.1.output[pos -1]"
    assert parse_site("layers.1.input[pos 2,3]").positions == (2, 3)
    assert parse_site("model.layers.24[pos slot:io:last]").name == "model.layers.24.output[pos slot:io:last]"


@pytest.mark.parametrize("text,error,match", [
    ("model.layers.1[pos]", SiteError, "needs positions"),
    ("model.layers.1[pos last", SiteError, "cannot read"),
    ("model.layers.1[pos last][pos 2]", SiteError, "given twice"),
    ("model.layers.1[pos a,b]", SiteError, "one position name"),
    ("model.layers.1[pos middle]", SiteError, "expected an integer"),
    ("model.layers.1[head 9]", SiteError, "out of range; the network has 4 heads"),
    ("model.layers.1[head x]", SiteError, "head numbers"),
    ("model.layers.1.mlp[head 1]", SiteError, "no attention output projection"),
    ("model.layers.1.input[head 1]", SiteError, "drop .input"),
    ("model.layers.7[pos -1]", UnknownModuleError, "no module 'model.layers.7'"),
    ("[pos -1]", SiteError, "no module path"),
])
def test_bad_site_text_is_refused_with_a_typed_error(text: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        parse_site(text, network("llama"))


def test_a_position_name_on_a_network_without_a_template_is_refused() -> None:
    from causalabs.network import Network, argmax_decoder

    module = tiny.module("llama")
    net = Network(module, lambda b: torch.as_tensor(b["a"])[:, None].repeat(1, 3), argmax_decoder(),
                  call=lambda m, x: m(input_ids=x, use_cache=False).logits[:, -1])
    s = parse_site("model.layers.0[pos last]", net)
    with pytest.raises(SiteError, match="not a TextTemplate"):
        NativeBackend().collect(net, {"a": np.array([1, 2])}, [s])
