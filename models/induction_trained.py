"""Trained induction: a 2-layer attention-only transformer that copies the token after the previous match.

Task (``hypotheses/induction.py``): 8 context tokens and a query token
``q`` at position 8 from a vocabulary of 16; ``q`` occurs exactly once in
the context, at a position ``p`` in ``0..6`` that varies per example; the
answer is the token at position ``p + 1``.  No fixed position holds the
answer, so a positional shortcut gets about 1/7 of it right.

====================  ==============================================================
module                role
====================  ==============================================================
``embed``, ``pos``    token and learned position embeddings (d = :data:`D_MODEL`)
``blocks.0``          attention layer 0 (pre-LayerNorm, :data:`HEADS` heads, residual)
``blocks.1``          attention layer 1
``blocks.L.attn.pattern``  identity on the attention pattern, shaped
                      ``(batch, query position, heads * key position)`` so a site
                      can read or patch one query position's pattern
``ln``, ``unembed``   final LayerNorm and the read-out at the query position
====================  ==============================================================

No MLPs.  :func:`encode` turns the compact inputs (``q``, ``p``,
``f0..f7``) into the 9 token ids; :func:`decode` reads the logits at the
query position.  Training (:func:`train`): fresh random sequences every step
from a seeded generator, AdamW, for at least :data:`MIN_STEPS` steps and
until the accuracy on a held-out batch (drawn from another seed) is at
least :data:`STOP`.

:func:`alignment` maps ``prev`` (the position of the previous occurrence)
to the whole pattern of layer 1 at the query position (all heads): if the
network does induction, patching that row from a source makes the base
copy the token after the *source's* match position.

Regenerate with ``python models/induction_trained.py --write``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping
from typing import Any

import _organism as org
import numpy as np
import torch
from torch import nn

from causalabs.network import Alignment, Decoded, Network, site

HYPOTHESES = "hypotheses/induction.py"
TASK = "induction: predict the token after the previous occurrence of the query token (offset varies)"
VOCAB = 16  # as in hypotheses/induction.py
CONTEXT = 8  # as in hypotheses/induction.py
SEQ = CONTEXT + 1  # context plus query
D_MODEL = 32
HEADS = 2
LAYERS = 2
SEED = 0
TARGET = 0.95
STOP = 0.99
BATCH = 128
LR = 3e-3
MIN_STEPS = 1_000  # keep training after the task is solved: the attention sharpens
MAX_STEPS = 12_000
EVAL_EVERY = 250
HELDOUT_ROWS = 4_000
Batch = dict[str, np.ndarray]
FILLERS = tuple(f"f{i}" for i in range(CONTEXT))


class Attention(nn.Module):
    """Causal multi-head self-attention; ``pattern`` is an identity hook point on the pattern."""

    def __init__(self, d: int, heads: int, device: str | torch.device = "meta") -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d, bias=False, device=device)
        self.out = nn.Linear(d, d, bias=False, device=device)
        self.pattern = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads
        q, k, v = self.qkv(x).view(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)  # each (b, h, t, dh)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        att = scores.masked_fill(mask, float("-inf")).softmax(-1)  # (b, h, t, t)
        att = self.pattern(att.transpose(1, 2).reshape(b, t, h * t)).reshape(b, t, h, t).transpose(1, 2)
        z = (att @ v).transpose(1, 2).reshape(b, t, d)
        return self.out(z)


class Block(nn.Module):
    """Pre-LayerNorm attention with a residual connection (no MLP)."""

    def __init__(self, d: int, heads: int, device: str | torch.device = "meta") -> None:
        super().__init__()
        self.ln = nn.LayerNorm(d, device=device)
        self.attn = Attention(d, heads, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attn(self.ln(x))


class AttentionOnly(nn.Module):
    """Token and position embeddings, attention-only blocks, final LayerNorm and unembedding."""

    def __init__(self, device: str | torch.device = "meta") -> None:
        super().__init__()
        # weights given, so building on the meta device skips the random init (slow on meta)
        self.embed = nn.Embedding(VOCAB, D_MODEL, _weight=torch.empty(VOCAB, D_MODEL, device=device))
        self.pos = nn.Embedding(SEQ, D_MODEL, _weight=torch.empty(SEQ, D_MODEL, device=device))
        self.blocks = nn.ModuleList([Block(D_MODEL, HEADS, device) for _ in range(LAYERS)])
        self.ln = nn.LayerNorm(D_MODEL, device=device)
        self.unembed = nn.Linear(D_MODEL, VOCAB, device=device)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits at every position, (batch, SEQ, VOCAB)."""
        x = self.embed(tokens) + self.pos.weight[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.unembed(self.ln(x))


def architecture(device: str | torch.device = "meta") -> AttentionOnly:
    """The module, without trained weights (on the meta device unless asked otherwise)."""
    return AttentionOnly(device)


def tokens_of(batch: Mapping[str, np.ndarray]) -> np.ndarray:
    """The (n, SEQ) token ids of compact inputs: fillers skip ``q``; ``q`` at ``p`` and at the query."""
    q = np.asarray(batch["q"], dtype=np.int64)
    p = np.asarray(batch["p"], dtype=np.int64)
    f = np.stack([np.asarray(batch[k], dtype=np.int64) for k in FILLERS], axis=1)
    toks = f + (f >= q[:, None])
    toks[np.arange(len(q)), p] = q
    return np.concatenate([toks, q[:, None]], axis=1)


def answers(batch: Mapping[str, np.ndarray]) -> np.ndarray:
    """The task's answer: the token at position ``p + 1``."""
    toks = tokens_of(batch)
    return toks[np.arange(len(toks)), np.asarray(batch["p"]) + 1]


def encode(batch: Mapping[str, np.ndarray]) -> torch.Tensor:
    """Token ids, a LongTensor (n, SEQ)."""
    return torch.from_numpy(tokens_of(batch))


def decode(out: torch.Tensor) -> Decoded:
    """The argmax token at the query (last) position, with its logits as scores."""
    logits = out[:, -1]
    return Decoded(logits.argmax(-1), logits, tuple(range(VOCAB)))


def random_inputs(n: int, seed: int | np.random.Generator) -> Batch:
    """``n`` uniform compact inputs (``q``, ``p``, ``f0..f7``)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    batch = {"q": rng.integers(0, VOCAB, n), "p": rng.integers(0, CONTEXT - 1, n)}
    batch.update({k: rng.integers(0, VOCAB - 1, n) for k in FILLERS})
    return {k: v.astype(np.int64) for k, v in batch.items()}


def heldout_inputs() -> Batch:
    """The held-out batch that judges training (its own seed; training draws from another)."""
    return random_inputs(HELDOUT_ROWS, SEED + 1_000)


@torch.no_grad()
def accuracy(module: nn.Module, batch: Mapping[str, np.ndarray]) -> float:
    """Fraction of rows on which ``module`` predicts the token after the previous occurrence."""
    return float(np.mean(decode(module(encode(batch))).values.numpy() == answers(batch)))


def train(seed: int = SEED, *, verbose: bool = False) -> tuple[AttentionOnly, dict[str, float]]:
    """Train from ``seed`` on one CPU thread; RuntimeError if held-out accuracy stays below TARGET."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        module = architecture("cpu")
        torch.manual_seed(seed)
        for m in module.modules():  # every initialisation comes from the seed, in module order
            if isinstance(m, (nn.Linear, nn.Embedding, nn.LayerNorm)):
                m.reset_parameters()
        rng = np.random.default_rng(seed)
        heldout = heldout_inputs()
        opt = torch.optim.AdamW(module.parameters(), lr=LR, weight_decay=0.01)
        metrics: dict[str, float] = {}
        for step in range(1, MAX_STEPS + 1):
            module.train()
            batch = random_inputs(BATCH, rng)
            logits = module(encode(batch))[:, -1]
            loss = nn.functional.cross_entropy(logits, torch.from_numpy(answers(batch)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % EVAL_EVERY == 0:
                module.eval()
                metrics = {"steps": float(step), "heldout_accuracy": accuracy(module, heldout)}
                if verbose:
                    print(f"step {step}: loss {loss.item():.4f} {metrics}", flush=True)
                if step >= MIN_STEPS and metrics["heldout_accuracy"] >= STOP:
                    break
        if metrics.get("heldout_accuracy", 0.0) < TARGET:
            raise RuntimeError(f"induction_trained: held-out accuracy {metrics} below {TARGET}")
        metrics["train_seconds"] = time.perf_counter() - start
        for p in module.parameters():
            p.requires_grad_(False)
        return module, metrics
    finally:
        torch.set_num_threads(threads)


def hypothesis(name: str = "Induction") -> Any:
    """A hypothesis class of ``hypotheses/induction.py``."""
    from causalabs.loading import load_hypothesis
    from causalabs.organisms import resolve_ref

    return load_hypothesis(resolve_ref(f"{HYPOTHESES}:{name}", __file__))


def alignment() -> Alignment:
    """``prev`` -> the attention pattern of layer 1 (all heads) at the query position."""
    return Alignment({"prev": site("blocks.1.attn.pattern", positions=(SEQ - 1,))})


def interchange_scores(network: Network, n: int = 2_000, seed: int = SEED + 2_000) -> dict[str, float]:
    """IIA of ``prev`` under :func:`alignment` for the correct hypothesis and both twins (random pairs)."""
    from causalabs.data import random_pairs
    from causalabs.engine.evaluate import evaluate_pairs

    scores = {}
    for name in ("Induction", "NextTokenCarried", "PositionalShortcut"):
        r = evaluate_pairs(network, alignment(), random_pairs(hypothesis(name), "prev", n, seed=seed))
        scores[f"iia_prev_{name}"] = float(np.mean(r.correct))
    return scores


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Train; the module state and string metadata (accuracy and interchange figures)."""
    module, metrics = train(SEED, verbose=True)
    network = Network(module, encode, decode, name="induction_trained")
    metrics["fresh_accuracy"] = accuracy(module, random_inputs(20_000, SEED + 3_000))
    scores = interchange_scores(network)
    print(f"trained: {metrics}; interchange on prev: {scores}", flush=True)
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    meta = {"organism": "induction_trained", "construction": f"trained, seed {SEED}"}
    meta.update({k: f"{v:.6g}" for k, v in {**metrics, **scores}.items() if k != "train_seconds"})
    return state, meta


def file_metadata() -> dict[str, str]:
    """The string metadata of the committed weights file."""
    return org.read_metadata(org.weights_path(__file__))


def load() -> Network:
    """The network with its committed weights and organism metadata."""
    module = org.load_module_state(architecture(), org.load_weights(org.weights_path(__file__)))
    meta = file_metadata()
    info = org.metadata(
        __file__,
        task=TASK,
        hypothesis=f"{HYPOTHESES}:Induction",
        wrong=[f"{HYPOTHESES}:NextTokenCarried", f"{HYPOTHESES}:PositionalShortcut"],
        alignment=alignment(),
        accuracy=float(meta.get("fresh_accuracy", "0")),
        description=(
            "trained 2-layer attention-only transformer (d=32, 2 heads); prev -> layer-1 attention "
            "pattern at the query position; accuracy measured on 20,000 fresh random sequences"
        ),
    )
    info["measured"] = meta
    return Network(module, encode, decode, name="induction_trained", info=info)


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
