"""Sequential mode by simulation: error rates under optional stopping, and pairs to a decision vs fixed-n.

Every run is :func:`causalabs.verification.stopping.run_sequential` -- the
function ``verify(mode="sequential")`` calls -- on balanced binomial draws
(:func:`~causalabs.verification.stopping.bernoulli_draw`): each batch adds
half its pairs to each stratum (changed / unchanged) of each variable set,
and the rule looks at the counts after every batch and stops at the first
decision (optional stopping at every batch).  One JSON line per cell.

* ``errors``: one variable set; thresholds 0.9, 0.95, 0.99; the deciding
  stratum's true IIA just below the threshold (t - 0.005; the other stratum
  at 1, where it verifies soonest: the worst case for a false verification),
  at the threshold (both strata at t: the claim holds, the worst case for a
  false refutation) and just above (t + 0.005, both strata).  ``false_verified``
  (claim false, verified) and ``false_refuted`` (claim true, refuted) with a
  95% Clopper-Pearson interval on the rate; nominal 1 - confidence = 0.05.
* ``pairs``: one variable set, both strata at IIA t +- 0.01, 0.02, 0.05:
  pairs per set to a decision (median, 95th percentile, over ``runs`` runs;
  undecided runs count as never stopping), the fraction decided within the
  budget, and fixed-n sample mode at equal error (same alpha, one-sided
  Clopper-Pearson): ``fixed_oracle`` the n that decides with probability 0.95
  at this very IIA (which fixed-n cannot know), ``fixed_plan_0.01`` the n that
  decides with probability 0.95 whenever the IIA is at least 0.01 from t (what
  a fixed design must use when the IIA is unknown), and the default 2,000.

Run: ``python benchmarks/sequential_sim.py [--runs 2000] [--part errors|pairs|all]`` (about a minute).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from causalabs.metrics.bounds import cp_lower, cp_upper
from causalabs.verification.planning import FIXED_DEFAULT, fixed_decides, fixed_n
from causalabs.verification.stopping import REFUTED, VERIFIED, Rule, bernoulli_draw, run_sequential

THRESHOLDS = (0.9, 0.95, 0.99)
NEAR = 0.005
GAPS = (-0.05, -0.02, -0.01, 0.01, 0.02, 0.05)


def _rate(hits: int, runs: int) -> dict[str, float]:
    """The observed rate with a two-sided 95% Clopper-Pearson interval."""
    return {"rate": hits / runs, "lo": float(cp_lower(hits, runs, 0.025)), "hi": float(cp_upper(hits, runs, 0.025))}


def error_cell(t: float, iia: float, runs: int, seed: int, confidence: float = 0.95, max_pairs: int = 20_000) -> dict:
    """One cell: a claim whose deciding stratum has true IIA ``iia`` (see the module)."""
    other = 1.0 if iia < t else iia
    rule = Rule(t, confidence, 1, max_pairs=max_pairs)
    start = time.perf_counter()
    out = run_sequential(rule, bernoulli_draw(np.array([[iia, other]]), seed, runs), runs=runs)
    holds = iia >= t
    wrong = int((out.verdict == (REFUTED if holds else VERIFIED)).sum())
    return {
        "part": "errors", "threshold": t, "iia": round(iia, 6), "other_stratum": round(other, 6), "claim_holds": holds,
        "runs": runs, "max_pairs": max_pairs, "nominal": round(1 - confidence, 6),
        ("false_refuted" if holds else "false_verified"): _rate(wrong, runs),
        "verified": int((out.verdict == VERIFIED).sum()), "refuted": int((out.verdict == REFUTED).sum()),
        "seconds": round(time.perf_counter() - start, 3),
    }


def pairs_cell(t: float, iia: float, runs: int, seed: int, confidence: float = 0.95, max_pairs: int = 20_000) -> dict:
    """Pairs per set to a decision, sequential vs fixed-n, both strata at ``iia``."""
    rule = Rule(t, confidence, 1, max_pairs=max_pairs)
    out = run_sequential(rule, bernoulli_draw(np.full((1, 2), iia), seed, runs), runs=runs)
    right = out.verdict == (VERIFIED if iia > t else REFUTED)
    used = np.where(out.verdict != 0, out.totals.sum(axis=(1, 2)), np.inf)
    median, p95 = (float(np.quantile(used, q, method="inverted_cdf")) for q in (0.5, 0.95))
    plan = [fixed_n(t, confidence, x, 1) for x in (t - 0.01, t + 0.01) if x < 1.0]
    planned = None if None in plan else max(plan)  # type: ignore[type-var]
    oracle = fixed_n(t, confidence, iia, 1)
    return {
        "part": "pairs", "threshold": t, "iia": round(iia, 6), "runs": runs, "max_pairs": max_pairs,
        "sequential_median": median, "sequential_p95": None if np.isinf(p95) else p95,
        "sequential_decided": float((out.verdict != 0).mean()), "sequential_right": float(right.mean()),
        "fixed_oracle": oracle, "fixed_plan_0.01": planned,
        "fixed_default_decides": fixed_decides(t, confidence, iia, FIXED_DEFAULT, 1),
        "ratio_plan_0.01": None if planned is None or np.isinf(median) else round(planned / median, 2),
        "ratio_oracle": None if oracle is None or np.isinf(median) else round(oracle / median, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--part", choices=("errors", "pairs", "all"), default="all")
    args = ap.parse_args()
    cell = 0
    if args.part in ("errors", "all"):
        for t in THRESHOLDS:
            for iia in (t - NEAR, t, t + NEAR):
                if iia < 1.0:
                    print(json.dumps(error_cell(t, iia, args.runs, args.seed + cell)), flush=True)
                cell += 1
    if args.part in ("pairs", "all"):
        for t in THRESHOLDS:
            for gap in GAPS:
                if 0.0 < t + gap < 1.0:
                    print(json.dumps(pairs_cell(t, round(t + gap, 6), args.runs, args.seed + cell)), flush=True)
                cell += 1


if __name__ == "__main__":
    main()
