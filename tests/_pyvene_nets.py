"""Shared by the pyvene tests: the seeded networks (an MLP and a tiny Hugging Face GPT-2), their fixtures,
batches and rotations (not a test module).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

pv = pytest.importorskip("pyvene")
transformers = pytest.importorskip("transformers")

from causalabs.loading import load_attr  # noqa: E402
from causalabs.network import (  # noqa: E402
    Decoded,
    Network,
    Rotation,
    argmax_decoder,
    random_rotation,
)

ROOT = Path(__file__).resolve().parent.parent
HE = load_attr(f"{ROOT / 'hypotheses' / 'hierarchical_equality.py'}:HierarchicalEquality")
NAMES = ("w", "x", "y", "z")
TOL = 1e-5
DEVICE = torch.device(os.environ.get("CAUSALABS_TEST_DEVICE", "cpu"))
#: Vocabulary ids whose last-position logits the GPT-2 decoder compares (classes 0 and 1).
ANSWER_IDS = (7, 11)


# --- networks -------------------------------------------------------------------------


def _stack(batch: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(batch[k]) for k in NAMES], axis=1)


def make_mlp(seed: int = 0) -> Network:
    """Four values in range(4) -> one-hot (16) -> 24 -> 24 -> 2 logits."""
    torch.manual_seed(seed)
    module = nn.Sequential(
        nn.Linear(16, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 2)
    ).eval()

    def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
        x = torch.as_tensor(_stack(batch))
        return nn.functional.one_hot(x, 4).flatten(1).float()

    return Network(module.to(DEVICE), encode, argmax_decoder((0, 1)), name="mlp")


def gpt2_decode(out: Any) -> Decoded:
    scores = out.logits[:, -1, list(ANSWER_IDS)]
    return Decoded(scores.argmax(-1), scores, (0, 1))


def make_gpt2(seed: int = 0) -> Network:
    """A 2-layer GPT-2 (d=32) reading the four values as tokens 20 + value."""
    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=2, vocab_size=50, n_positions=16, bos_token_id=0, eos_token_id=0
    )
    module = transformers.GPT2LMHeadModel(config).eval()

    def encode(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {"input_ids": torch.as_tensor(_stack(batch) + 20)}

    return Network(module.to(DEVICE), encode, gpt2_decode, name="gpt2")


def batch(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.integers(0, 4, n) for k in NAMES}


def logits(out: Any) -> torch.Tensor:
    return out.logits if hasattr(out, "logits") else out


def first_value(b: dict[str, np.ndarray]) -> np.ndarray:
    """A per-example position function: the position of token w's value (0..3)."""
    return np.asarray(b["w"]) % 4


R16 = Rotation(random_rotation(24, seed=3)).to(DEVICE)
R32 = Rotation(random_rotation(32, seed=4)).to(DEVICE)


def module_state(net: Network) -> tuple[list[bool], list[bool]]:
    return [m.training for m in net.module.modules()], [p.requires_grad for p in net.module.parameters()]
