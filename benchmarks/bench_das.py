"""DAS (distributed alignment search): causalabs ``fit_das`` against the same run done with pyvene.

Run: ``python benchmarks/bench_das.py [--repeat R] [--epochs E] [--profile]``.
Prints JSON lines; the result line is

    {"bench": "das", "case": "heq_trained layer 1, left 8 + right 8", "causalabs_s": ..., "pyvene_s": ...,
     "speedup": ..., "iia_causalabs": ..., "iia_pyvene": ..., "iia_diff": ...,
     "step_ratio_causalabs": ..., "step_ratio_pyvene": ..., "targets": {...}, "met": bool, ...}

Network: ``models/heq_trained.py`` (the DAS paper's hierarchical-equality MLP,
16 -> 3 x 16 ReLU -> 2); location: the output of module ``"1"`` (first
hidden layer, width 16); ``left`` on rotated coordinates [0:8], ``right``
on [8:16] (``HierarchicalEqualityPool``).  Training data: the organism's
own DAS data (``heq_trained.das_datasets(10, 20)``: counterfactual datasets
for ``left``, ``right`` and both, 4,000 pairs each); held-out data:
``das_datasets(30, 40, n=2000)``.

Both runs use the same data, the same batches in the same order (the
schedule of ``fit_das``: every batch from one dataset, seeded numpy
permutations), the same initial rotation (``LearnedRotation(16, seed=0)``),
``--epochs`` epochs (default 5), batch 64, Adam at lr 1e-2, and cross-entropy
of the intervened logits against the counterfactual label.

* causalabs: ``causalabs.align.das.fit_das``, timed end to end, as it runs
  by default (its fast MLP path applies to this network); the ``autograd``
  entry of the result line is the same fit with ``fast_mlp=False``.
* pyvene: a standard pyvene DAS loop.  An ``IntervenableModel`` with two
  ``RotatedSpaceIntervention`` representations at the same component
  (``net.1.output``; the network is wrapped as in
  ``causalabs.backends.pyvene_interop``), sharing one ``RotateLayer`` (so
  there is one rotation, as in causalabs); a batch on ``left`` passes
  ``sources=[src, None]`` and ``subspaces=[[0..7] * n, None]``, one on
  ``right`` ``[None, src]``, one on both ``[src_l, src_r]``; then
  ``loss.backward()`` and ``Adam.step()``.  The inputs are encoded to
  tensors once before the loop (as pyvene's tutorials do), which only
  helps pyvene.  Timed from building the model to the last step.

IIA: the fraction of held-out pairs (all three datasets pooled) on which
the intervened network gives the counterfactual output, computed by
``causalabs.engine.evaluate_pairs`` (native backend) for both rotations;
pyvene's is imported with ``pyvene_interop.from_pyvene_rotation``, and
``iia_pyvene_own`` recomputes it through pyvene's own forward
(``evaluate_pairs(..., backend="pyvene")``) as a cross-check.

Step cost at batch 1: ``fit_das`` (and the pyvene loop) run with batch size
1 on 3 x ``STEP_ROWS`` pairs for ``STEP_EPOCHS`` epochs; the time between the
end of the first and the end of the last epoch (``fit_das``'s ``progress``
callback) divided by the number of steps in between is one training step.
A plain forward is ``network.call(network.module, x)`` on one encoded input
under ``torch.no_grad()`` (median of many calls).  ``step_ratio_* = step /
forward``.  The step and forward measurements alternate over ``--repeat``
rounds; ratios are taken within each round and the median is reported.

Targets (the issue): ``|iia_diff| <= 0.02``, ``causalabs_s <= pyvene_s / 3``
and ``step_ratio_causalabs <= 5``.  One thread; timings are medians.

``--profile`` adds ``"bench": "das-profile"`` lines: where one causalabs
batch-1 training step spends its time (cProfile, per step).

A script, not a test: timings belong in benchmarks, never in assertions.
The case (site, dims, hyper-parameters, targets) is in ``_das_case.py``, the
pyvene loop in ``_das_pyvene.py``, the batch-1 step cost in ``_das_steps.py``.
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"  # one core: set before numpy / torch are imported

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import heq_trained
from _das_case import BATCH, CASE, DIMS, LR, SEED, SITE, STEP_ROWS, TARGETS
from _das_pyvene import pyvene_alignment, pyvene_das
from _das_steps import causalabs_step_seconds, forward_seconds, gpt2_step_case, profile_step, pyvene_step_seconds

from causalabs.align.das import fit_das
from causalabs.engine import evaluate_pairs
from causalabs.network import Alignment, Network, Site


def iia(
    network: Network, alignment: Alignment, datasets: list[Any], backend: str = "native"
) -> dict[str, float]:
    out, correct, total = {}, 0, 0
    for ds in datasets:
        r = evaluate_pairs(network, alignment, ds, backend=backend)
        out["+".join(ds.intervened)] = float(np.mean(r.correct))
        correct += int(np.sum(r.correct))
        total += len(r.correct)
    out["all"] = correct / total
    return out


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=5, help="rounds of the batch-1 step measurement"
    )
    parser.add_argument("--epochs", type=int, default=heq_trained.DAS_EPOCHS)
    parser.add_argument(
        "--profile", action="store_true", help="also profile a causalabs batch-1 step"
    )
    parser.add_argument(
        "--no-gpt2", action="store_true", help="skip the GPT-2 batch-1 step-cost line"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    network = heq_trained.load()
    train = heq_trained.das_datasets(SEED + 10, SEED + 20)
    heldout = heq_trained.das_datasets(SEED + 30, SEED + 40, n=2_000)
    small = heq_trained.das_datasets(SEED + 50, SEED + 60, n=STEP_ROWS)
    print(
        json.dumps(
            {
                "bench": "das-setup",
                "torch": torch.__version__,
                "python": platform.python_version(),
                "threads": torch.get_num_threads(),
                "device": str(network.device),
                "case": CASE,
                "train_pairs": [len(ds.expected) for ds in train],
                "heldout_pairs": [len(ds.expected) for ds in heldout],
                "epochs": args.epochs,
                "batch": BATCH,
                "lr": LR,
                "targets": TARGETS,
            }
        ),
        flush=True,
    )

    # warm-up (imports, first-call costs) on the small data, both sides
    fit_das(
        network, Site(SITE), DIMS, small, epochs=1, batch_size=BATCH, lr=LR, patience=None, seed=SEED
    )
    pyvene_das(network, small, epochs=1, batch_size=BATCH, lr=LR, seed=SEED)
    fit_das(network, Site(SITE), DIMS, small, epochs=1, batch_size=BATCH, lr=LR, patience=None, seed=SEED, fast_mlp=False)

    t0 = time.perf_counter()
    slow = fit_das(
        network, Site(SITE), DIMS, train, epochs=args.epochs, batch_size=BATCH, lr=LR, patience=None, seed=SEED,
        fast_mlp=False,
    )
    slow_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = fit_das(
        network,
        Site(SITE),
        DIMS,
        train,
        epochs=args.epochs,
        batch_size=BATCH,
        lr=LR,
        patience=None,
        seed=SEED,
    )
    causalabs_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    iv, pv_losses = pyvene_das(
        network, train, epochs=args.epochs, batch_size=BATCH, lr=LR, seed=SEED
    )
    pyvene_s = time.perf_counter() - t0

    iia_c = iia(network, Alignment(result.alignment.sites), heldout)
    iia_s = iia(network, Alignment(slow.alignment.sites), heldout)
    pv_align = pyvene_alignment(iv)
    iia_p = iia(network, pv_align, heldout)
    iia_p_own = iia(network, pv_align, heldout, backend="pyvene")

    x1 = network.encode({k: np.asarray(v)[:1] for k, v in train[0].base.items()})
    rounds = []
    for _ in range(args.repeat):
        fwd_a = forward_seconds(network, x1)
        c_step = causalabs_step_seconds(network, small)
        p_step = pyvene_step_seconds(network, small)
        f_step = causalabs_step_seconds(network, small, fast_mlp=False)
        fwd_b = forward_seconds(network, x1)
        fwd = (fwd_a + fwd_b) / 2
        rounds.append((fwd, c_step, p_step, c_step / fwd, p_step / fwd, f_step, f_step / fwd))
    med = [statistics.median(r[i] for r in rounds) for i in range(7)]

    speedup = pyvene_s / causalabs_s
    diff = iia_c["all"] - iia_p["all"]
    met = {
        "iia": abs(diff) <= TARGETS["iia_diff_max"],
        "speedup": speedup >= TARGETS["speedup_min"],
        "step_ratio": med[3] <= TARGETS["step_ratio_causalabs_max"],
    }
    line = {
        "bench": "das",
        "case": CASE,
        "causalabs_s": round(causalabs_s, 3),
        "pyvene_s": round(pyvene_s, 3),
        "speedup": round(speedup, 3),
        "iia_causalabs": round(iia_c["all"], 4),
        "iia_pyvene": round(iia_p["all"], 4),
        "iia_diff": round(diff, 4),
        "step_ratio_causalabs": round(med[3], 2),
        "step_ratio_pyvene": round(med[4], 2),
        "targets": TARGETS,
        "met": all(met.values()),
        "met_each": met,
        "autograd": {  # fit_das(..., fast_mlp=False): the general path, for comparison
            "causalabs_s": round(slow_s, 3),
            "speedup": round(pyvene_s / slow_s, 3),
            "iia": round(iia_s["all"], 4),
            "iia_diff": round(iia_s["all"] - iia_p["all"], 4),
            "step_us": round(med[5] * 1e6, 2),
            "step_ratio": round(med[6], 2),
        },
        "iia_causalabs_by_set": {k: round(v, 4) for k, v in iia_c.items()},
        "iia_pyvene_by_set": {k: round(v, 4) for k, v in iia_p.items()},
        "iia_pyvene_own": round(iia_p_own["all"], 4),
        "final_loss_causalabs": round(result.losses[-1], 4),
        "final_loss_pyvene": round(pv_losses[-1], 4),
        "forward_us": round(med[0] * 1e6, 2),
        "step_us_causalabs": round(med[1] * 1e6, 2),
        "step_us_pyvene": round(med[2] * 1e6, 2),
        "steps_total": sum(-(-len(ds.expected) // BATCH) for ds in train) * args.epochs,
        "repeat": args.repeat,
    }
    print(json.dumps(line), flush=True)
    if not args.no_gpt2:
        print(json.dumps(gpt2_step_case(args.repeat)), flush=True)
    if args.profile:
        for row in profile_step(network, small):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
