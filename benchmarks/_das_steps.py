"""The cost of one DAS training step at batch 1 for bench_das.py, against a plain forward; and where it goes (cProfile)."""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import time
from typing import Any

import numpy as np
import torch
from _das_case import DIMS, LR, SEED, SITE, STEP_EPOCHS, TARGETS, schedule_batches
from _das_pyvene import pyvene_das

from causalabs.align.das import fit_das
from causalabs.align.rotation import LearnedRotation
from causalabs.backends import pyvene_interop as pvi
from causalabs.network import Network, Rotation
from causalabs.network.sites import Site, Subspace


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


def batch1_fit(network: Network, datasets: list[Any], **kw: Any) -> Any:
    """The measured run: DAS at batch 1 on the fixed schedule (``STEP_EPOCHS`` epochs, no early stop)."""
    return fit_das(network, Site(SITE), DIMS, datasets, epochs=STEP_EPOCHS, batch_size=1, lr=LR, patience=None,
                   seed=SEED, **kw)


def causalabs_step_seconds(network: Network, datasets: list[Any], fast_mlp: bool | None = None) -> float:
    stamps: list[float] = []
    batch1_fit(network, datasets, progress=lambda *_: stamps.append(time.perf_counter()), fast_mlp=fast_mlp)
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
            patience=None,
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
    batch1_fit(network, datasets)
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
