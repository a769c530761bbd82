"""Causal-scrubbing throughput relative to a plain forward pass on the same batch.

Run: ``python benchmarks/bench_scrub.py [--repeat R] [--batch B]``.  Prints
one JSON line per case:

    {"bench": "scrub", "network": ..., "batch": B, "claimed": k, "passes": p,
     "forward_ms": ..., "scrub_ms": ..., "forward_refs_per_s": ...,
     "scrub_refs_per_s": ..., "ratio": ..., "target": 1 / (k + 1), "met": ...}

``scrub_ms`` is one batch of ``B`` references through
``causalabs.scrub.resampling.scrubbed_outputs`` (agreeing-input sampling plus
every partial and patched pass, on the dataset encoded once and with one
random generator, as ``scrub`` does); ``forward_ms`` is a plain encoded forward
of ``B`` dataset inputs.  ``ratio = scrub throughput / forward throughput``
(references per second over inputs per second); the issue's target is at
least ``1 / (claimed nodes + 1)``.  Cases: the trained hierarchical-
equality MLP (``models/heq_trained.py``, its DAS alignment) and a wider
random MLP (16 -> 6 x 1024 -> 2) with ``left``/``right`` on the two halves
of layer 3 and ``out`` claimed too (three claimed nodes, two levels).
Medians of ``--repeat`` alternating rounds after warm-up, one thread.

A script, not a test: timings belong in benchmarks, never in assertions.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from causalabs import run
from causalabs.backends.native import NativeBackend
from causalabs.loading import load_hypothesis, load_module
from causalabs.network import Network, argmax_decoder, encode, load_network, site
from causalabs.scrub import correspondence
from causalabs.scrub.plan import ScrubPlan
from causalabs.scrub.sampling import AgreeingSampler
from causalabs.scrub.resampling import encoded_once, scrubbed_outputs

ROOT = Path(__file__).resolve().parents[1]


def _wide_mlp(objects: torch.Tensor) -> Network:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(16, 1024), nn.ReLU()]
    for _ in range(5):
        layers += [nn.Linear(1024, 1024), nn.ReLU()]
    module = nn.Sequential(*layers, nn.Linear(1024, 2)).eval()
    table = objects.float()

    def enc(batch: dict[str, np.ndarray]) -> torch.Tensor:
        return torch.cat([table[torch.as_tensor(batch[k])] for k in "wxyz"], dim=1)

    return Network(module, enc, argmax_decoder((0, 1)), name="mlp-6x1024")


def case(name: str, network: Network, hyp: Any, sites: dict[str, Any], data: dict[str, np.ndarray], batch: int, repeat: int) -> dict[str, Any]:
    corr = correspondence(hyp, sites)
    plan = ScrubPlan(corr)
    model = corr.model
    n_data = len(data["w"])
    sampler = AgreeingSampler(model, run(model, data), n_data)
    backend = NativeBackend()
    refs = np.arange(batch) % n_data
    plain = {k: v[refs] for k, v in data.items()}

    fast, table = encoded_once(network, data)  # once per scrub() call, not per batch
    rng = np.random.default_rng(0)  # once per scrub() call too: batches draw from one generator

    def scrub_once() -> None:
        scrubbed_outputs(fast, plan, sampler, table, refs, rng, backend)

    def forward_once() -> None:
        with torch.no_grad():
            network.call(network.module, encode(network, plain))

    for _ in range(3):
        scrub_once()
        forward_once()
    t_s, t_f = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        forward_once()
        t1 = time.perf_counter()
        scrub_once()
        t2 = time.perf_counter()
        t_f.append(t1 - t0)
        t_s.append(t2 - t1)
    f, s = statistics.median(t_f), statistics.median(t_s)
    k = len(corr.claimed)
    ratio = (batch / s) / (batch / f)
    return {
        "bench": "scrub",
        "network": name,
        "batch": batch,
        "claimed": k,
        "passes": plan.passes,
        "forward_ms": round(f * 1e3, 4),
        "scrub_ms": round(s * 1e3, 4),
        "forward_refs_per_s": round(batch / f, 1),
        "scrub_refs_per_s": round(batch / s, 1),
        "ratio": round(ratio, 4),
        "target": round(1 / (k + 1), 4),
        "met": ratio >= 1 / (k + 1),
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    trained_path = ROOT / "models" / "heq_trained.py"
    mod = load_module(trained_path)
    net = load_network(trained_path)
    hyp = load_hypothesis(f"{ROOT / 'hypotheses' / 'heq_pool.py'}:HierarchicalEqualityPool")
    data = mod.balanced_inputs(2_000, 123)
    align = mod.alignment()
    print(json.dumps(case("heq_trained", net, hyp, dict(align.sites), data, args.batch, args.repeat)), flush=True)
    wide = _wide_mlp(mod.make_objects())
    sites = {"left": site("6", units=range(512)), "right": site("6", units=range(512, 1024)), "out": site("12")}
    print(json.dumps(case("mlp-6x1024", wide, hyp, sites, data, args.batch, args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
