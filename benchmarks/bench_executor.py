"""Local executor vs Ray: one sweep (4 sites x 3 variable sets of DAS on heq_handbuilt), and the cost of a task.

Run: ``python benchmarks/bench_executor.py [--workers 2] [--epochs 20] [--samples 2048] [--noop 40]``
(needs the ``[ray]`` extra).  Starts a local Ray cluster of ``--workers`` CPUs,
starts its workers with one throw-away task each (worker start-up is timed
apart: it is paid once per cluster, not per sweep), runs a one-epoch sweep
with each executor so that first calls in each process are paid before
timing, then in one run:

* ``sweep``: the same sweep with the local executor and with Ray; wall
  seconds of each, their ratio (local / ray: above 1, Ray is faster), the
  local run again with one torch thread (as each Ray worker runs), and
  whether every record is the same (timing set aside);
* ``overhead``: ``--noop`` tasks that do nothing, through each executor:
  the wall time per task is what running one task costs beyond its work
  (scheduling, shipping arguments and results).

Prints one JSON line per measurement.  A script, not a test: timings belong
in benchmarks, never in assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _noop(shared: object, i: int) -> int:
    return i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--noop", type=int, default=40)
    args = parser.parse_args()

    import ray
    import torch

    import causalabs as ca
    from causalabs.align.sweep import DAS, sweep
    from causalabs.executor import LocalExecutor, Shared, Task
    from causalabs.executor.ray import RayExecutor
    from causalabs.loading import load_attr
    from causalabs.network import load_network

    hyp = load_attr(f"{ROOT}/hypotheses/hierarchical_equality.py:HierarchicalEquality")
    net = load_network(ROOT / "models/heq_handbuilt.py")
    sets = [["left"], ["right"], ["left", "right"]]
    train = [ca.random_pairs(hyp, v, args.samples, seed=i) for i, v in enumerate(sets)]
    test = [ca.random_pairs(hyp, v, args.samples, seed=10 + i) for i, v in enumerate(sets)]
    method = DAS(dims=1, epochs=args.epochs, patience=None)
    machine = {"cpus": os.cpu_count(), "machine": platform.machine(), "ray": ray.__version__, "gpu": False}

    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, object_store_memory=100 * 1024**2, include_dashboard=False, log_to_driver=False)
    RayExecutor().run([Task((i,), _noop, (i,)) for i in range(args.workers)], Shared("warm", value=0), lambda t, v: None)
    print(json.dumps({"bench": "executor", "what": "ray_start", "workers": args.workers,
                      "seconds": round(time.perf_counter() - t0, 3), **machine}), flush=True)

    def run(executor: str, threads: int | None = None, fit: object = method) -> tuple[float, object]:
        before = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        t = time.perf_counter()
        result = sweep(net, hyp, (["0", "1", "2", "3"], None), sets, train, test, method=fit, seed=0,
                       progress=False, executor=executor)
        seconds = time.perf_counter() - t
        torch.set_num_threads(before)
        return seconds, result

    threads = torch.get_num_threads()
    warm = DAS(dims=1, epochs=1, patience=None)  # first calls in a process (imports, kernels) paid before timing
    run("local", fit=warm)
    run("ray", fit=warm)
    local_s, local = run("local")
    local1_s, _ = run("local", 1)  # as each Ray worker runs (Ray sets OMP_NUM_THREADS to its CPUs, 1)
    ray_s, remote = run("ray")
    same = [r.to_dict() | {"elapsed_s": 0} for r in local.records] == [r.to_dict() | {"elapsed_s": 0} for r in remote.records]
    print(json.dumps({
        "bench": "executor", "what": "sweep", "tasks": len(local.records), "epochs": args.epochs,
        "samples": args.samples, "workers": args.workers, "local_s": round(local_s, 3), "local_torch_threads": threads,
        "local_1thread_s": round(local1_s, 3), "ray_s": round(ray_s, 3), "speedup": round(local_s / ray_s, 3),
        "speedup_vs_1thread": round(local1_s / ray_s, 3), "same_records": same,
        "ray_summary": remote.run.to_dict() if remote.run is not None else None, **machine,
    }), flush=True)

    tasks = [Task((i,), _noop, (i,)) for i in range(args.noop)]
    for executor in (LocalExecutor(), RayExecutor()):
        t = time.perf_counter()
        executor.run(tasks, Shared("noop", value=0), lambda t, v: None)
        wall = time.perf_counter() - t
        print(json.dumps({"bench": "executor", "what": "overhead", "executor": executor.name, "tasks": args.noop,
                          "per_task_ms": round(1000 * wall / args.noop, 3), **machine}), flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
