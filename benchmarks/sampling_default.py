"""Should sample mode draw balanced pairs by default?  Changed-pair evidence and cost, random vs balanced.

For each case and each sampling, ``verify(mode="sample", samples=2000)`` over
a few seeds; one JSON line per (case, sampling, seed) with the changed pairs
drawn per variable set, the verdict at the case's threshold, and the
seconds (a ratio within one run is what to read: the machine is shared).

Cases:

* ``noop_planted``: ``Equality`` on ``planted_unused_copy`` under
  ``noop_alignment()`` (the variable on a copy the read-out ignores; exact
  IIA 0.9802, changed pairs 0 of 1.98%), threshold 0.95: a false claim.
* ``noop_heq_trained``: ``HierarchicalEqualityPool`` on ``heq_trained`` with
  ``left`` on a direction of layer "5" in the null space of the last
  layer (``right`` at its known site), threshold 0.95: a false claim.
* true claims at threshold 0.95 (``heq_handbuilt``, ``addition_handbuilt``,
  ``heq_trained``): what balancing costs where it is not needed.

Run: ``python benchmarks/sampling_default.py [--seeds 5]``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from causalabs.network import Alignment, Rotation, site
from causalabs.organisms import load_organism
from causalabs.verification.pipeline import verify

ROOT = Path(__file__).resolve().parents[1]


def heq_trained_noop() -> tuple[Any, Any, Alignment]:
    """heq_trained with ``left`` on a null-space direction of the last layer's weights (its input is layer "5")."""
    o = load_organism(ROOT / "models/heq_trained.py")
    w = o.network.module[6].weight.detach().double()  # (2, 16)
    _, _, vh = torch.linalg.svd(w)
    u = vh[2:3].T.contiguous().float()  # a unit vector with w @ u = 0
    known = o.alignment()
    al = Alignment({"left": site("5", featurizer=Rotation(u), dims=(0, 1)), "right": known.sites["right"]})
    return o.hypothesis(), o.network, al


def cases() -> list[tuple[str, Any, Any, Alignment, float]]:
    planted = load_organism(ROOT / "models/planted_unused_copy.py")
    out = [("noop_planted", planted.hypothesis(), planted.network, planted.source.noop_alignment(), 0.95)]
    out.append(("noop_heq_trained", *heq_trained_noop(), 0.95))
    for name in ("heq_handbuilt", "addition_handbuilt", "heq_trained"):
        o = load_organism(ROOT / f"models/{name}.py")
        out.append((f"true_{name}", o.hypothesis(), o.network, o.alignment(), 0.95))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name, hyp, net, al, t in cases():
        for sampling in ("random", "balanced"):
            for seed in range(args.seeds):
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = verify(hyp, net, al, mode="sample", samples=args.samples, seed=seed, threshold=t,
                               sampling=sampling)
                seconds = time.perf_counter() - start
                print(json.dumps({
                    "case": name, "sampling": sampling, "seed": seed, "threshold": t, "verdict": r.verdict,
                    "changed_pairs": {"+".join(e.variables): e.changed.n for e in r.per_variable},
                    "changed_iia": {"+".join(e.variables): e.changed.value for e in r.per_variable},
                    "overall_iia": round(r.iia.value, 4), "seconds": round(seconds, 3), "reason": r.reason,
                }), flush=True)


if __name__ == "__main__":
    main()
