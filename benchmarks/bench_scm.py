"""Throughput of the hypothesis semantics and of dataset generation, on one core.

Run: ``python benchmarks/bench_scm.py [--rows N] [--repeat R]``.  Prints one
JSON line per case:

    {"bench": "scm", "hypothesis": ..., "case": "run"|"interchange",
     "rows": 1000000, "seconds": ..., "rows_per_s": ...}

then ``"bench": "data"`` lines for ``random_pairs`` and ``balanced``.  Inputs
are drawn outside the timed region; ``seconds`` is the best of ``--repeat``
runs after one warm-up (``cpu_seconds`` is that run's process CPU time).  Target: at least 2,000,000 rows/s for run and
interchange.  A script, not a test: timings belong in benchmarks, never in
assertions.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import causalabs as ca  # noqa: E402
from causalabs.data import balanced, random_pairs  # noqa: E402
from causalabs.loading import load_attr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def two_digit_addition() -> tuple[Any, str]:
    """(``hypotheses/addition.py:TwoDigitAddition`` when it loads, else a local twin; where from)."""
    path = ROOT / "hypotheses" / "addition.py"
    if path.is_file():
        try:
            return load_attr(f"{path}:TwoDigitAddition"), "hypotheses/addition.py"
        except Exception as exc:  # noqa: BLE001 - fall back to the local definition below
            print(f"bench_scm: {path} did not load ({exc}); using a local TwoDigitAddition", file=sys.stderr)

    class TwoDigitAddition(ca.Hypothesis):
        """(10 a1 + a0) + (10 b1 + b0) with the carry as the intermediate."""

        a1, a0, b1, b0 = ca.inputs("a1 a0 b1 b0", domain=range(10))
        carry = ca.var(sp.floor((a0 + b0) / 10))
        s0 = ca.var(sp.Mod(a0 + b0, 10))
        # range(200), not range(199): the domain check runs the mechanism over the product of
        # the parents' domains, which includes the unreachable carry=1, s0=9, a1=b1=9 -> 199.
        total = ca.output((a1 + b1 + carry) * 10 + s0, domain=range(200))

    return TwoDigitAddition, "benchmarks/bench_scm.py (local)"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of ``repeat`` calls after a warm-up."""
    fn()  # warm-up (first-call costs, page faults)
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def line(
    bench: str, hypothesis: str, case: str, rows: int, times: tuple[float, float], **extra: Any
) -> None:
    seconds, cpu = times
    rec = {
        "bench": bench,
        "hypothesis": hypothesis,
        "case": case,
        "rows": rows,
        "seconds": round(seconds, 6),
        "rows_per_s": round(rows / seconds),
        "cpu_seconds": round(cpu, 6),  # process CPU time: steadier than wall time on a shared machine
        **extra,
    }
    print(json.dumps(rec), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-data", action="store_true", help="skip the dataset-generation cases")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except OSError:
            pass
    n = args.rows
    he = load_attr(f"{ROOT / 'hypotheses' / 'hierarchical_equality.py'}:HierarchicalEquality")
    addition, where = two_digit_addition()
    cases = [
        (he, "left", "hypotheses/hierarchical_equality.py"),
        (addition, "carry", where),
    ]
    for hyp, variable, source_file in cases:
        model = ca.model_of(hyp)
        rng = np.random.default_rng(0)

        def draw() -> dict[str, np.ndarray]:
            return {k: rng.choice(np.asarray(model.variables[k].domain), n) for k in model.inputs}

        base, source = draw(), draw()
        t = timed(lambda: ca.run(hyp, base), args.repeat)
        line("scm", model.name, "run", n, t, file=source_file)
        t = timed(lambda: ca.interchange(hyp, base, {variable: source}), args.repeat)
        line("scm", model.name, "interchange", n, t, intervened=[variable], file=source_file)
        if args.no_data:
            continue
        t = timed(lambda: random_pairs(hyp, variable, n, 0), args.repeat)
        line("data", model.name, "random_pairs", n, t, intervened=[variable])
        size = min(1000, model.input_space_size // 2)
        t = timed(lambda: random_pairs(hyp, variable, n, 0, pool=size), args.repeat)
        line("data", model.name, "random_pairs_pool", n, t, intervened=[variable], pool=size)
        t = timed(lambda: balanced(hyp, variable, n, 0), args.repeat)
        line("data", model.name, "balanced", n, t, intervened=[variable])


if __name__ == "__main__":
    main(sys.argv[1:])
