"""Hand-built and seeded networks for the engine tests (no downloads, no training).

* :func:`heq_network` -- an MLP for hierarchical equality on one-hot inputs
  (16 dims).  Hidden unit 0 of layer ``"2"`` holds ``left = (w == x)`` and
  unit 1 holds ``right = (y == z)``; the rest of the net computes
  ``left == right``.
* :func:`tiny_transformer` -- a seeded transformer-ish module with a
  ``(batch, seq, d)`` residual stream: token + position embedding, two
  pre-norm blocks (causal single-head attention and an MLP) and a head.  The
  blocks return ``(hidden, attention)`` tuples, as older Hugging Face blocks
  do, so sites on them exercise the tuple path of the hooks.
* small misbehaving networks for the error tests.

Every network here is a pure function of its seed: two calls build
bit-identical parameters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from causalabs.loading import load_module
from causalabs.network import Decoded, Network, argmax_decoder

ROOT = Path(__file__).resolve().parents[1]

#: Sequence length and vocabulary of the tiny transformer.
SEQ = 6
VOCAB = 11
TOKENS = tuple(f"t{i}" for i in range(SEQ))


def heq_hypotheses() -> Any:
    """The module ``hypotheses/hierarchical_equality.py`` (loaded by path)."""
    return load_module(ROOT / "hypotheses" / "hierarchical_equality.py")


# --- hierarchical equality, by hand --------------------------------------------


def heq_module() -> nn.Sequential:
    """``Linear(16, 8) ReLU Linear(8, 2) ReLU Linear(2, 2) ReLU Linear(2, 2)`` with hand-set weights.

    Layer ``"0"`` unit ``v`` (v < 4) fires when w == x == v, unit ``4 + v``
    when y == z == v; layer ``"2"`` sums them into left (unit 0) and right
    (unit 1); the last two layers compute the logits of ``left == right``.
    """
    l1, l2, l3, l4 = nn.Linear(16, 8), nn.Linear(8, 2), nn.Linear(2, 2), nn.Linear(2, 2)
    with torch.no_grad():
        l1.weight.zero_()
        l1.bias.fill_(-1.0)
        for v in range(4):
            l1.weight[v, 0 * 4 + v] = 1
            l1.weight[v, 1 * 4 + v] = 1
            l1.weight[4 + v, 2 * 4 + v] = 1
            l1.weight[4 + v, 3 * 4 + v] = 1
        l2.weight.zero_()
        l2.bias.zero_()
        l2.weight[0, :4] = 1
        l2.weight[1, 4:] = 1
        l3.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
        l3.bias.zero_()
        l4.weight.copy_(torch.tensor([[2.0, 2.0], [-2.0, -2.0]]))
        l4.bias.copy_(torch.tensor([0.0, 1.0]))
    return nn.Sequential(l1, nn.ReLU(), l2, nn.ReLU(), l3, nn.ReLU(), l4).eval()


def heq_encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
    """One-hot ``w, x, y, z`` (each in range(4)) side by side: (n, 16) float32."""
    eye = np.eye(4, dtype=np.float32)
    return torch.from_numpy(np.concatenate([eye[np.asarray(batch[k])] for k in "wxyz"], axis=1))


def heq_network() -> Network:
    """The hand-built hierarchical-equality network (output class 1 means "equal")."""
    return Network(heq_module(), heq_encode, argmax_decoder((0, 1)), name="heq_handbuilt")


# --- a tiny transformer ---------------------------------------------------------


class Block(nn.Module):
    """Pre-norm block: causal single-head attention and an MLP, both residual.

    Returns ``(hidden, attention_weights)`` like older Hugging Face blocks.
    """

    def __init__(self, d: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The attention branch: (what it adds to the stream, attention weights)."""
        t = x.shape[1]
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        att = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        return self.proj(att @ v), att

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, att = self.attend(x)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return x, att


class TinyTransformer(nn.Module):
    """Embedding, two blocks and a head over a ``(batch, seq, d)`` residual stream."""

    def __init__(self, d: int = 32, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Embedding(VOCAB, d)
        self.pos = nn.Embedding(SEQ, d)
        self.blocks = nn.ModuleList([Block(d), Block(d)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB)

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """The residual stream before the first block."""
        return self.embed(tokens) + self.pos(torch.arange(tokens.shape[1], device=tokens.device))

    def unembed(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every position from the residual stream after the last block."""
        return self.head(self.ln_f(x))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(tokens)
        for block in self.blocks:
            x, _ = block(x)
        return self.unembed(x)


def token_encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
    """Columns ``t0..t5`` of the batch as an (n, SEQ) LongTensor of token ids."""
    return torch.from_numpy(np.stack([np.asarray(batch[k], dtype=np.int64) for k in TOKENS], axis=1))


def last_token_decode(out: torch.Tensor) -> Decoded:
    """Value = argmax of the last position's logits."""
    logits = out[:, -1, :]
    return Decoded(logits.argmax(-1), logits, tuple(range(logits.shape[-1])))


def tiny_transformer(seed: int = 0, d: int = 32) -> Network:
    """The seeded tiny transformer as a :class:`Network` over batches of ``t0..t5``."""
    module = TinyTransformer(d, seed).eval()
    return Network(module, token_encode, last_token_decode, name="tiny_transformer")


def token_batch(rows: Any) -> dict[str, np.ndarray]:
    """A batch ``{t0..t5: (n,)}`` from an (n, SEQ) array-like of token ids."""
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, SEQ)
    return {k: np.ascontiguousarray(arr[:, j]) for j, k in enumerate(TOKENS)}


# --- misbehaving networks -------------------------------------------------------


class SqrtLayer(nn.Module):
    """``sqrt(x)``: NaN wherever the input is negative."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x)


def nan_network() -> Network:
    """The heq MLP with a ``sqrt`` after layer ``"0"`` (pre-ReLU, so some units are NaN)."""
    m = heq_module()
    module = nn.Sequential(m[0], SqrtLayer(), *list(m)[1:]).eval()
    return Network(module, heq_encode, argmax_decoder((0, 1)), name="nan_net")


def short_encode_network() -> Network:
    """The heq MLP whose ``encode`` drops the last row of every batch."""
    return Network(heq_module(), lambda b: heq_encode(b)[:-1], argmax_decoder((0, 1)), name="short_encoder")


class DictLayer(nn.Module):
    """Returns a dict, which no site can read."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"x": x}


class Unwrap(nn.Module):
    def forward(self, d: dict[str, torch.Tensor]) -> torch.Tensor:
        return d["x"]


def dict_network() -> Network:
    """The heq MLP with a layer (``"1"``) that returns a dict."""
    m = heq_module()
    module = nn.Sequential(m[0], DictLayer(), Unwrap(), *list(m)[1:]).eval()
    return Network(module, heq_encode, argmax_decoder((0, 1)), name="dict_net")


def inplace_network(seed: int = 0) -> Network:
    """A seeded MLP with in-place ReLUs: a later in-place op must not change recorded vectors."""
    torch.manual_seed(seed)
    module = nn.Sequential(
        nn.Linear(16, 8), nn.ReLU(inplace=True), nn.Linear(8, 8), nn.ReLU(inplace=True), nn.Linear(8, 2)
    ).eval()
    return Network(module, heq_encode, argmax_decoder((0, 1)), name="inplace_mlp")


def wide_mlp(seed: int = 0) -> Network:
    """A seeded MLP ``16 -> 128 -> 64 -> 2`` over the heq encoding.

    Wide enough that BLAS picks different kernels for one row and for many
    (so its rows are not bitwise equal across batch sizes).
    """
    torch.manual_seed(seed)
    module = nn.Sequential(
        nn.Linear(16, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 2)
    ).eval()
    return Network(module, heq_encode, argmax_decoder((0, 1)), name="wide_mlp")


def all_heq_inputs() -> dict[str, np.ndarray]:
    """All 256 inputs of hierarchical equality, lexicographic in (w, x, y, z)."""
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 4, indexing="ij"), axis=-1).reshape(-1, 4)
    return {k: np.ascontiguousarray(grid[:, j]) for j, k in enumerate("wxyz")}
