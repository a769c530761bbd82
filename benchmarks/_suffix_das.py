"""DAS epoch time on cached site activations vs the full-network step (for bench_suffix.py).

One GPT-2-sized network, a site at 3/4 depth at the last token, pairs drawn
from a pool of 16 prompts; the counterfactual target is the parity of the
source's last token (a timing and agreement check, not a mechanism).  Both
fits see the same batches; the line gives one epoch's seconds on each path
(the time between the ends of epochs 1 and 2, so the one-off prefix
recording is outside it), the ratio, and each alignment's IIA on held-out
pairs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from causalabs.align.das import fit_das
from causalabs.engine import evaluate_pairs
from causalabs.network import Network, site


def _pairs(names: tuple[str, ...], n: int, seed: int) -> Any:
    from bench_engine import Pairs

    rng = np.random.default_rng(seed)
    table = np.unique(rng.integers(0, 1000, (32, len(names))), axis=0)[:16]
    rows_b, rows_s = table[rng.integers(0, len(table), n)], table[rng.integers(0, len(table), n)]
    as_batch = lambda rows: {k: np.ascontiguousarray(rows[:, j]) for j, k in enumerate(names)}  # noqa: E731
    return Pairs(as_batch(rows_b), {"v": as_batch(rows_s)}, rows_s[:, -1] % 2, rows_b[:, -1] % 2, digest=f"bench-{seed}")


def das_cases(net: Network, *, repeat: int = 1, pairs: int = 128, batch: int = 32) -> list[dict[str, Any]]:
    names = net.info["names"]
    layers = len(net.module.transformer.h)
    layer = (3 * layers) // 4 - 1
    loc = site(f"transformer.h.{layer}", positions=(-1,))
    train, test = [_pairs(names, pairs, 1)], _pairs(names, pairs, 2)
    out: dict[str, Any] = {}
    for label, suffix in (("suffix", True), ("full", False)):
        epochs: list[float] = []
        for _ in range(repeat):
            marks = [time.perf_counter()]
            res = fit_das(net, loc, {"v": 4}, train, epochs=2, batch_size=batch, patience=None, seed=0, suffix=suffix,
                          progress=lambda e, n, loss: marks.append(time.perf_counter()))
            epochs.append(marks[2] - marks[1])
        with torch.no_grad():
            iia = float(np.mean(evaluate_pairs(net, res.alignment, test).correct))
        out[label] = {"epoch_s": round(min(epochs), 3), "heldout_iia": round(iia, 4), "basis": res.basis}
    diff = float((out["suffix"]["basis"] - out["full"]["basis"]).abs().max())
    return [{
        "bench": "suffix-das", "network": net.name, "site": loc.name, "depth": "3/4", "pairs": pairs, "batch": batch,
        "epoch_s_suffix": out["suffix"]["epoch_s"], "epoch_s_full": out["full"]["epoch_s"],
        "epoch_speedup": round(out["full"]["epoch_s"] / out["suffix"]["epoch_s"], 3),
        "heldout_iia_suffix": out["suffix"]["heldout_iia"], "heldout_iia_full": out["full"]["heldout_iia"],
        "basis_max_abs_diff": diff, "repeat": repeat,
        "target": {"epoch_speedup_min": 2.5, "heldout_iia_diff_max": 0.01},
        "met": bool(out["full"]["epoch_s"] / out["suffix"]["epoch_s"] >= 2.5
                    and abs(out["suffix"]["heldout_iia"] - out["full"]["heldout_iia"]) <= 0.01),
    }]
