"""Check that the engine and DAS run on CUDA and agree with CPU; print JSON lines.

Run on a machine with a GPU: ``python benchmarks/cuda_check.py``.  Without
one it runs the CPU half only and says so.  Not a test: CI has no GPU.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import causalabs as ca  # noqa: E402
from causalabs.align.das import fit_das  # noqa: E402
from causalabs.engine import evaluate_pairs  # noqa: E402
from causalabs.loading import load_attr, load_module  # noqa: E402
from causalabs.metrics import iia  # noqa: E402
from causalabs.network import Site, load_network  # noqa: E402


def emit(**row: object) -> None:
    print(json.dumps({"bench": "cuda_check", **row}), flush=True)


def exhaustive_iia(net: ca.Network, hyp: type, alignment: ca.Alignment) -> tuple[np.ndarray, float]:
    preds, results = [], []
    for v in alignment.sites:
        ds = ca.exhaustive_pairs(hyp, [v])
        r = evaluate_pairs(net, alignment, ds, batch_size=4096)
        preds.append(r.predicted)
        results.append(r)
    return np.concatenate(preds), iia(results).overall.overall.value


def main() -> int:
    has_cuda = torch.cuda.is_available()
    emit(case="device", cuda=has_cuda, name=torch.cuda.get_device_name(0) if has_cuda else None,
         torch=torch.__version__)
    devices = ["cpu"] + (["cuda"] if has_cuda else [])
    heq = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
    swapped = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:SwappedEquality"))
    rotated_file = ROOT / "models/heq_rotated.py"
    org = load_module(rotated_file)
    out: dict[str, np.ndarray] = {}
    for dev in devices:
        net = load_network(rotated_file).to(dev)
        al = org.alignment()
        t = time.perf_counter()
        pred, value = exhaustive_iia(net, heq, al)
        wrong = exhaustive_iia(net, swapped, al)[1]
        out[dev] = pred
        emit(case="exhaustive_iia", device=dev, organism="heq_rotated", iia_correct=value,
             iia_swapped=wrong, pairs=int(len(pred)), seconds=round(time.perf_counter() - t, 3))
    if has_cuda:
        emit(case="cpu_cuda_agree", equal=bool(np.array_equal(out["cpu"], out["cuda"])))

    # DAS on the rotated twin, CPU vs CUDA: same data, same seed.
    train = [ca.random_pairs(heq, [v], 1024, seed=i) for i, v in enumerate(["left", "right"])]
    test = [ca.random_pairs(heq, [v], 1024, seed=10 + i) for i, v in enumerate(["left", "right"])]
    for dev in devices:
        net = load_network(rotated_file).to(dev)
        t = time.perf_counter()
        res = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=3, batch_size=64, patience=None, seed=0)
        fit_s = time.perf_counter() - t
        value = iia([evaluate_pairs(net, res.alignment, d) for d in test]).overall.overall
        emit(case="das", device=dev, organism="heq_rotated", seconds=round(fit_s, 3),
             final_loss=res.losses[-1], heldout_iia=value.value, lo=value.lo, hi=value.hi)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
