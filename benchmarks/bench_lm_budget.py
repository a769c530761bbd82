"""Cost before work on SmolLM2 IOI: how long ``verify`` takes to refuse an exhaustive check over budget.

Prints JSON lines: the load time of the network, then the seconds from a
loaded network to the refusal (the measured forward, the sampled source
classes and the estimate), with the estimate itself.  Run:

    python benchmarks/bench_lm_budget.py [--threads 1] [--budget 3600]

(needs the ``[lm]`` extra; see docs/transformers.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--budget", type=float, default=3600.0)
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from causalabs.cli.budget import enforce_budget
    from causalabs.errors import BudgetError
    from causalabs.loading import load_hypothesis
    from causalabs.network import load_network
    from causalabs.verification.reproduction import resolve_alignment

    t0 = time.perf_counter()
    net = load_network(ROOT / "models" / "smollm2_ioi.py")
    hyp = load_hypothesis(str(ROOT / "hypotheses" / "ioi.py") + ":IOI")
    al = resolve_alignment(None, ROOT / "models" / "smollm2_ioi.py", net, hyp)
    print(json.dumps({"bench": "lm_budget", "step": "load", "seconds": round(time.perf_counter() - t0, 3),
                      "threads": torch.get_num_threads()}), flush=True)
    t1 = time.perf_counter()
    try:
        cost = enforce_budget(net, hyp, al, "exhaustive", 2000, args.budget)
        refused, message = False, None if cost is None else cost.detail
    except BudgetError as exc:
        refused, message = True, str(exc)
    print(json.dumps({"bench": "lm_budget", "step": "estimate", "seconds": round(time.perf_counter() - t1, 3),
                      "refused": refused, "message": message}), flush=True)


if __name__ == "__main__":
    main()
