"""LM metrics on SmolLM2 IOI: logit difference and probability of the expected name, IOI against its twin.

For each block (default 23 and 24, the residual stream at the last
position; 24 is the network file's ``alignment()``), each hypothesis (``IOI``
and its twin ``PositionalIOI``) and each metric, runs sample mode on
``--samples`` balanced pairs (seed 0) and prints one JSON line: IIA, the
metric's patched and unpatched means with 95% t-intervals, the shift, the
pairs used and excluded, and the seconds.  The same numbers as
``causalabs verify hypotheses/ioi.py:IOI --network models/smollm2_ioi.py --mode sample --samples 64
--threads 1 --metric logit-diff`` (block 24).  Run:

    python benchmarks/lm_metric_ioi.py [--samples 64] [--blocks 23,24] [--metrics logit-diff,prob] [--threads 1]

(needs the ``[lm]`` extra; see docs/transformers.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--blocks", default="23,24")
    parser.add_argument("--metrics", default="logit-diff,prob")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    import causalabs as ca
    from causalabs.loading import load_hypothesis
    from causalabs.network import load_network

    sys.path.insert(0, str(ROOT / "models"))
    import smollm2_ioi

    net = load_network(ROOT / "models" / "smollm2_ioi.py")
    for block in (int(b) for b in args.blocks.split(",")):
        al = smollm2_ioi.alignment(block)
        for name in ("IOI", "PositionalIOI"):
            hyp = load_hypothesis(f"{ROOT / 'hypotheses' / 'ioi.py'}:{name}")
            for metric in args.metrics.split(","):
                start = time.perf_counter()
                r = ca.verify(hyp, net, al, mode="sample", samples=args.samples, seed=0, metric=metric)
                m = r.metrics["per_variable"]["io"]
                print(json.dumps({
                    "block": block, "hypothesis": name, "metric": metric, "samples": args.samples,
                    "verdict": r.verdict, "iia": r.iia.value,
                    **{k: [m[k]["value"], m[k]["lo"], m[k]["hi"]] for k in ("patched", "unpatched", "shift")},
                    "pairs": m["pairs"], "excluded": m["excluded"], "seconds": round(time.perf_counter() - start, 1),
                    "threads": args.threads,
                }), flush=True)


if __name__ == "__main__":
    main()
