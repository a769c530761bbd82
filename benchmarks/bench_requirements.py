"""What input requirements (``ca.require``) cost: counting the admissible inputs, and drawing them by rejection.

Run: ``python benchmarks/bench_requirements.py [--rows N]``.  Prints one JSON line per case:

    {"bench": "requirements", "case": "count", "combinations": ..., "inputs": ..., "seconds": ..., "definition_seconds": ...}
    {"bench": "requirements", "case": "draw", "rows": ..., "seconds": ..., "unconstrained_seconds": ..., "ratio": ...}

``count`` times defining the hypothesis and the first count of its
admissible inputs (the block prefix table, done once per hypothesis; beside
it ``definition_seconds``, the same class without the requirement) for a requirement ``a != b`` over
boxes of growing size; ``draw`` times ``--rows`` random rows of the same
hypotheses with and without the requirement (a ratio within one run).  One
core.  A script, not a test: timings belong in benchmarks, never in
assertions.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import causalabs as ca  # noqa: E402
from causalabs.scm import space  # noqa: E402


def pair(n: int, distinct: bool) -> Any:
    """Inputs a, b in range(n) and c in range(50); with ``distinct``, a != b."""

    class Pair(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=range(n))
        c = ca.input("c", domain=range(50))
        if distinct:
            ca.require(sp.Ne(a, b))
        out = ca.output(sp.Eq(a, b))

    return ca.model_of(Pair)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    for n in (100, 300, 1000):
        t = time.perf_counter()
        plain = pair(n, False)
        define = time.perf_counter() - t
        t = time.perf_counter()
        model = pair(n, True)  # up to 2**20 combinations the count runs here, at definition
        count = space.count(model)
        dt = time.perf_counter() - t
        print(json.dumps({"bench": "requirements", "case": "count", "combinations": model.box_size,
                          "inputs": count, "seconds": round(dt, 4), "definition_seconds": round(define, 4)}))
        t = time.perf_counter()
        space.draw(plain, np.random.default_rng(0), args.rows)
        base = time.perf_counter() - t
        t = time.perf_counter()
        space.draw(model, np.random.default_rng(0), args.rows)
        dt = time.perf_counter() - t
        print(json.dumps({"bench": "requirements", "case": "draw", "combinations": model.box_size, "rows": args.rows,
                          "seconds": round(dt, 4), "unconstrained_seconds": round(base, 4),
                          "ratio": round(dt / base, 2)}))


if __name__ == "__main__":
    main()
