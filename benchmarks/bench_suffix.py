"""Suffix-only execution: per-pair cost as a fraction of a plain forward, native (suffix / full patch) vs pyvene.

Run (one command, about 10 minutes on a quiet CPU):

    python benchmarks/bench_suffix.py [--repeat R] [--only gpt2|gpt2-small|mlp|das|local] [--small-batch B]
        [--small-depths 1/4,1/2,3/4] [--pairs pool,no-repeat]

Prints one JSON line per case.  ``"bench": "suffix"`` lines:

    {"network": ..., "site": ..., "depth": "1/4", "pairs": "pool"|"no-repeat", "batch": 64,
     "forward_ms": ..., "suffix_ms": ..., "patch_ms": ..., "pyvene_ms": ...,
     "suffix_ratio": ..., "patch_ratio": ..., "pyvene_ratio": ..., "speedup_vs_pyvene": ...}

``forward_ms`` is a plain decoded forward of the ``batch`` bases; the other
timings are one :func:`~causalabs.engine.evaluate_pairs` call over ``batch``
pairs: ``suffix`` is the native backend on cached prefixes (the default),
``patch`` the native backend with ``suffix=False`` (one full patched pass per
pair, the path before suffix-only execution), ``pyvene`` the pyvene backend.
``*_ratio`` is the per-pair cost as a fraction of a plain forward (time
divided by ``forward_ms``: both cover ``batch`` rows).  Pairs are drawn from
a pool of 16 distinct inputs (``pool``) or with every base and source
distinct (``no-repeat``).  Lines with an issue target carry ``target`` and
``met``.

Networks (random init, eval, float32, one thread): GPT-2 4x256 (16 tokens,
batch 64), GPT-2-small-sized 12x768 (32 tokens, batch ``--small-batch``,
default 64), an MLP 16x4 one-hot -> 4 x 256 -> 2 (batch 64).  Sites: block
outputs at 1/4, 1/2, 3/4 depth (and the last block of the 4-layer GPT-2) at
the last token.  ``"bench": "suffix-das"`` lines: DAS epoch time on cached
site activations vs the full-network step (see :mod:`_suffix_das`);
``--pairs fresh-sources`` draws the bases from the pool and every source
fresh (most sources are never a base).  ``"bench": "suffix-local"`` lines:
position-local suffixes (see
:mod:`_suffix_local`).  The GPT-2 networks read every position's
logits; their pool-drawn pairs take the position-local path, keeping each
base's logits before the patch.  ``--last`` adds the GPT-2 cases (and DAS)
on the same networks declared to read only the last position
(``gpt2-4x256-last``, ``gpt2-12x768-last``, ``logits_to_keep=1``), which
keep none.

Timings are medians (``--stat min``: minima) of ``--repeat`` rounds after
warm-up, the calls of one case alternating within each round in an order
that rotates from round to round.  A script, not a test.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy / torch are imported

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import Pairs, _sync, mlp_network  # noqa: E402

from causalabs.engine import evaluate_pairs  # noqa: E402
from causalabs.network import Alignment, Decoded, Network, predict, site  # noqa: E402
from causalabs.network.sites import Site  # noqa: E402

POOL = 16
VOCAB = 1000
TARGETS = {
    ("gpt2-4x256", "transformer.h.1", "pool"): {"suffix_ratio_max": 0.8},
    ("gpt2-4x256", "transformer.h.3", "pool"): {"suffix_ratio_max": 0.45},
    ("gpt2-4x256", "transformer.h.1", "no-repeat"): {"suffix_ratio_max": 1.3},  # below its floor 1 + 2/4 (engine.md)
    ("gpt2-4x256", "transformer.h.1", "fresh-sources"): {"suffix_ratio_max": 1.3},
    ("gpt2-12x768", "transformer.h.8", "pool"): {"suffix_ratio_max": 0.4, "speedup_vs_pyvene_min": 4.0},
    ("gpt2-12x768-last", "transformer.h.8", "pool"): {"suffix_ratio_max": 0.4, "speedup_vs_pyvene_min": 4.0},
    ("mlp-4x256", "2", "pool"): {"speedup_vs_pyvene_min": 1.0},
    ("mlp-4x256", "6", "pool"): {"speedup_vs_pyvene_min": 1.0},
    ("mlp-4x256", "2", "no-repeat"): {"speedup_vs_pyvene_min": 1.0},
    ("mlp-4x256", "6", "no-repeat"): {"speedup_vs_pyvene_min": 1.0},
}


#: how rounds are summarised: "median" (default) or "min" (the least disturbed round, for a shared machine)
STAT = {"name": "median"}


def timed_rounds(calls: dict[str, Any], repeat: int, device: torch.device, warmup: int = 1) -> dict[str, float]:
    """Seconds of each call (median or min of ``repeat`` rounds, see :data:`STAT`).

    The calls alternate within every round, and the order rotates from round
    to round: on a small network the call right after another kind of call
    runs measurably slower (caches), which a fixed order would charge to
    the same call every time.
    """
    import statistics
    import time

    for _ in range(warmup):
        for fn in calls.values():
            fn()
    samples: dict[str, list[float]] = {k: [] for k in calls}
    names = list(calls)
    for r in range(repeat):
        for k in names[r % len(names) :] + names[: r % len(names)]:  # each call leads some rounds: no order bias
            fn = calls[k]
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            samples[k].append(time.perf_counter() - t0)
    pick = min if STAT["name"] == "min" else statistics.median
    return {k: pick(v) for k, v in samples.items()}


def gpt2(layers: int, width: int, seq: int, seed: int = 0) -> Network:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        n_layer=layers, n_embd=width, n_head=max(4, width // 64), n_positions=seq, vocab_size=VOCAB,
        bos_token_id=0, eos_token_id=0,
    )
    module = GPT2LMHeadModel(config).eval()
    names = tuple(f"t{i}" for i in range(seq))
    answers = [3, 5]

    def encode(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {"input_ids": torch.as_tensor(np.stack([batch[k] for k in names], axis=1))}

    def decode(out: Any) -> Decoded:
        scores = out.logits[:, -1, answers]
        return Decoded(scores.argmax(-1), scores, (0, 1))

    return Network(module, encode, decode, name=f"gpt2-{layers}x{width}", info={"seq": seq, "names": names})


def read_at_last(net: Network) -> Network:
    """The same GPT-2 declared to read the last position only (``logits_to_keep=1``), as a claim at the last
    token can: its position-local pairs then keep no logits from before the patch."""
    import attrs

    from causalabs.network.hf import hf_network

    encode = net.encode.__wrapped__  # type: ignore[attr-defined]
    lm = hf_network(net.module, lambda b: encode(b)["input_ids"], net.decode.__wrapped__,  # type: ignore[attr-defined]
                    name=net.name + "-last", logits_to_keep=1)
    return attrs.evolve(lm, info={**lm.info, **net.info})


def draw(n: int, names: tuple[str, ...], high: int, pool: int | None, seed: int, *, fresh_sources: bool = False) -> Pairs:
    """``n`` pairs: bases and sources from a pool of ``pool`` inputs, every one distinct (``pool`` None), or
    bases from the pool and every source fresh (``fresh_sources``: most sources are never a base)."""
    rng = np.random.default_rng(seed)
    width = len(names)
    if pool is None:
        rows_b, rows_s = rng.integers(0, high, (n, width)), rng.integers(0, high, (n, width))
    else:
        table = np.unique(rng.integers(0, high, (pool * 2, width)), axis=0)[:pool]
        rows_b, rows_s = table[rng.integers(0, len(table), n)], table[rng.integers(0, len(table), n)]
        if fresh_sources:
            rows_s = rng.integers(0, high, (n, width))
    as_batch = lambda rows: {k: np.ascontiguousarray(rows[:, j]) for j, k in enumerate(names)}  # noqa: E731
    zeros = np.zeros(n, dtype=np.int64)
    return Pairs(as_batch(rows_b), {"v": as_batch(rows_s)}, zeros, zeros)


def case(net: Network, s: Site, depth: str, pairs: Pairs, kind: str, repeat: int, pyvene: bool) -> dict[str, Any]:
    align = Alignment({"v": s})
    batch = len(pairs.expected)
    calls = {
        "forward": lambda: predict(net, pairs.base),
        "suffix": lambda: evaluate_pairs(net, align, pairs, batch_size=batch, soft=False),
        "patch": lambda: evaluate_pairs(net, align, pairs, batch_size=batch, soft=False, suffix=False),
    }
    if pyvene:
        calls["pyvene"] = lambda: evaluate_pairs(net, align, pairs, backend="pyvene", batch_size=batch, soft=False)
    fast = evaluate_pairs(net, align, pairs, batch_size=batch, soft=False)
    full = evaluate_pairs(net, align, pairs, batch_size=batch, soft=False, suffix=False)
    with torch.no_grad():
        t = timed_rounds(calls, repeat, net.device, warmup=1)
    pairs_kind = kind
    line: dict[str, Any] = {
        "bench": "suffix", "network": net.name, "site": s.name, "depth": depth, "pairs": pairs_kind,
        "batch": batch, "execution": fast.execution,
        "same_decisions": bool(np.array_equal(fast.predicted, full.predicted)),
        **{f"{k}_ms": round(v * 1e3, 3) for k, v in t.items()},
        **{f"{k}_ratio": round(v / t["forward"], 3) for k, v in t.items() if k != "forward"},
        "repeat": repeat, "stat": STAT["name"],
    }
    if pyvene:
        line["speedup_vs_pyvene"] = round(t["pyvene"] / t["suffix"], 3)
    line["speedup_vs_patch"] = round(t["patch"] / t["suffix"], 3)
    target = TARGETS.get((net.name, s.module, pairs_kind)) if s.subspace.is_all else None
    if target is not None:
        line["target"] = target
        line["met"] = all(
            line[key[: -len("_max")]] <= v if key.endswith("_max") else line[key[: -len("_min")]] >= v
            for key, v in target.items()
        )
    return line


def gpt2_cases(
    net: Network, depths: dict[str, int], batch: int, repeat: int, pyvene: bool, kinds: tuple[str, ...] = ("pool", "no-repeat")
) -> None:
    seq = int(net.info["seq"])
    names = net.info["names"]
    for depth, layer in depths.items():
        s = site(f"transformer.h.{layer}", positions=(seq - 1,))
        for kind in kinds:
            pool = None if kind == "no-repeat" else POOL
            pairs = draw(batch, names, VOCAB, pool, seed=batch + layer + (pool or 0), fresh_sources=kind == "fresh-sources")
            print(json.dumps(case(net, s, depth, pairs, kind, repeat, pyvene)), flush=True)


def mlp_cases(repeat: int, kinds: tuple[str, ...] = ("pool", "no-repeat")) -> None:
    from bench_engine import VALUES, draw_pairs

    net = mlp_network()
    # whole layers (a patch overwrites the whole tensor: bases with no pair of their own skip their prefix),
    # and half of layer 6's units (every base runs its prefix: the same arithmetic as pyvene)
    for depth, s in (("1/4", site("2")), ("3/4", site("6")), ("3/4", site("6", units=tuple(range(128))))):
        for kind in (k for k in kinds if k in ("pool", "no-repeat")):
            pool = POOL if kind == "pool" else None
            pairs = draw_pairs(64, VALUES, pool, seed=64 + (pool or 0))
            print(json.dumps(case(net, s, depth, pairs, kind, repeat, True)), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--only", choices=["gpt2", "gpt2-small", "mlp", "das", "local"], default=None)
    parser.add_argument("--small-batch", type=int, default=64, help="batch of the 12x768 cases")
    parser.add_argument("--small-repeat", type=int, default=3, help="timed rounds of the 12x768 cases")
    parser.add_argument("--no-pyvene", action="store_true")
    parser.add_argument("--small-depths", default="1/4,1/2,3/4", help="depths of the 12x768 cases, e.g. 3/4")
    parser.add_argument("--pairs", default="pool,no-repeat",
                        help="pair kinds, comma-separated: pool, no-repeat, fresh-sources (bases from the pool, "
                             "every source fresh; GPT-2 cases only)")
    parser.add_argument("--stat", choices=["median", "min"], default="median", help="summary of the timed rounds")
    parser.add_argument("--last", action="store_true",
                        help="also run the GPT-2 cases (and DAS) on the same networks read at the last position (logits_to_keep=1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    STAT["name"] = args.stat
    print(json.dumps({"bench": "suffix-setup", "torch": torch.__version__, "python": platform.python_version(),
                      "threads": torch.get_num_threads(), "cpu": platform.processor()}), flush=True)
    pyvene = not args.no_pyvene
    want = lambda name: args.only in (None, name)  # noqa: E731
    kinds = tuple(k for k in args.pairs.split(",") if k)
    small = {d: layer for d, layer in {"1/4": 2, "1/2": 5, "3/4": 8}.items() if d in args.small_depths.split(",")}
    if want("gpt2"):
        tiny = gpt2(4, 256, 16)
        for net in (tiny, read_at_last(tiny)) if args.last else (tiny,):
            gpt2_cases(net, {"1/4": 0, "1/2": 1, "3/4": 2, "last": 3}, 64, args.repeat, pyvene, kinds)
    if want("gpt2-small"):
        net = gpt2(12, 768, 32)
        gpt2_cases(net, small, args.small_batch, args.small_repeat, pyvene, kinds)
        if args.last:
            gpt2_cases(read_at_last(net), small, args.small_batch, args.small_repeat, pyvene, kinds)
    if want("mlp"):
        mlp_cases(args.repeat * 3, kinds)
    if want("das"):
        from _suffix_das import das_cases

        net = gpt2(12, 768, 32)
        for line in das_cases(net, repeat=1) + (das_cases(read_at_last(net), repeat=1) if args.last else []):
            print(json.dumps(line), flush=True)
    if want("local"):
        from _suffix_local import local_cases

        for line in local_cases(gpt2(12, 768, 32), repeat=args.small_repeat):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
