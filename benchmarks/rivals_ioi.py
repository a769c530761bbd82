"""Rivals of IOI on SmolLM2-135M (needs the [lm] extra): which rivals survive at block 24, last position.

Prints one JSON line: the claim's verdict and IIA, and for each rival (10 generated, plus the
hand-written PositionalIOI) excluded or surviving, with its IIA.  Sample mode, threshold 0.95,
``--samples`` balanced pairs per set (default 256), seed 0.

Run: ``.venv/bin/python benchmarks/rivals_ioi.py [--samples N] [--rivals N] [--layer L]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import causalabs as ca
from causalabs.loading import load_module
from causalabs.network.network import load_network

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--rivals", type=int, default=10)
    p.add_argument("--layer", type=int, default=24)
    a = p.parse_args()
    ioi = load_module(str(ROOT / "hypotheses" / "ioi.py"))
    sys.path.insert(0, str(ROOT / "models"))
    net = load_network(str(ROOT / "models" / "smollm2_ioi.py"))
    org = load_module(str(ROOT / "models" / "smollm2_ioi.py"))
    from causalabs.rivals import generate

    rivals = [r.hypothesis for r in generate(ioi.IOI, limit=a.rivals, budget_s=60).rivals] + [ioi.PositionalIOI]
    t = time.perf_counter()
    rep = ca.verify(ioi.IOI, net, org.alignment(a.layer), mode="sample", threshold=0.95, samples=a.samples,
                    seed=0, rivals=rivals)
    ident = rep.identification
    print(json.dumps({
        "layer": a.layer, "samples": a.samples, "verdict": rep.verdict, "iia": rep.iia.value,
        "identified": ident["identified"], "line": ident["line"],
        "excluded": [(e["name"], e["how"], e["by"], e.get("iia")) for e in ident["excluded"]],
        "surviving": [(e["name"], e["how"], e.get("verdict"), e.get("iia")) for e in ident["surviving"]],
        "indistinguishable": [e["name"] for e in ident["indistinguishable"]],
        "seconds": round(time.perf_counter() - t, 1),
    }))


if __name__ == "__main__":
    main()
