"""Position-local suffix at the last token vs plain forwards (for bench_suffix.py).

A GPT-2-sized network read at the last token (``logits_to_keep=1``), a site
at the block 3/4 deep at the last position; ``pairs`` pairs drawn from a
pool of 16 prompts.  ``pairs_per_s`` is pairs evaluated per second on the
position-local path (distinct prompts' passes included);
``forwards_per_s`` is plain decoded forwards of the same prompts per second
(at the same batch); ``ratio`` divides the two.  The decisions of the first
``checked`` pairs are compared with the full patched path (every pair of
them must agree).
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.engine import evaluate_pairs
from causalabs.network import Alignment, Network, predict, site
from causalabs.network.hf import hf_network


def _best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def local_cases(net: Network, *, repeat: int = 3, pairs: int = 2048, checked: int = 128, batch: int = 64) -> list[dict[str, Any]]:
    from _suffix_das import _pairs

    names = net.info["names"]
    encode = net.encode.__wrapped__
    lm = hf_network(net.module, lambda b: encode(b)["input_ids"], net.decode.__wrapped__, name=net.name + "-last", logits_to_keep=1)
    lm = attrs.evolve(lm, info={**lm.info, "names": names})
    layers = len(net.module.transformer.h)
    s = site(f"transformer.h.{(3 * layers) // 4 - 1}", positions=(-1,))
    align = Alignment({"v": s})
    data = _pairs(names, pairs, 3)
    small = _pairs(names, checked, 3)
    fast = evaluate_pairs(lm, align, small, batch_size=batch, soft=False)
    full = evaluate_pairs(lm, align, small, batch_size=batch, soft=False, suffix=False)
    prompts = {k: v[:batch] for k, v in data.base.items()}
    with torch.no_grad():
        t_fwd = _best(lambda: predict(lm, prompts), repeat) / batch
        t_pairs = _best(lambda: evaluate_pairs(lm, align, data, batch_size=batch, soft=False), repeat) / pairs
    return [{
        "bench": "suffix-local", "network": net.name, "site": s.name, "depth": "3/4", "pairs": pairs, "batch": batch,
        "pool_size": 16, "execution": fast.execution, "checked_pairs": checked,
        "same_decisions": bool(np.array_equal(fast.predicted, full.predicted)),
        "forwards_per_s": round(1 / t_fwd, 2), "pairs_per_s": round(1 / t_pairs, 2),
        "ratio": round(t_fwd / t_pairs, 2), "repeat": repeat,
        "target": {"ratio_min": 30}, "met": bool(t_fwd / t_pairs >= 30 and np.array_equal(fast.predicted, full.predicted)),
    }]
