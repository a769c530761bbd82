"""Sites in HuggingFace transformer networks, named by module path.

A decoder-only LM keeps its blocks in one ``nn.ModuleList``; its path
depends on the family:

================================  ============================================
family                            block ``N``
================================  ============================================
GPT-2, GPT-J, GPT-Neo, BLOOM      ``transformer.h.N`` (``.attn``, ``.mlp``)
Llama, Mistral, Qwen2, SmolLM     ``model.layers.N`` (``.self_attn``, ``.mlp``)
GPT-NeoX / Pythia                 ``gpt_neox.layers.N`` (``.attention``, ``.mlp``)
OPT                               ``model.decoder.layers.N`` (``.self_attn``; no ``mlp``)
MPT                               ``transformer.blocks.N`` (``.attn``, ``.ffn``)
================================  ============================================

A block's output is the residual stream after it, its input the residual
stream before it; an attention or MLP sublayer's output is what it adds to
the residual stream.  Unknown families fall back to the longest
``ModuleList`` in the module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from torch import nn

from causalabs.errors import SiteError
from causalabs.network.featurizers import Featurizer
from causalabs.network.network import Network
from causalabs.network.sites import Site, resolve_module, site

#: Module paths of the list of decoder blocks, by model family (checked in order).
BLOCK_CONTAINERS: tuple[str, ...] = (
    "transformer.h",  # GPT-2, GPT-J, GPT-Neo, BLOOM, Falcon
    "model.layers",  # Llama, Mistral, Qwen2, Gemma, Phi-3, SmolLM
    "gpt_neox.layers",  # Pythia / GPT-NeoX
    "model.decoder.layers",  # OPT
    "transformer.blocks",  # MPT
    "model.language_model.layers",  # multimodal wrappers around a Llama-like LM
)
#: Child names of the attention and MLP sublayers inside a block, by family.
ATTENTION_NAMES: tuple[str, ...] = ("self_attn", "attn", "attention", "self_attention")
MLP_NAMES: tuple[str, ...] = ("mlp", "feed_forward", "ffn")


def _root(network: Network | nn.Module) -> tuple[nn.Module, str]:
    if isinstance(network, Network):
        return network.module, network.name
    return network, type(network).__name__


def blocks_path(network: Network | nn.Module) -> str:
    """Module path of the list of decoder blocks (``transformer.h``, ``model.layers``...)."""
    root, label = _root(network)
    modules = dict(root.named_modules())
    for path in BLOCK_CONTAINERS:
        if isinstance(modules.get(path), nn.ModuleList):
            return path
    lists = [(len(m), p) for p, m in modules.items() if isinstance(m, nn.ModuleList) and len(m)]
    if not lists:
        raise SiteError(f"{label}: no list of decoder blocks found (looked for {', '.join(BLOCK_CONTAINERS)})")
    return max(lists, key=lambda lp: (lp[0], -len(lp[1])))[1]


def num_layers(network: Network | nn.Module) -> int:
    """Number of decoder blocks."""
    root, _ = _root(network)
    blocks = root.get_submodule(blocks_path(network))
    assert isinstance(blocks, nn.ModuleList)
    return len(blocks)


def block_path(network: Network | nn.Module, layer: int) -> str:
    """Module path of decoder block ``layer`` (negative counts from the end)."""
    _, label = _root(network)
    n = num_layers(network)
    if not -n <= layer < n:
        raise SiteError(f"{label}: layer {layer} is out of range; it has {n} decoder blocks (0..{n - 1})")
    return f"{blocks_path(network)}.{layer % n}"


def _child_path(network: Network | nn.Module, layer: int, names: Sequence[str], what: str) -> str:
    root, label = _root(network)
    block = block_path(network, layer)
    module = resolve_module(root, block, network=label)
    children = dict(module.named_children())
    for child in names:
        if child in children:
            return f"{block}.{child}"
    raise SiteError(
        f"{label}: block {block} has no {what} sublayer named {' or '.join(names)}; "
        f"its children are {', '.join(children)}"
    )


def block_site(
    network: Network | nn.Module,
    layer: int,
    *,
    io: Literal["output", "input"] = "output",
    positions: Any = None,
    units: Sequence[int] | None = None,
    featurizer: Featurizer | None = None,
    dims: tuple[int, int] | None = None,
) -> Site:
    """The residual stream after (``io="output"``) or before (``"input"``) decoder block ``layer``.

    ``positions``: None (every position), ints (negative count from the end),
    or a function of the high-level batch giving per-example positions.
    """
    path = block_path(network, layer)
    return site(path, io=io, positions=positions, units=units, featurizer=featurizer, dims=dims)


def attention_site(
    network: Network | nn.Module,
    layer: int,
    *,
    io: Literal["output", "input"] = "output",
    positions: Any = None,
    units: Sequence[int] | None = None,
    featurizer: Featurizer | None = None,
    dims: tuple[int, int] | None = None,
) -> Site:
    """The attention sublayer of block ``layer`` (its output is what it adds to the residual)."""
    path = _child_path(network, layer, ATTENTION_NAMES, "attention")
    return site(path, io=io, positions=positions, units=units, featurizer=featurizer, dims=dims)


def mlp_site(
    network: Network | nn.Module,
    layer: int,
    *,
    io: Literal["output", "input"] = "output",
    positions: Any = None,
    units: Sequence[int] | None = None,
    featurizer: Featurizer | None = None,
    dims: tuple[int, int] | None = None,
) -> Site:
    """The MLP sublayer of block ``layer`` (its output is what it adds to the residual)."""
    path = _child_path(network, layer, MLP_NAMES, "MLP")
    return site(path, io=io, positions=positions, units=units, featurizer=featurizer, dims=dims)
