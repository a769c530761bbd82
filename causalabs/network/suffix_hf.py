"""The suffix of a HuggingFace decoder LM after a block: the remaining blocks, the final norm, the head.

A block's arguments other than the hidden states (the attention mask, the
rotary ``position_embeddings`` or ``position_ids``, the cache position) depend
on the sequence length only when the LM is called on token ids alone
(:func:`~causalabs.network.hf.lm_call`, or the default call with
``{"input_ids": ...}``).  They are recorded once per sequence length, from a
one-row forward pass with a pre-hook on every block of the suffix, and
replayed for every batch (tensors with a batch axis of one broadcast).
Whether that holds for a given LM is what the check in
:func:`~causalabs.network.suffix.checked_suffix` establishes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from causalabs.network.hf_sites import blocks_path
from causalabs.network.network import Network, is_default_call
from causalabs.network.suffix import Suffix

#: ``(blocks, final norm, LM head)`` module paths by family.
DECODER_TAILS: tuple[tuple[str, str, str], ...] = (
    ("transformer.h", "transformer.ln_f", "lm_head"),  # GPT-2
    ("model.layers", "model.norm", "lm_head"),  # Llama, Mistral, Qwen2, SmolLM
    ("gpt_neox.layers", "gpt_neox.final_layer_norm", "lm_head"),  # GPT-NeoX, Pythia (transformers >= 5)
    ("gpt_neox.layers", "gpt_neox.final_layer_norm", "embed_out"),  # GPT-NeoX, Pythia (older transformers)
)


def _logits_to_keep(network: Network) -> int | None:
    """``logits_to_keep`` of an :func:`lm_call` network (0: all), or None for a call we cannot follow."""
    from causalabs.network.hf import lm_call

    call = getattr(network.call, "__wrapped__", network.call)
    if call is lm_call:
        return 0
    if isinstance(call, functools.partial) and call.func is lm_call and not call.args:
        if set(call.keywords) <= {"logits_to_keep"}:
            return int(call.keywords.get("logits_to_keep", 0))
    return None


def _token_ids(network: Network, inputs: Any) -> bool:
    """Token ids alone: a tensor, or a mapping holding only ``input_ids`` (a text template's unpadded batch)."""
    return isinstance(inputs, torch.Tensor) or (isinstance(inputs, Mapping) and set(inputs) == {"input_ids"})


def hf_suffix(network: Network, path: str, io: str, inputs: Any) -> Suffix | str:
    """The suffix after block ``k``'s ``io`` (``<blocks>.k``) of a GPT-2, Llama or GPT-NeoX LM, or why not."""
    root = network.module
    modules = dict(root.named_modules())
    try:
        blocks_at = blocks_path(root)
    except Exception:  # noqa: BLE001 - no list of blocks: not a decoder
        return "no list of decoder blocks"
    tail = next((t for t in DECODER_TAILS if t[0] == blocks_at and t[1] in modules and t[2] in modules), None)
    if tail is None:
        return f"no known decoder family with blocks at {blocks_at!r}"
    keep = 0 if is_default_call(network) else _logits_to_keep(network)
    if keep is None:
        return "the network's call() is neither the default nor lm_call"
    if not _token_ids(network, inputs):
        return "the encoded inputs are not token ids alone (a padding mask makes block arguments row-dependent)"
    prefix = blocks_at + "."
    index = path[len(prefix):] if path.startswith(prefix) else ""
    if not index.isdigit():
        return f"{path!r} is not a decoder block (a suffix starts at a block's input or output)"
    blocks = modules[blocks_at]
    assert isinstance(blocks, nn.ModuleList)
    start = int(index) + (1 if io == "output" else 0)
    suffix_blocks = list(blocks)[start:]
    norm, head = modules[tail[1]], modules[tail[2]]
    recorded: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], dict[str, Any]]]] = {}
    call = network.call

    def record(tokens: torch.Tensor, ids: Any) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

        def hook(mod: nn.Module, args: Any, kwargs: Any) -> None:
            seen.append((tuple(_no_cache(a) for a in args[1:]), {k: _no_cache(v) for k, v in kwargs.items() if k != "hidden_states"}))

        handles = [b.register_forward_pre_hook(hook, with_kwargs=True) for b in suffix_blocks]
        try:
            with torch.no_grad():
                call(root, {"input_ids": tokens} if isinstance(ids, Mapping) else tokens)
        finally:
            for h in handles:
                h.remove()
        return seen

    def arguments(ids: Any, n: int) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        tokens = ids["input_ids"] if isinstance(ids, Mapping) else ids
        key = (tuple(tokens.shape[1:]), tokens.device)
        if key not in recorded:
            # one row and two rows: a tensor whose first axis follows the batch is per-row
            one, two = record(tokens[:1], ids), record(tokens[:1].expand(2, *tokens.shape[1:]), ids)
            recorded[key] = [_mark_batched(a, b) for a, b in zip(one, two)]
        return [_expand(call_args, n) for call_args in recorded[key]]

    def run(h: torch.Tensor, ids: Any) -> Any:
        from transformers.modeling_outputs import CausalLMOutputWithPast

        x = h
        for block, (args, kwargs) in zip(suffix_blocks, arguments(ids, h.shape[0])):
            out = block(x, *args, **kwargs)
            x = out[0] if isinstance(out, (tuple, list)) else out
        x = norm(x)
        if keep:
            x = x[:, -keep:]
        return CausalLMOutputWithPast(logits=head(x))

    return Suffix(path, io, run, "hf-decoder")


class _Batched:
    """A recorded one-row tensor whose first axis is the batch: expanded to each call's batch size."""

    def __init__(self, value: torch.Tensor) -> None:
        self.value = value


def _mark(a: Any, b: Any) -> Any:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.ndim and a.shape[0] == 1 and b.shape[0] == 2 and a.shape[1:] == b.shape[1:]:
            return _Batched(a)
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(_mark(x, y) for x, y in zip(a, b))
    return a


def _mark_batched(
    one: tuple[tuple[Any, ...], dict[str, Any]], two: tuple[tuple[Any, ...], dict[str, Any]]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return _mark(one[0], two[0]), {k: _mark(v, two[1].get(k)) for k, v in one[1].items()}


def _grow(value: Any, n: int) -> Any:
    if isinstance(value, _Batched):
        return value.value.expand(n, *value.value.shape[1:])
    if isinstance(value, tuple):
        return tuple(_grow(v, n) for v in value)
    return value


def _expand(call_args: tuple[tuple[Any, ...], dict[str, Any]], n: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    args, kwargs = call_args
    return _grow(args, n), {k: _grow(v, n) for k, v in kwargs.items()}


def _no_cache(value: Any) -> Any:
    """None for a key/value cache object (the suffix runs without one), the value otherwise."""
    if any(c.__name__.endswith("Cache") for c in type(value).__mro__):
        return None
    return value
