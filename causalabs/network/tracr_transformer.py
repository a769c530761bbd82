"""A plain-torch transformer that runs tracr-compiled weights (no JAX needed).

tracr (``tracr-pypi``) compiles a RASP program into the weights of a small
transformer whose residual-stream dimensions each carry a label such as
``opp_idx_4:3`` (value 3 of the categorical feature ``opp_idx_4``) or
``frac_prevs_1`` (a numerical feature, one dimension).  This module runs
such weights with the same arithmetic as tracr's Haiku model
(``tracr/transformer/model.py`` with ``layer_norm=False``):

* embedding: one-hot token embedding plus position embedding (position 0,
  the BOS token, has a zero position vector);
* ``num_layers`` layers, each an attention block then an MLP block, both
  added to the residual stream;
* attention: ``softmax(q k^T / sqrt(key_size))`` over the keys, padded keys
  masked with ``-1e30`` exactly as tracr does (its large "coldness" logits
  make the softmax a hard selection), a causal mask when compiled causal;
* MLP: ``linear_2(relu(linear_1(x)))``; no layer norm anywhere;
* read-out: the residual dimensions of the output feature (categorical:
  one score per output value, tracr takes the argmax; numerical: one value).

Module paths, for sites: ``embed`` (output: the input embeddings),
``layers.{i}.attn`` and ``layers.{i}.mlp`` (output: a tuple whose first
element is the residual stream *after* that block, the second the block's
own contribution, tracr's ``layer_outputs``), and inside them the linear
maps ``layers.{i}.attn.query|key|value|linear`` and
``layers.{i}.mlp.linear_1|linear_2`` (tracr's parameter names).

An export is two files written by ``models/tracr/export.py``: a safetensors
file with this module's state dict and a JSON file with the configuration
and the residual labels (:class:`~causalabs.network.tracr_config.TracrConfig`).
:func:`load_tracr` reads both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from causalabs.errors import NetworkFileError
from causalabs.network.tracr_config import TracrConfig, split_label

__all__ = [
    "TracrAttention",
    "TracrConfig",
    "TracrEmbedding",
    "TracrLayer",
    "TracrMLP",
    "TracrOutput",
    "TracrTransformer",
    "load_tracr",
    "split_label",
    "state_dict_from_tracr",
    "writer_blocks",
]

#: Logit given to masked keys; the value tracr uses (``jnp.where(mask, logits, -1e30)``).
MASKED_LOGIT = -1e30


class TracrOutput(NamedTuple):
    """What :class:`TracrTransformer` returns; the names follow tracr's model output."""

    output: torch.Tensor  # (B, T, D) final residual stream (tracr: transformer_output)
    readout: torch.Tensor  # (B, T, K) the output feature's dimensions
    residuals: tuple[torch.Tensor, ...]  # after each block, 2 * num_layers of (B, T, D)
    layer_outputs: tuple[torch.Tensor, ...]  # each block's contribution, same shapes
    input_embeddings: torch.Tensor  # (B, T, D)


class TracrEmbedding(nn.Module):
    """Token embedding plus position embedding (tracr's ``token_embed`` and ``pos_embed``)."""

    def __init__(self, vocab_size: int, positions: int, width: int, device: Any = None) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab_size, width, device=device)
        self.position = nn.Embedding(positions, width, device=device)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(tokens.shape[-1], device=tokens.device)
        return self.token(tokens) + self.position(pos)


class TracrAttention(nn.Module):
    """tracr's multi-head attention block; returns ``(residual + delta, delta)``."""

    def __init__(
        self,
        width: int,
        num_heads: int,
        key_size: int,
        *,
        causal: bool = False,
        device: Any = None,
    ) -> None:
        super().__init__()
        self.num_heads, self.key_size, self.causal = num_heads, key_size, causal
        inner = num_heads * key_size
        self.query = nn.Linear(width, inner, device=device)
        self.key = nn.Linear(width, inner, device=device)
        self.value = nn.Linear(width, inner, device=device)
        self.linear = nn.Linear(inner, width, device=device)

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, _ = x.shape
        h, k = self.num_heads, self.key_size
        q = self.query(x).view(b, t, h, k)
        kk = self.key(x).view(b, t, h, k)
        v = self.value(x).view(b, t, h, k)
        logits = torch.einsum("bthd,bThd->bhtT", q, kk) / math.sqrt(k)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        if self.causal:
            tri = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()[None, None]
            mask = tri if mask is None else mask & tri
        if mask is not None:
            logits = logits.masked_fill(~mask, MASKED_LOGIT)
        weights = torch.softmax(logits, dim=-1)
        attn = torch.einsum("bhtT,bThd->bthd", weights, v).reshape(b, t, h * k)
        delta = self.linear(attn)
        return x + delta, delta

    @property
    def output_projection(self) -> nn.Linear:
        """The linear map that writes into the residual stream."""
        return self.linear


class TracrMLP(nn.Module):
    """tracr's MLP block ``linear_2(relu(linear_1(x)))``; returns ``(residual + delta, delta)``."""

    def __init__(self, width: int, hidden: int, device: Any = None) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(width, hidden, device=device)
        self.linear_2 = nn.Linear(hidden, width, device=device)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        delta = self.linear_2(torch.relu(self.linear_1(x)))
        return x + delta, delta

    @property
    def output_projection(self) -> nn.Linear:
        """The linear map that writes into the residual stream."""
        return self.linear_2


class TracrLayer(nn.Module):
    """One tracr layer: an attention block then an MLP block."""

    def __init__(self, config: TracrConfig, device: Any = None) -> None:
        super().__init__()
        w = config.width
        self.attn = TracrAttention(w, config.num_heads, config.key_size, causal=config.causal, device=device)
        self.mlp = TracrMLP(w, config.mlp_hidden_size, device=device)


class TracrTransformer(nn.Module):
    """A tracr-compiled transformer in plain torch: ``forward(tokens) -> TracrOutput``.

    ``tokens`` is a (B, T) LongTensor of input ids (BOS first, as tracr's
    input encoder gives them).  Keys holding the pad token are masked out of
    every attention, which is what tracr's ``CompiledTransformerModel`` does
    when it is given a pad token; positions holding pads still compute
    (their values are simply never read by real positions).
    """

    def __init__(self, config: TracrConfig, device: Any = None) -> None:
        super().__init__()
        self.config = config
        self.embed = TracrEmbedding(
            len(config.input_tokens),
            config.max_seq_len + 1,
            config.width,
            device=device,
        )
        layers = [TracrLayer(config, device=device) for _ in range(config.num_layers)]
        self.layers = nn.ModuleList(layers)
        self._layers = layers  # a typed view of the same modules
        self.register_buffer(
            "output_dims",
            torch.tensor(config.output_dims, dtype=torch.long, device=device),
            persistent=False,
        )

    def blocks(self) -> list[tuple[str, TracrAttention | TracrMLP]]:
        """``(module path, block)`` for every block in order: ``layers.0.attn``, ``layers.0.mlp``, ..."""
        out: list[tuple[str, TracrAttention | TracrMLP]] = []
        for i, layer in enumerate(self._layers):
            out += [(f"layers.{i}.attn", layer.attn), (f"layers.{i}.mlp", layer.mlp)]
        return out

    def causalabs_suffix(self, path: str, io: str) -> Callable[[torch.Tensor, Any], TracrOutput] | None:
        """The run from the residual stream after ``path`` (``embed`` or a block, output) to the output.

        The opt-in of :mod:`causalabs.network.suffix`: ``run(h, tokens)``
        runs the blocks after the site on ``h`` (keys masked from ``tokens``
        as in :meth:`forward`).  Its ``residuals`` and ``layer_outputs`` hold
        the blocks it ran only; the read-out and the final residual are whole.
        """
        names = ["embed"] + [p for p, _ in self.blocks()]
        if io != "output" or path not in names:
            return None
        rest = [b for _, b in self.blocks()][names.index(path):]

        def run(h: torch.Tensor, tokens: Any) -> TracrOutput:
            pad = self.config.pad_id
            key_mask = None if pad is None else tokens != pad
            x, residuals, deltas = h, [], []
            for block in rest:
                x, d = block(x, key_mask) if isinstance(block, TracrAttention) else block(x)
                residuals.append(x)
                deltas.append(d)
            readout = x.index_select(-1, self.output_dims.to(x.device))
            return TracrOutput(x, readout, tuple(residuals), tuple(deltas), h)

        return run

    def forward(self, tokens: torch.Tensor) -> TracrOutput:
        if tokens.ndim != 2:
            raise ValueError(
                f"{self.config.name}: tokens must be (batch, seq), got shape {tuple(tokens.shape)}"
            )
        pad = self.config.pad_id
        key_mask = None if pad is None else tokens != pad
        x = self.embed(tokens)
        emb = x
        residuals, deltas = [], []
        for layer in self._layers:
            x, d = layer.attn(x, key_mask)
            residuals.append(x)
            deltas.append(d)
            x, d = layer.mlp(x)
            residuals.append(x)
            deltas.append(d)
        readout = x.index_select(-1, self.output_dims.to(x.device))
        return TracrOutput(x, readout, tuple(residuals), tuple(deltas), emb)


def writer_blocks(module: TracrTransformer, feature: str) -> tuple[str, ...]:
    """Module paths of the blocks whose output weights write any dimension of ``feature``, in order.

    The first is where the feature appears in the residual stream (a
    selector width's attention output is written by its attention block and
    cleaned again by its MLP block, so it has two writers).
    """
    dims = list(module.config.units(feature))
    out = []
    for path, block in module.blocks():
        proj = block.output_projection
        if bool((proj.weight[dims].abs().sum() + proj.bias[dims].abs().sum()) > 0):
            out.append(path)
    return tuple(out)


def load_tracr(weights: str | Path, config: str | Path | TracrConfig) -> TracrTransformer:
    """A :class:`TracrTransformer` with the weights of an export (safetensors + JSON config)."""
    cfg = config if isinstance(config, TracrConfig) else TracrConfig.from_json(config)
    p = Path(weights)
    if not p.is_file():
        raise NetworkFileError(f"{p}: tracr weights missing; run models/tracr/export.py in .venv-tracr")
    state = load_file(str(p))
    module = TracrTransformer(cfg, device="meta")
    result = module.load_state_dict(state, strict=False, assign=True)
    if result.missing_keys or result.unexpected_keys:
        raise NetworkFileError(
            f"{p}: weights do not fit the tracr export {cfg.name!r}: missing {result.missing_keys}, "
            f"unexpected {result.unexpected_keys}"
        )
    module.output_dims = torch.tensor(cfg.output_dims, dtype=torch.long)
    return module.eval()


def state_dict_from_tracr(
    params: Mapping[str, Mapping[str, Any]], num_layers: int
) -> dict[str, torch.Tensor]:
    """tracr's Haiku params (``transformer/layer_0/attn/query`` -> ``{"w", "b"}``) as this module's state dict.

    Haiku stores a linear map as ``w`` of shape (in, out); torch as (out, in).
    """

    def t(x: Any) -> torch.Tensor:
        return torch.tensor(np.array(x, dtype=np.float32))

    state = {
        "embed.token.weight": t(params["token_embed"]["embeddings"]),
        "embed.position.weight": t(params["pos_embed"]["embeddings"]),
    }
    names: Sequence[tuple[str, str]] = (
        ("attn/query", "attn.query"),
        ("attn/key", "attn.key"),
        ("attn/value", "attn.value"),
        ("attn/linear", "attn.linear"),
        ("mlp/linear_1", "mlp.linear_1"),
        ("mlp/linear_2", "mlp.linear_2"),
    )
    for i in range(num_layers):
        for src, dst in names:
            p = params[f"transformer/layer_{i}/{src}"]
            state[f"layers.{i}.{dst}.weight"] = t(p["w"]).T.contiguous()
            state[f"layers.{i}.{dst}.bias"] = t(p["b"])
    return state
