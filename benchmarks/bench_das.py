"""DAS (distributed alignment search): causalabs ``fit_das`` against the same run done with pyvene.

Run: ``python benchmarks/bench_das.py [--repeat R] [--epochs E] [--profile]``.
Prints JSON lines; the result line is

    {"bench": "das", "case": "heq_trained layer 1, left 8 + right 8", "causalabs_s": ..., "pyvene_s": ...,
     "speedup": ..., "iia_causalabs": ..., "iia_pyvene": ..., "iia_diff": ...,
     "step_ratio_causalabs": ..., "step_ratio_pyvene": ..., "targets": {...}, "met": bool, ...}

Network: ``models/heq_trained.py`` (the DAS paper's hierarchical-equality MLP,
16 -> 3 x 16 ReLU -> 2); location: the output of module ``"1"`` (first
hidden layer, width 16); ``left`` on rotated coordinates [0:8], ``right``
on [8:16] (``HierarchicalEqualityPool``).  Training data: the organism's
own DAS data (``heq_trained.das_datasets(10, 20)``: counterfactual datasets
for ``left``, ``right`` and both, 4,000 pairs each); held-out data:
``das_datasets(30, 40, n=2000)``.

Both runs use the same data, the same batches in the same order (the
schedule of ``fit_das``: every batch from one dataset, seeded numpy
permutations), the same initial rotation (``LearnedRotation(16, seed=0)``),
``--epochs`` epochs (default 5), batch 64, Adam at lr 1e-2, and cross-entropy
of the intervened logits against the counterfactual label.

* causalabs: ``causalabs.align.das.fit_das``, timed end to end, as it runs
  by default (its fast MLP path applies to this network); the ``autograd``
  entry of the result line is the same fit with ``fast_mlp=False``.
* pyvene: a standard pyvene DAS loop.  An ``IntervenableModel`` with two
  ``RotatedSpaceIntervention`` representations at the same component
  (``net.1.output``; the network is wrapped as in
  ``causalabs.backends.pyvene_interop``), sharing one ``RotateLayer`` (so
  there is one rotation, as in causalabs); a batch on ``left`` passes
  ``sources=[src, None]`` and ``subspaces=[[0..7] * n, None]``, one on
  ``right`` ``[None, src]``, one on both ``[src_l, src_r]``; then
  ``loss.backward()`` and ``Adam.step()``.  The inputs are encoded to
  tensors once before the loop (as pyvene's tutorials do), which only
  helps pyvene.  Timed from building the model to the last step.

IIA: the fraction of held-out pairs (all three datasets pooled) on which
the intervened network gives the counterfactual output, computed by
``causalabs.engine.evaluate_pairs`` (native backend) for both rotations;
pyvene's is imported with ``pyvene_interop.from_pyvene_rotation``, and
``iia_pyvene_own`` recomputes it through pyvene's own forward
(``evaluate_pairs(..., backend="pyvene")``) as a cross-check.

Step cost at batch 1: ``fit_das`` (and the pyvene loop) run with batch size
1 on 3 x ``STEP_ROWS`` pairs for ``STEP_EPOCHS`` epochs; the time between the
end of the first and the end of the last epoch (``fit_das``'s ``progress``
callback) divided by the number of steps in between is one training step.
A plain forward is ``network.call(network.module, x)`` on one encoded input
under ``torch.no_grad()`` (median of many calls).  ``step_ratio_* = step /
forward``.  The step and forward measurements alternate over ``--repeat``
rounds; ratios are taken within each round and the median is reported.

Targets (the issue): ``|iia_diff| <= 0.02``, ``causalabs_s <= pyvene_s / 3``
and ``step_ratio_causalabs <= 5``.  One thread; timings are medians.

``--profile`` adds ``"bench": "das-profile"`` lines: where one causalabs
batch-1 training step spends its time (cProfile, per step).

A script, not a test: timings belong in benchmarks, never in assertions.
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"  # one core: set before numpy / torch are imported

import argparse
import cProfile
import json
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import heq_trained

from causalabs.align.das import fit_das, schedule
from causalabs.align.rotation import LearnedRotation
from causalabs.backends import pyvene_interop as pvi
from causalabs.engine import evaluate_pairs
from causalabs.network import Alignment, Network, Rotation
from causalabs.network.sites import Site, Subspace

CASE = "heq_trained layer 1, left 8 + right 8"
SITE = heq_trained.DAS_SITE
DIMS = dict(heq_trained.DAS_DIMS)
BATCH = 64
LR = 1e-2
SEED = 0
STEP_ROWS = 40  # pairs per dataset in the batch-1 step measurement
STEP_EPOCHS = 3
TARGETS = {"iia_diff_max": 0.02, "speedup_min": 3.0, "step_ratio_causalabs_max": 5.0}


# --- data -----------------------------------------------------------------------------------


def spans() -> dict[str, tuple[int, int]]:
    out, start = {}, 0
    for v, k in DIMS.items():
        out[v] = (start, start + k)
        start += k
    return out


def schedule_batches(
    datasets: list[Any], batch_size: int, epochs: int, seed: int
) -> list[list[tuple[int, np.ndarray]]]:
    """The batches of ``fit_das``, epoch by epoch: (dataset index, row indices)."""
    return list(schedule([len(ds.expected) for ds in datasets], epochs, batch_size, seed))


# --- pyvene ---------------------------------------------------------------------------------


def pyvene_das(
    network: Network,
    datasets: list[Any],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    stamps: list[float] | None = None,
) -> tuple[Any, list[float]]:
    """The pyvene DAS loop; returns (the trained RotatedSpaceIntervention, mean loss per epoch)."""
    torch.manual_seed(seed)
    sp = spans()
    variables = list(DIMS)
    init = LearnedRotation(
        heq_trained.WIDTH, seed=seed
    ).frozen()  # fit_das's initial rotation
    placeholder = Rotation(init, check=False)
    sites = [
        Site(SITE, "output", None, Subspace(featurizer=placeholder, dims=sp[v]))
        for v in variables
    ]
    model = pvi.build_intervenable(
        network, sites
    )  # net.1.output, one RotatedSpaceIntervention per variable
    ivs = list(model.interventions.values())
    for iv in ivs[1:]:
        iv.rotate_layer = ivs[0].rotate_layer  # one shared rotation
    params = list(ivs[0].rotate_layer.parameters())
    for p in network.module.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(params, lr=lr)
    # tensors once, as pyvene's tutorials build their datasets
    enc = []
    for ds in datasets:
        base = pvi.pyvene_inputs(network, ds.base, direct=False)["__tensor__"]
        srcs = {
            v: pvi.pyvene_inputs(network, ds.sources[v], direct=False)["__tensor__"]
            for v in ds.intervened
        }
        enc.append(
            (base, srcs, torch.tensor(np.asarray(ds.expected)), tuple(ds.intervened))
        )
    subspace_of = {v: list(range(*sp[v])) for v in variables}
    losses = []
    for batches in schedule_batches(datasets, batch_size, epochs, seed):
        total, count = 0.0, 0
        for d, idx in batches:
            base, srcs, expected, intervened = enc[d]
            tidx = torch.as_tensor(idx)
            n = len(idx)
            sources = [
                {"__tensor__": srcs[v][tidx]} if v in intervened else None
                for v in variables
            ]
            subspaces = [
                [subspace_of[v]] * n if v in intervened else None for v in variables
            ]
            _, out = model(
                {"__tensor__": base[tidx]},
                sources,
                unit_locations={
                    "sources->base": ([None] * len(variables), [None] * len(variables))
                },
                subspaces=subspaces,
            )
            loss = torch.nn.functional.cross_entropy(
                out, expected[tidx]
            )  # classes (0, 1) are logit columns
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * n
            count += n
        losses.append(total / max(count, 1))
        if stamps is not None:
            stamps.append(time.perf_counter())
    return ivs[0], losses


def pyvene_alignment(iv: Any) -> Alignment:
    sp = spans()
    first = pvi.from_pyvene_rotation(iv, SITE, sp["left"])
    f = first.subspace.featurizer
    return Alignment(
        {
            v: Site(SITE, "output", None, Subspace(featurizer=f, dims=sp[v]))
            for v in DIMS
        }
    )


def iia(
    network: Network, alignment: Alignment, datasets: list[Any], backend: str = "native"
) -> dict[str, float]:
    out, correct, total = {}, 0, 0
    for ds in datasets:
        r = evaluate_pairs(network, alignment, ds, backend=backend)
        out["+".join(ds.intervened)] = float(np.mean(r.correct))
        correct += int(np.sum(r.correct))
        total += len(r.correct)
    out["all"] = correct / total
    return out


# --- step cost at batch 1 -------------------------------------------------------------------


def forward_seconds(network: Network, x: torch.Tensor, calls: int = 300) -> float:
    f, m = network.call, network.module
    times = []
    with torch.no_grad():
        for _ in range(20):
            f(m, x)
        for _ in range(calls):
            t0 = time.perf_counter()
            f(m, x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def causalabs_step_seconds(network: Network, datasets: list[Any], fast_mlp: bool | None = None) -> float:
    stamps: list[float] = []
    fit_das(
        network,
        Site(SITE),
        DIMS,
        datasets,
        epochs=STEP_EPOCHS,
        batch_size=1,
        lr=LR,
        seed=SEED,
        progress=lambda *_: stamps.append(time.perf_counter()),
        fast_mlp=fast_mlp,
    )
    steps = sum(len(ds.expected) for ds in datasets) * (STEP_EPOCHS - 1)
    return (stamps[-1] - stamps[0]) / steps


def pyvene_step_seconds(network: Network, datasets: list[Any]) -> float:
    stamps: list[float] = []
    pyvene_das(
        network,
        datasets,
        epochs=STEP_EPOCHS,
        batch_size=1,
        lr=LR,
        seed=SEED,
        stamps=stamps,
    )
    steps = sum(len(ds.expected) for ds in datasets) * (STEP_EPOCHS - 1)
    return (stamps[-1] - stamps[0]) / steps


def gpt2_step_case(repeat: int, rows: int = 20) -> dict[str, Any]:
    """Step cost at batch 1 on bench_engine's GPT-2 (4 x 256, 16 tokens), layer-1 output at the last token.

    One variable on 16 rotated coordinates of the 256-wide residual stream
    (``fit_das`` learns the 256 x 16 basis an interchange on them reads);
    pyvene: a ``RotatedSpaceIntervention`` at ``transformer.h.1.output``
    trained by the same loop.  Only step costs: the data is random.
    """
    from bench_engine import SEQ, VOCAB, draw_pairs, gpt2_network

    net = gpt2_network()
    pairs = draw_pairs(rows, VOCAB, None, seed=7)
    rng = np.random.default_rng(7)
    expected = rng.integers(0, 2, rows)
    ds = type(pairs)(pairs.base, pairs.sources, expected, 1 - expected)
    loc = Site("transformer.h.1", "output", (SEQ - 1,))
    dims = {"v": 16}
    answers = [3, 5]
    x1 = net.encode({k: v[:1] for k, v in pairs.base.items()})

    def c_step() -> float:
        stamps: list[float] = []
        fit_das(
            net,
            loc,
            dims,
            [ds],
            epochs=STEP_EPOCHS,
            batch_size=1,
            lr=LR,
            seed=SEED,
            progress=lambda *_: stamps.append(time.perf_counter()),
        )
        return (stamps[-1] - stamps[0]) / (rows * (STEP_EPOCHS - 1))

    def p_step() -> float:
        torch.manual_seed(SEED)
        init = LearnedRotation(256, seed=SEED).frozen()
        s = Site(
            loc.module,
            loc.io,
            loc.positions,
            Subspace(featurizer=Rotation(init, check=False), dims=(0, 16)),
        )
        model = pvi.build_intervenable(net, [s])
        iv = next(iter(model.interventions.values()))
        for p in net.module.parameters():
            p.requires_grad_(False)
        opt = torch.optim.Adam(iv.rotate_layer.parameters(), lr=LR)
        target = torch.as_tensor(expected)
        stamps = []
        for batches in schedule_batches([ds], 1, STEP_EPOCHS, SEED):
            for _, idx in batches:
                base = {k: v[idx] for k, v in ds.base.items()}
                src = {k: v[idx] for k, v in ds.sources["v"].items()}
                kwargs = pvi.prepare_call(net, [s], base, [src], direct=True)[0]
                _, out = model(**kwargs)
                loss = torch.nn.functional.cross_entropy(
                    out.logits[:, -1, answers], target[torch.as_tensor(idx)]
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            stamps.append(time.perf_counter())
        return (stamps[-1] - stamps[0]) / (rows * (STEP_EPOCHS - 1))

    c_step(), p_step()  # warm-up
    rounds = []
    for _ in range(repeat):
        fa = forward_seconds(net, x1, calls=50)
        c, p = c_step(), p_step()
        fb = forward_seconds(net, x1, calls=50)
        f = (fa + fb) / 2
        rounds.append((f, c, p, c / f, p / f))
    med = [statistics.median(r[i] for r in rounds) for i in range(5)]
    return {
        "bench": "das-step",
        "case": "gpt2-4x256 layer 1 (last token), v on 16 of 256 dims, batch 1",
        "forward_us": round(med[0] * 1e6, 1),
        "step_us_causalabs": round(med[1] * 1e6, 1),
        "step_us_pyvene": round(med[2] * 1e6, 1),
        "step_ratio_causalabs": round(med[3], 2),
        "step_ratio_pyvene": round(med[4], 2),
        "target": {"step_ratio_causalabs_max": TARGETS["step_ratio_causalabs_max"]},
        "met": med[3] <= TARGETS["step_ratio_causalabs_max"],
        "repeat": repeat,
    }


def profile_step(
    network: Network, datasets: list[Any], top: int = 30
) -> list[dict[str, Any]]:
    prof = cProfile.Profile()
    steps = sum(len(ds.expected) for ds in datasets) * STEP_EPOCHS
    prof.enable()
    fit_das(
        network,
        Site(SITE),
        DIMS,
        datasets,
        epochs=STEP_EPOCHS,
        batch_size=1,
        lr=LR,
        seed=SEED,
    )
    prof.disable()
    raw: dict[Any, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    rows = []
    for (file, line, fn), (_cc, nc, own, cum, _callers) in raw.items():
        rows.append(
            {
                "bench": "das-profile",
                "function": f"{os.path.basename(file)}:{line}:{fn}",
                "calls_per_step": round(nc / steps, 2),
                "cum_us_per_step": round(cum / steps * 1e6, 2),
                "own_us_per_step": round(own / steps * 1e6, 2),
            }
        )
    return sorted(rows, key=lambda r: -r["cum_us_per_step"])[:top]


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=5, help="rounds of the batch-1 step measurement"
    )
    parser.add_argument("--epochs", type=int, default=heq_trained.DAS_EPOCHS)
    parser.add_argument(
        "--profile", action="store_true", help="also profile a causalabs batch-1 step"
    )
    parser.add_argument(
        "--no-gpt2", action="store_true", help="skip the GPT-2 batch-1 step-cost line"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    network = heq_trained.load()
    train = heq_trained.das_datasets(SEED + 10, SEED + 20)
    heldout = heq_trained.das_datasets(SEED + 30, SEED + 40, n=2_000)
    small = heq_trained.das_datasets(SEED + 50, SEED + 60, n=STEP_ROWS)
    print(
        json.dumps(
            {
                "bench": "das-setup",
                "torch": torch.__version__,
                "python": platform.python_version(),
                "threads": torch.get_num_threads(),
                "device": str(network.device),
                "case": CASE,
                "train_pairs": [len(ds.expected) for ds in train],
                "heldout_pairs": [len(ds.expected) for ds in heldout],
                "epochs": args.epochs,
                "batch": BATCH,
                "lr": LR,
                "targets": TARGETS,
            }
        ),
        flush=True,
    )

    # warm-up (imports, first-call costs) on the small data, both sides
    fit_das(
        network, Site(SITE), DIMS, small, epochs=1, batch_size=BATCH, lr=LR, seed=SEED
    )
    pyvene_das(network, small, epochs=1, batch_size=BATCH, lr=LR, seed=SEED)
    fit_das(network, Site(SITE), DIMS, small, epochs=1, batch_size=BATCH, lr=LR, seed=SEED, fast_mlp=False)

    t0 = time.perf_counter()
    slow = fit_das(
        network, Site(SITE), DIMS, train, epochs=args.epochs, batch_size=BATCH, lr=LR, seed=SEED, fast_mlp=False
    )
    slow_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = fit_das(
        network,
        Site(SITE),
        DIMS,
        train,
        epochs=args.epochs,
        batch_size=BATCH,
        lr=LR,
        seed=SEED,
    )
    causalabs_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    iv, pv_losses = pyvene_das(
        network, train, epochs=args.epochs, batch_size=BATCH, lr=LR, seed=SEED
    )
    pyvene_s = time.perf_counter() - t0

    iia_c = iia(network, Alignment(result.alignment.sites), heldout)
    iia_s = iia(network, Alignment(slow.alignment.sites), heldout)
    pv_align = pyvene_alignment(iv)
    iia_p = iia(network, pv_align, heldout)
    iia_p_own = iia(network, pv_align, heldout, backend="pyvene")

    x1 = network.encode({k: np.asarray(v)[:1] for k, v in train[0].base.items()})
    rounds = []
    for _ in range(args.repeat):
        fwd_a = forward_seconds(network, x1)
        c_step = causalabs_step_seconds(network, small)
        p_step = pyvene_step_seconds(network, small)
        f_step = causalabs_step_seconds(network, small, fast_mlp=False)
        fwd_b = forward_seconds(network, x1)
        fwd = (fwd_a + fwd_b) / 2
        rounds.append((fwd, c_step, p_step, c_step / fwd, p_step / fwd, f_step, f_step / fwd))
    med = [statistics.median(r[i] for r in rounds) for i in range(7)]

    speedup = pyvene_s / causalabs_s
    diff = iia_c["all"] - iia_p["all"]
    met = {
        "iia": abs(diff) <= TARGETS["iia_diff_max"],
        "speedup": speedup >= TARGETS["speedup_min"],
        "step_ratio": med[3] <= TARGETS["step_ratio_causalabs_max"],
    }
    line = {
        "bench": "das",
        "case": CASE,
        "causalabs_s": round(causalabs_s, 3),
        "pyvene_s": round(pyvene_s, 3),
        "speedup": round(speedup, 3),
        "iia_causalabs": round(iia_c["all"], 4),
        "iia_pyvene": round(iia_p["all"], 4),
        "iia_diff": round(diff, 4),
        "step_ratio_causalabs": round(med[3], 2),
        "step_ratio_pyvene": round(med[4], 2),
        "targets": TARGETS,
        "met": all(met.values()),
        "met_each": met,
        "autograd": {  # fit_das(..., fast_mlp=False): the general path, for comparison
            "causalabs_s": round(slow_s, 3),
            "speedup": round(pyvene_s / slow_s, 3),
            "iia": round(iia_s["all"], 4),
            "iia_diff": round(iia_s["all"] - iia_p["all"], 4),
            "step_us": round(med[5] * 1e6, 2),
            "step_ratio": round(med[6], 2),
        },
        "iia_causalabs_by_set": {k: round(v, 4) for k, v in iia_c.items()},
        "iia_pyvene_by_set": {k: round(v, 4) for k, v in iia_p.items()},
        "iia_pyvene_own": round(iia_p_own["all"], 4),
        "final_loss_causalabs": round(result.losses[-1], 4),
        "final_loss_pyvene": round(pv_losses[-1], 4),
        "forward_us": round(med[0] * 1e6, 2),
        "step_us_causalabs": round(med[1] * 1e6, 2),
        "step_us_pyvene": round(med[2] * 1e6, 2),
        "steps_total": sum(-(-len(ds.expected) // BATCH) for ds in train) * args.epochs,
        "repeat": args.repeat,
    }
    print(json.dumps(line), flush=True)
    if not args.no_gpt2:
        print(json.dumps(gpt2_step_case(args.repeat)), flush=True)
    if args.profile:
        for row in profile_step(network, small):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
