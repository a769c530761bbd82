"""Rivals per organism: generation, twins found, decisive set vs random pairs, identification.

One JSON line per organism:
``rivals`` generated (within ``--budget`` seconds), ``twins`` (each hand-written wrong twin: the
generated rival z3 shows equivalent to it, or null, and whether it gives the claim's outputs at all),
``decisive`` experiments covering every distinguishable rival, ``random_simulated`` uniform random
experiments needed to separate every pool-separable rival with probability 0.95 (the 95% quantile
over ``--runs`` simulated runs; ``random_lower`` / ``random_union``: the rarest rival's need and the
union bound, computed from the rates), ``classes`` (distinguishing classes: rivals separated by the
same pool experiments), ``ratio`` = random_simulated / decisive, ``tenfold`` (ratio >= 10) and
``within_classes`` (decisive <= classes), and, with the network, whether ``verify(rivals=...)``
identifies the claim (exhaustive, or sample mode on heq_trained).

Run: ``.venv/bin/python benchmarks/bench_rivals.py`` (add ``--quick`` for 40 rivals per organism).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import causalabs as ca
from causalabs.organisms import load_organism
from causalabs.rivals import generate, interventionally_equivalent, same_outputs
from causalabs.rivals.decisive import decisive, random_pairs_needed, simulate_random_pairs

ROOT = Path(__file__).resolve().parents[1]
ORGANISMS = ["heq_handbuilt", "boolean_circuit", "addition_handbuilt", "heq_trained",
             "tracr/tracr_reverse", "tracr/tracr_hist", "tracr/tracr_sort", "tracr/tracr_frac_prevs"]


def one(name: str, limit: int | None, budget: float, work: int, runs: int) -> dict:
    o = load_organism(ROOT / "models" / f"{name}.py")
    claim = o.hypothesis()
    t = time.perf_counter()
    found = generate(claim, limit=limit, work=work, budget_s=budget)
    gen_s = time.perf_counter() - t
    twins = {}
    aligned = list(o.alignment().sites)
    for tw in o.wrong_hypotheses():
        if set(ca.model_of(tw).variables) != set(ca.model_of(claim).variables):
            twins[tw.__name__] = {"same_outputs": None, "generated_as": None, "note": "other variables than the claim"}
            continue
        same = same_outputs(claim, tw)
        match = None
        if same:
            match = next((r.name for r in found.rivals if interventionally_equivalent(r.hypothesis, tw)), None)
        twins[tw.__name__] = {"same_outputs": same, "generated_as": match}
    given = [tw for tw in o.wrong_hypotheses() if twins[tw.__name__]["same_outputs"]]
    t = time.perf_counter()
    d = decisive(claim, [r.hypothesis for r in found.rivals] + given, aligned)
    dec_s = time.perf_counter() - t
    rates = [d.random_rate[n] for n in d.separated]
    need = random_pairs_needed(rates)
    t = time.perf_counter()
    sim = simulate_random_pairs(claim, [r.hypothesis for r in found.rivals] + given, aligned, runs=runs)
    sim_s = time.perf_counter() - t
    k = len(d.experiments)
    mode = "sample" if ca.model_of(claim).input_space_size > 50_000 else "exhaustive"
    t = time.perf_counter()
    sets = [(v,) for v in aligned] if len(aligned) > 4 else None  # tracr: each position's variable alone
    rep = ca.verify(claim, o.network, o.alignment(), mode=mode, sets=sets,
                    rivals=[r.hypothesis for r in found.rivals] + given)
    ver_s = time.perf_counter() - t
    ident = rep.identification
    return {
        "organism": name, "claim": ca.model_of(claim).name, "rivals": len(found.rivals), "complete": found.complete,
        "stopped_by": found.stopped_by, "steps": found.steps, "generation_s": round(gen_s, 2), "twins": twins, "aligned": aligned,
        "decisive": len(d.experiments), "separated": len(d.separated),
        "indistinguishable": list(d.indistinguishable), "undecided": list(d.undecided),
        "random_lower": need["lower"], "random_union": need["union"],
        "random_simulated": sim.needed, "simulation_runs": sim.runs, "simulated_rivals": sim.rivals,
        "classes": sim.classes, "simulation_s": round(sim_s, 2),
        "ratio": None if not k else round(sim.needed / k, 2),
        "tenfold": bool(k and sim.needed >= 10 * k), "within_classes": bool(k <= sim.classes),
        # no set of the pool's experiments separating every rival is smaller (LP bound of the cover):
        # random / fewest_possible is the best ratio any choice of experiments could reach
        "fewest_possible": d.fewest_possible, "optimal": d.optimal,
        "best_ratio_possible": None if not d.fewest_possible else round(sim.needed / d.fewest_possible, 2),
        "pool_exact": d.exact, "decisive_s": round(dec_s, 2),
        "verdict": rep.verdict, "mode": mode, "identified": ident["identified"],
        "excluded": len(ident["excluded"]), "surviving": [(e["name"], e["how"], e.get("iia")) for e in ident["surviving"]],
        "verify_s": round(ver_s, 2),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--budget", type=float, default=300.0, help="wall-clock safety stop of generation (s)")
    p.add_argument("--work", type=int, default=30_000, help="work budget of generation (steps)")
    p.add_argument("--runs", type=int, default=2_000, help="simulated runs of random pairs")
    p.add_argument("organisms", nargs="*", default=ORGANISMS)
    a = p.parse_args()
    for name in a.organisms:
        print(json.dumps(one(name, 40 if a.quick else None, a.budget, a.work, a.runs)), flush=True)


if __name__ == "__main__":
    main()
