"""Load time of every committed organism (issue target: under a second each); JSON lines.

Run: ``python benchmarks/bench_organisms.py``.  Each organism file is imported
once first (so torch and sympy imports are not counted), then ``load()`` is
timed: the best of five calls.
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from causalabs.loading import load_module  # noqa: E402
from causalabs.organisms import find_organisms  # noqa: E402

TARGET_S = 1.0


def main() -> int:
    folders = [ROOT / "models", ROOT / "models" / "tracr"]
    for folder in folders:
        for org in find_organisms(folder).organisms:
            module = load_module(org.path)
            best = min(timeit.repeat(module.load, number=1, repeat=5))
            print(json.dumps({
                "bench": "organism_load", "organism": org.name, "seconds": round(best, 5),
                "target_s": TARGET_S, "met": best < TARGET_S,
            }), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
