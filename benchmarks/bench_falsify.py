"""Time-to-counterexample of ``falsify`` on a planted 1% defect (issue target: under 30 s on CPU); JSON lines.

Run: ``python benchmarks/bench_falsify.py [--seeds N]``.  The planted network
and its hypothesis come from ``tests/test_verify_falsify.py``: equality over
``range(10)`` (10,000 inputs), with the answer flipped on the 100 bases where
``w == 3`` and ``x == 7``.  For each seed one line gives the time to the
first failing example (``first_failure_s``), the total with shrinking
(``elapsed_s``, wall clock; ``cpu_s``, this process's CPU time, steadier on a
shared machine), the examples and pairs run, and whether the shrunk
counterexample lies in the planted region; a last line gives the medians
over the seeds.  A reference line gives the IIA a 1,000-pair random sample
reports for the same network, and how long that evaluation takes in this
run (compare ratios, not absolute times: the machines are shared).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch

from causalabs.data import random_pairs
from causalabs.engine import evaluate_pairs
from causalabs.loading import load_module
from causalabs.metrics import iia
from causalabs.verification.falsification import falsify

TARGET_S = 30.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    planted = load_module(ROOT / "tests" / "test_verify_falsify.py")
    H, net, align = planted.Equality10, planted.planted_network(), planted.planted_alignment()

    t = time.perf_counter()
    score = iia(evaluate_pairs(net, align, random_pairs(H, "left", 1000, seed=0))).overall.overall
    ref_s = time.perf_counter() - t
    print(json.dumps({
        "bench": "falsify_planted_reference", "sampled_iia_1000": round(score.value, 4),
        "interval": [round(score.lo, 4), round(score.hi, 4)], "seconds": round(ref_s, 4),
        "threads": args.threads,
    }), flush=True)

    rows = []
    for seed in range(args.seeds):
        cpu = time.process_time()
        r = falsify(H, net, align, seed=seed, deadline_s=TARGET_S)
        cpu = time.process_time() - cpu
        ce = r.counterexample
        rows.append((r.first_failure_s, r.elapsed, cpu))
        print(json.dumps({
            "bench": "falsify_planted", "seed": seed, "found": ce is not None,
            "in_region": ce is not None and planted.in_region(ce.base),
            "first_failure_s": None if r.first_failure_s is None else round(r.first_failure_s, 3),
            "elapsed_s": round(r.elapsed, 3), "cpu_s": round(cpu, 3), "examples": r.examples_run, "pairs": r.pairs_run,
            "stop_reason": r.stop_reason, "counterexample": None if ce is None else ce.to_dict(),
            "target_s": TARGET_S, "met": ce is not None and r.elapsed < TARGET_S,
        }), flush=True)
    firsts = [f for f, _, _ in rows if f is not None]
    print(json.dumps({
        "bench": "falsify_planted_median", "seeds": len(rows),
        "first_failure_s": round(statistics.median(firsts), 3) if firsts else None,
        "elapsed_s": round(statistics.median(e for _, e, _ in rows), 3),
        "cpu_s": round(statistics.median(c for _, _, c in rows), 3),
    }), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
