"""Shared by the engine's property tests: the seeded networks, the sites under test, the example budgets
and the batch strategies (not a test module).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from _nets import SEQ, VOCAB, tiny_transformer, token_batch, wide_mlp
from hypothesis import settings
from hypothesis import strategies as st

from causalabs.backends.native import NativeBackend
from causalabs.network import Network, Rotation, Site, random_rotation, site

BE = NativeBackend()
MLP = wide_mlp(0)
TT = tiny_transformer(0)
ROT64 = Rotation(random_rotation(64, seed=1))
ROT32 = Rotation(random_rotation(32, seed=2))
ATOL = 1e-6

#: Example budgets as fractions of the active profile (``--hypothesis-profile thorough`` scales them up).
HALF = settings(max_examples=max(5, settings.default.max_examples // 2))
QUARTER = settings(max_examples=max(4, settings.default.max_examples // 4))


# --- strategies -------------------------------------------------------------------


def _batch(net: Network, rows: list[tuple[int, ...]]) -> dict[str, np.ndarray]:
    if net is TT:
        return token_batch(rows)
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
    return {k: np.ascontiguousarray(arr[:, j]) for j, k in enumerate("wxyz")}


def _row(net: Network) -> st.SearchStrategy[tuple[int, ...]]:
    if net is TT:
        return st.tuples(*[st.integers(0, VOCAB - 1)] * SEQ)
    return st.tuples(*[st.integers(0, 3)] * 4)


@st.composite
def batches(draw: Any, net: Network, k: int = 1, max_n: int = 6) -> list[dict[str, np.ndarray]]:
    """``k + 1`` batches of one length (a base and k sources), drawn from a small pool so rows repeat."""
    pool = draw(st.lists(_row(net), min_size=1, max_size=4))
    n = draw(st.integers(1, max_n))
    out = []
    for _ in range(k + 1):
        idx = draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n))
        out.append(_batch(net, [pool[i] for i in idx]))
    return out


def plain(net: Network, batch: dict[str, np.ndarray]) -> torch.Tensor:
    with torch.no_grad():
        return net.module(net.encode(batch))


def decisions(net: Network, out: torch.Tensor) -> torch.Tensor:
    return net.decode(out).values


def first_token_pos(batch: dict[str, np.ndarray]) -> np.ndarray:
    """Per-example position: the first token's id modulo the length."""
    return np.asarray(batch["t0"]) % SEQ


def two_pos(batch: dict[str, np.ndarray]) -> np.ndarray:
    """Two distinct per-example positions, the second given as a negative index."""
    return np.stack([np.asarray(batch["t0"]) % 3, 3 + np.asarray(batch["t1"]) % 3 - SEQ], axis=1)


CASES: list[tuple[Network, Site]] = [
    (MLP, site("0")),
    (MLP, site("2", units=[1, 5, 63])),
    (MLP, site("2", units=[-1, 0])),
    (MLP, site("2", featurizer=ROT64, dims=(3, 9))),
    (MLP, site("2", io="input")),
    (MLP, site("4", io="input", units=range(0, 64, 2))),
    (TT, site("blocks.0")),
    (TT, site("blocks.1", io="input", positions=(2,))),
    (TT, site("blocks.0", positions=(-1, 1), units=[0, 3])),
    (TT, site("blocks.1.mlp", featurizer=ROT32, dims=(0, 8), positions=first_token_pos)),
    (TT, site("ln_f", positions=two_pos)),
]
IDS = [f"{net.name}:{s.name}" for net, s in CASES]
