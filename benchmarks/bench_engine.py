"""Cost of an interchange (IIA) evaluation relative to a plain forward pass, native vs pyvene.

Run: ``python benchmarks/bench_engine.py [--repeat R] [--only gpt2|mlp] [--profile] [--device cuda]``.
Prints one JSON line per case:

    {"bench": "engine", "network": "gpt2-4x256", "batch": 64, "site": ...,
     "pairs": "pool"|"no-repeat", "pool_size": 16, "distinct_sources": ...,
     "forward_ms": ..., "native_ms": ..., "pyvene_ms": ...,
     "native_ratio": ..., "pyvene_ratio": ..., "speedup": ..., ...}

``forward_ms`` is a plain decoded forward (``causalabs.network.predict``) on
the base batch; ``native_ms`` / ``pyvene_ms`` is ``evaluate_pairs`` on the
same ``batch`` counterfactual pairs (one engine batch) with that backend;
``*_ratio`` divides by ``forward_ms``, ``speedup = pyvene_ms / native_ms``.
Pairs are drawn as real datasets draw them, bases and sources from a pool
of ``pool_size`` distinct inputs (``"pairs": "pool"``), and also with every
source distinct (``"pairs": "no-repeat"``, ``pool_size`` null).

Networks (random init, eval mode, float32, one thread): GPT-2 with 4 layers,
d=256, 4 heads, 16 tokens, vocabulary 1000, decoded as the argmax of the
last position's logits over two token ids; and an MLP (16 one-hot values
-> 4 x 256 -> 2); on ``--device cuda`` (default ``cpu``) every timed call
ends with a device synchronisation.  Sites: the output of layer 1 and of the last layer, at
the last token for GPT-2.  Timings are medians of ``--repeat`` rounds after
warm-up; the three timed calls of a case alternate within each round, so
machine noise hits them alike.  Issue targets (GPT-2, batch 64, layer-1
site): ``native_ratio <= 1.3`` and ``speedup >= 1.5``; the line for that
case carries ``"target"`` and ``"met"`` fields.

``--profile`` adds ``"bench": "engine-profile"`` lines: the functions where
the native evaluation of the GPT-2 batch-64 layer-1 case spends its time
(cProfile, cumulative and own time).

A script, not a test: timings belong in benchmarks, never in assertions.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy / torch are imported

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import attrs  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from causalabs.engine import evaluate_pairs  # noqa: E402
from causalabs.network import Alignment, Decoded, Network, argmax_decoder, predict, site  # noqa: E402
from causalabs.network.sites import Site  # noqa: E402

SEQ = 16
VOCAB = 1000
VALUES = 4  # MLP inputs: 16 values in range(4)
NAMES = tuple(f"t{i}" for i in range(SEQ))
POOL = 16
TARGET = {"native_ratio_max": 1.3, "speedup_min": 1.5}


# --- networks ----------------------------------------------------------------------------


def _stack(batch: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([batch[k] for k in NAMES], axis=1)


def gpt2_network(seed: int = 0) -> Network:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        n_layer=4, n_embd=256, n_head=4, n_positions=SEQ, vocab_size=VOCAB, bos_token_id=0, eos_token_id=0
    )
    module = GPT2LMHeadModel(config).eval()
    answers = [3, 5]

    def encode(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {"input_ids": torch.as_tensor(_stack(batch))}

    def decode(out: Any) -> Decoded:
        scores = out.logits[:, -1, answers]
        return Decoded(scores.argmax(-1), scores, (0, 1))

    return Network(module, encode, decode, name="gpt2-4x256")


def mlp_network(seed: int = 0) -> Network:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width_in = SEQ * VALUES
    for _ in range(4):
        layers += [nn.Linear(width_in, 256), nn.ReLU()]
        width_in = 256
    module = nn.Sequential(*layers, nn.Linear(256, 2)).eval()

    def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
        x = torch.as_tensor(_stack(batch))
        return nn.functional.one_hot(x, VALUES).flatten(1).float()

    return Network(module, encode, argmax_decoder((0, 1)), name="mlp-4x256")


# --- counterfactual pairs (duck-typed dataset: evaluate_pairs reads only these fields) -----


@attrs.frozen(eq=False)
class Pairs:
    base: dict[str, np.ndarray]
    sources: dict[str, dict[str, np.ndarray]]
    expected: np.ndarray
    base_output: np.ndarray
    intervened: tuple[str, ...] = ("v",)
    mode: str = "random"
    digest: str | None = None


def draw_pairs(n: int, high: int, pool: int | None, seed: int) -> Pairs:
    """``n`` pairs over sequences of ``SEQ`` tokens in ``range(high)``.

    ``pool``: bases and sources are drawn from ``pool`` distinct sequences;
    ``None``: every base and every source is its own fresh sequence.
    """
    rng = np.random.default_rng(seed)
    if pool is None:
        rows_b = rng.integers(0, high, (n, SEQ))
        rows_s = rng.integers(0, high, (n, SEQ))
    else:
        table = np.unique(rng.integers(0, high, (pool * 2, SEQ)), axis=0)[:pool]
        rows_b = table[rng.integers(0, len(table), n)]
        rows_s = table[rng.integers(0, len(table), n)]
    as_batch = lambda rows: {k: np.ascontiguousarray(rows[:, j]) for j, k in enumerate(NAMES)}  # noqa: E731
    zeros = np.zeros(n, dtype=np.int64)
    return Pairs(as_batch(rows_b), {"v": as_batch(rows_s)}, zeros, zeros)


# --- timing ------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_rounds(
    calls: dict[str, Callable[[], Any]], repeat: int, device: torch.device, warmup: int = 2
) -> dict[str, float]:
    """Median seconds of each call; the calls alternate within every round."""
    for _ in range(warmup):
        for fn in calls.values():
            fn()
    samples: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(repeat):
        for k, fn in calls.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            samples[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def run_case(net: Network, s: Site, batch: int, pool: int | None, high: int, repeat: int) -> dict[str, Any]:
    pairs = draw_pairs(batch, high, pool, seed=batch + (pool or 0))
    align = Alignment({"v": s})
    distinct = len(np.unique(_stack(pairs.sources["v"]), axis=0))
    calls = {
        "forward": lambda: predict(net, pairs.base),
        "native": lambda: evaluate_pairs(net, align, pairs, backend="native", batch_size=batch),
        "pyvene": lambda: evaluate_pairs(net, align, pairs, backend="pyvene", batch_size=batch),
    }
    with torch.no_grad():
        t = timed_rounds(calls, repeat, net.device)
    line: dict[str, Any] = {
        "bench": "engine",
        "network": net.name,
        "device": net.device.type,
        "batch": batch,
        "site": s.name,
        "pairs": "pool" if pool is not None else "no-repeat",
        "pool_size": pool,
        "distinct_sources": distinct,
        "forward_ms": round(t["forward"] * 1e3, 3),
        "native_ms": round(t["native"] * 1e3, 3),
        "pyvene_ms": round(t["pyvene"] * 1e3, 3),
        "native_ratio": round(t["native"] / t["forward"], 3),
        "pyvene_ratio": round(t["pyvene"] / t["forward"], 3),
        "speedup": round(t["pyvene"] / t["native"], 3),
        "repeat": repeat,
    }
    return line


def profile_native(net: Network, s: Site, batch: int, pool: int | None, rounds: int = 20) -> list[dict[str, Any]]:
    """Where the native evaluation spends its time (cProfile over ``rounds`` evaluations)."""
    pairs = draw_pairs(batch, VOCAB, pool, seed=batch + (pool or 0))
    align = Alignment({"v": s})
    evaluate_pairs(net, align, pairs, backend="native", batch_size=batch)
    prof = cProfile.Profile()
    with torch.no_grad():
        prof.enable()
        for _ in range(rounds):
            evaluate_pairs(net, align, pairs, backend="native", batch_size=batch)
        prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]  # pstats keeps its table untyped
    for (file, line, fn), (_cc, _nc, own, cum, _callers) in raw.items():
        name = f"{os.path.basename(file)}:{line}:{fn}"
        rows.append({"function": name, "own_ms": own / rounds * 1e3, "cum_ms": cum / rounds * 1e3})
    top = sorted(rows, key=lambda r: -r["cum_ms"])[:25]
    return [
        {
            "bench": "engine-profile",
            "network": net.name,
            "batch": batch,
            "site": s.name,
            "pairs": "pool" if pool is not None else "no-repeat",
            "function": r["function"],
            "cum_ms_per_eval": round(r["cum_ms"], 3),
            "own_ms_per_eval": round(r["own_ms"], 3),
        }
        for r in top
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed rounds per case (batch 1 runs 4x as many)")
    parser.add_argument("--only", choices=["gpt2", "mlp"], default=None)
    parser.add_argument("--profile", action="store_true", help="also profile the native GPT-2 batch-64 layer-1 case")
    parser.add_argument("--device", default="cpu", help="torch device for the networks (default cpu)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    header = {
        "bench": "engine-setup",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor(),
        "pool_size": POOL,
        "target": {"case": "gpt2-4x256, batch 64, layer-1 site", **TARGET},
    }
    print(json.dumps(header), flush=True)
    networks: list[tuple[Network, list[Site], int]] = []
    if args.only in (None, "gpt2"):
        networks.append(
            (
                gpt2_network().to(args.device),
                [site("transformer.h.1", positions=(SEQ - 1,)), site("transformer.h.3", positions=(SEQ - 1,))],
                VOCAB,
            )
        )
    if args.only in (None, "mlp"):
        networks.append((mlp_network().to(args.device), [site("2"), site("6")], VALUES))
    for net, sites, high in networks:
        for batch in (64, 1):
            for layer, s in zip(("layer 1", "last layer"), sites, strict=True):
                for pool in (POOL, None):
                    repeat = args.repeat * (4 if batch == 1 else 1)
                    line = run_case(net, s, batch, pool, high, repeat)
                    line["layer"] = layer
                    if net.name.startswith("gpt2") and batch == 64 and layer == "layer 1":
                        line["target"] = TARGET
                        line["met"] = bool(
                            line["native_ratio"] <= TARGET["native_ratio_max"]
                            and line["speedup"] >= TARGET["speedup_min"]
                        )
                    print(json.dumps(line), flush=True)
        if args.profile and net.name.startswith("gpt2"):
            for pool in (POOL, None):
                for row in profile_native(net, sites[0], 64, pool):
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
