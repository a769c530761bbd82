"""Time of ``causalabs report R.json`` in a fresh interpreter, and whether it imported torch.

Run: ``python benchmarks/bench_report.py [--repeat R] [--other PATH]``.
Writes a refuted report of ``heq_handbuilt`` (exhaustive) once, then times
``causalabs report`` on it, each run a fresh Python process (imports are the
cost).  With ``--other PATH`` (another checkout of causalabs, for example
the main branch), runs of this checkout and of PATH alternate, so machine
noise hits both alike.  Prints one JSON line per checkout:

    {"bench": "report", "checkout": ..., "runs": R, "median_s": ..., "min_s": ...,
     "cpu_median_s": ..., "imports_torch": false}

``cpu_median_s`` is user + system time of the child process (less sensitive
to other load on a shared machine than wall time).  A script, not a test:
timings belong in benchmarks, never in assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = (
    "import sys\nfrom causalabs.cli import app\n"
    "try:\n    app(['report', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
    "sys.stderr.write('torch=%s' % ('torch' in sys.modules))\n"
)


def one_run(checkout: Path, report: Path) -> tuple[float, float, bool]:
    """(wall seconds, cpu seconds, torch imported) of one ``causalabs report`` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(report)], capture_output=True, text=True, env=env,
                          cwd=tempfile.gettempdir(), check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr.strip().endswith("torch=True")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--other", type=Path, default=None, help="another causalabs checkout to compare with")
    args = parser.parse_args()
    checkouts = [ROOT] + ([args.other.resolve()] if args.other else [])
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "r.json"
        subprocess.run(
            [sys.executable, "-m", "causalabs.cli.commands", "verify",
             "hypotheses/hierarchical_equality.py:SwappedEquality", "--network", "models/heq_handbuilt.py",
             "--json", str(report)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, check=False,
        )
        times: dict[Path, list[tuple[float, float, bool]]] = {c: [] for c in checkouts}
        for _ in range(args.repeat):
            for c in checkouts:
                times[c].append(one_run(c, report))
    for c, runs in times.items():
        walls = [w for w, _, _ in runs]
        print(json.dumps({
            "bench": "report", "checkout": str(c), "runs": len(runs),
            "median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3),
            "cpu_median_s": round(statistics.median(cpu for _, cpu, _ in runs), 3),
            "imports_torch": any(t for _, _, t in runs),
        }))


if __name__ == "__main__":
    main()
