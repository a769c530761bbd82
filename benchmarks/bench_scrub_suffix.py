"""Causal scrubbing before/after cached prefixes: per-reference cost of the full patched final pass vs the suffix.

Run (one command, a minute or two on a quiet CPU):

    python benchmarks/bench_scrub_suffix.py [--repeat R] [--batch B] [--refs N] [--scrub-repeat S] [--only all|final|inner]

Prints one JSON line per case:

    {"bench": "scrub-suffix", "network": ..., "sites": ..., "execution": "suffix", "batch": B,
     "patch_us_per_ref": ..., "suffix_us_per_ref": ..., "speedup": ..., "setup_ms": ...,
     "scrub_patch_s": ..., "scrub_suffix_s": ..., "scrub_speedup": ..., "same_results": true}

``*_us_per_ref``: one batch of ``B`` references through
``causalabs.scrub.resampling.scrubbed_outputs`` (sampling, every partial pass
and the final pass), divided by ``B``; ``patch`` runs the final pass as a
full patched forward (``scrub(..., suffix=False)``), ``suffix`` on the
cached prefixes.  ``setup_ms``: recording every distinct dataset input's
tensor at the final pass's location (``scrub`` records each input when it
is first drawn, once per call; the rounds time the steady state).
``scrub_*_s``: one whole ``scrub`` call over ``--refs`` references (its
plain original and random forwards and the bootstrap included), suffix path
vs full path, medians of ``--scrub-repeat`` alternating rounds;
``same_results``: the two calls' per-reference correctness and losses agree
(decisions exactly, losses within 1e-5).  Medians of ``--repeat``
alternating rounds after warm-up, one thread.  A script, not a test.

Inner levels (``--only inner`` prints only these; lines come first): a scrub whose hypothesis
claims an inner node (height >= 1), one batch of ``B`` references through ``scrubbed_outputs``:

    {"bench": "scrub-suffix-inner", "network": ..., "sites": ..., "levels": [nodes per level],
     "execution": "suffix", "patch_s_per_ref": ..., "before_s_per_ref": ..., "after_s_per_ref": ...,
     "speedup_after_vs_before": ..., "speedup_after_vs_patch": ..., "cached_locations": [...],
     "same_results": true, ...}

``patch``: every pass in full; ``before``: the final pass on cached prefixes and the inner levels and
leaves in full (scrubbing before inner levels used the cache); ``after``: every pass that can on
cached prefixes (:func:`causalabs.scrub.suffix_levels.scrub_prefixes`).  Seconds per reference,
medians of ``--repeat`` alternating rounds, after every distinct input's prefix was recorded
(``setup_*_ms``).  ``same_results``: decoded values equal and scores within 1e-5 on one batch.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scrub import _wide_mlp  # noqa: E402

from causalabs import enumerate_inputs, run  # noqa: E402
from causalabs.backends.native import NativeBackend  # noqa: E402
from causalabs.engine.prefixes import DEFAULT_MEMORY  # noqa: E402
from causalabs.loading import load_hypothesis, load_module  # noqa: E402
from causalabs.network import Network, load_network, site  # noqa: E402
from causalabs.scrub import correspondence, scrub  # noqa: E402
from causalabs.scrub.plan import ScrubPlan  # noqa: E402
from causalabs.scrub.resampling import encoded_once, scrubbed_outputs  # noqa: E402
from causalabs.scrub.sampling import AgreeingSampler  # noqa: E402
from causalabs.scrub.suffix_levels import ScrubPrefixes, scrub_prefixes  # noqa: E402
from causalabs.scrub.suffix_pass import final_pass, prefix_cache  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _setup(network: Network, hyp: Any, sites: dict[str, Any], data: dict[str, np.ndarray], batch: int) -> Any:
    """What both kinds of case time: the plan, its sampler, the native backend, ``batch`` references and the
    network encoded once (its fast twin and the table it gathers from)."""
    corr = correspondence(hyp, sites)
    plan = ScrubPlan(corr)
    n_data = len(next(iter(data.values())))
    sampler = AgreeingSampler(corr.model, run(corr.model, data), n_data)
    fast, table = encoded_once(network, data)
    return plan, n_data, sampler, NativeBackend(), np.arange(batch) % n_data, fast, table


def case(name: str, network: Network, hyp: Any, sites: dict[str, Any], data: dict[str, np.ndarray], args: Any) -> dict[str, Any]:
    plan, n_data, sampler, backend, refs, fast, table = _setup(network, hyp, sites, data, args.batch)
    t0 = time.perf_counter()
    cached = scrub_prefixes(network, fast, table, plan, n_data, backend, batch_size=1024, memory=DEFAULT_MEMORY)
    if cached.cache is not None:
        cached.cache.tensors(next(iter(cached.cache.wholes)), np.arange(n_data))  # every distinct input's prefix now
    setup = time.perf_counter() - t0
    line: dict[str, Any] = {"bench": "scrub-suffix", "network": name, "sites": {k: s.name for k, s in sites.items()},
                            "execution": cached.execution, "batch": args.batch}
    rngs = {"patch": np.random.default_rng(0), "suffix": np.random.default_rng(0)}
    calls = {
        "patch": lambda: scrubbed_outputs(fast, plan, sampler, table, refs, rngs["patch"], backend),
        "suffix": lambda: scrubbed_outputs(fast, plan, sampler, table, refs, rngs["suffix"], backend, cached),
    }
    with torch.no_grad():
        for fn in calls.values():
            fn()
        times: dict[str, list[float]] = {k: [] for k in calls}
        for _ in range(args.repeat):
            for k, fn in calls.items():
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    results: dict[bool, Any] = {}
    whole: dict[bool, list[float]] = {True: [], False: []}
    for suffix in (True, False):  # warm-up (the suffix check runs once per network and location)
        scrub(network, hyp, sites, data, n=64, seed=0, suffix=suffix)
    for _ in range(args.scrub_repeat):
        for suffix in (True, False):
            t = time.perf_counter()
            results[suffix] = scrub(network, hyp, sites, data, n=args.refs, seed=0, suffix=suffix)
            whole[suffix].append(time.perf_counter() - t)
    fast_r, full_r = results[True], results[False]
    t_fast, t_full = statistics.median(whole[True]), statistics.median(whole[False])
    same = bool(np.array_equal(fast_r.per_reference["correct"], full_r.per_reference["correct"])) and all(
        np.allclose(fast_r.per_reference[k], full_r.per_reference[k], rtol=0, atol=1e-5) for k in ("scrubbed", "original", "random")
    )
    line |= {
        "patch_us_per_ref": round(med["patch"] / args.batch * 1e6, 3),
        "suffix_us_per_ref": round(med["suffix"] / args.batch * 1e6, 3),
        "speedup": round(med["patch"] / med["suffix"], 3),
        "setup_ms": round(setup * 1e3, 3),
        "distinct_inputs": cached.cache.recorded if cached.cache is not None else None,
        "refs": args.refs, "scrub_suffix_s": round(t_fast, 4), "scrub_patch_s": round(t_full, 4),
        "scrub_speedup": round(t_full / t_fast, 3), "scrub_execution": fast_r.execution,
        "same_results": same, "repeat": args.repeat, "torch": torch.__version__,
    }
    return line


def _final_only(network: Network, fast: Network, table: dict[str, np.ndarray], plan: ScrubPlan, n_data: int, backend: NativeBackend) -> ScrubPrefixes:
    """The passes as they ran before inner levels used cached prefixes: the final pass only."""
    cache = prefix_cache(fast, table, n_data, backend, 1024)
    assert not isinstance(cache, str)
    final = final_pass(network, cache, [plan.site(c) for c in plan.nodes[0].children], DEFAULT_MEMORY)
    assert not isinstance(final, str), final
    heights = [plan.nodes[lv[0]].height for lv in plan.levels]
    return ScrubPrefixes(cache, final, [None] * len(plan.levels), heights, ["suffix", *["patch: before"] * len(plan.levels)])


def inner_case(name: str, network: Network, hyp: Any, sites: dict[str, Any], data: dict[str, np.ndarray], args: Any) -> dict[str, Any]:
    """A scrub with inner claimed nodes: per-reference cost with every pass in full, the final pass only on
    cached prefixes (before), and every pass that can on cached prefixes (after)."""
    plan, n_data, sampler, backend, refs, fast, table = _setup(network, hyp, sites, data, args.batch)
    before = _final_only(network, fast, table, plan, n_data, backend)
    after = scrub_prefixes(network, fast, table, plan, n_data, backend, batch_size=1024, memory=DEFAULT_MEMORY)
    setup: dict[str, float] = {}
    for key, pre in (("before", before), ("after", after)):
        t = time.perf_counter()
        assert pre.cache is not None
        pre.cache.tensors(next(iter(pre.cache.wholes)), np.arange(n_data))  # every distinct input's prefix now
        setup[key] = time.perf_counter() - t
    ways = {"patch": None, "before": before, "after": after}
    outs = {k: scrubbed_outputs(fast, plan, sampler, table, refs, np.random.default_rng(7), backend, pre) for k, pre in ways.items()}
    dec = {k: network.decode(v) for k, v in outs.items()}
    same = all(
        torch.equal(dec[k].values, dec["patch"].values)
        and (dec[k].scores is None or torch.allclose(dec[k].scores, dec["patch"].scores, rtol=0, atol=1e-5))
        for k in ("before", "after")
    )
    rngs = {k: np.random.default_rng(0) for k in ways}
    times: dict[str, list[float]] = {k: [] for k in ways}
    with torch.no_grad():
        for _ in range(args.repeat):
            for k, pre in ways.items():
                t = time.perf_counter()
                scrubbed_outputs(fast, plan, sampler, table, refs, rngs[k], backend, pre)
                times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "bench": "scrub-suffix-inner", "network": name, "sites": {k: s.name for k, s in sites.items()},
        "levels": [len(lv) for lv in plan.levels], "execution": after.execution, "batch": args.batch,
        **{f"{k}_s_per_ref": float(f"{med[k] / args.batch:.4g}") for k in ways},
        "speedup_after_vs_before": round(med["before"] / med["after"], 3),
        "speedup_after_vs_patch": round(med["patch"] / med["after"], 3),
        "setup_before_ms": round(setup["before"] * 1e3, 3), "setup_after_ms": round(setup["after"] * 1e3, 3),
        "cached_locations": [f"{m}.{io}" for m, io in after.cache.wholes] if after.cache is not None else [],
        "distinct_inputs": after.cache.recorded if after.cache is not None else None,
        "same_results": same, "repeat": args.repeat, "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--refs", type=int, default=8192)
    ap.add_argument("--scrub-repeat", type=int, default=3, help="alternating rounds of the whole scrub calls")
    ap.add_argument("--only", choices=("all", "final", "inner"), default="all",
                    help="final: the final-pass lines; inner: the inner-level lines (scrub-suffix-inner)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    trained_path = ROOT / "models" / "heq_trained.py"
    mod = load_module(trained_path)
    hyp = load_hypothesis(f"{ROOT / 'hypotheses' / 'heq_pool.py'}:HierarchicalEqualityPool")
    data = mod.balanced_inputs(2_000, 123)
    if args.only != "final":
        wide = _wide_mlp(mod.make_objects())
        halves = {"left": site("2", units=range(512)), "right": site("2", units=range(512, 1024))}
        for out in ("4", "8"):
            print(json.dumps(inner_case("mlp-6x1024", wide, hyp, halves | {"out": site(out)}, data, args)), flush=True)
        sort = ROOT / "models" / "tracr" / "tracr_sort.py"
        sort_hyp = load_hypothesis(f"{ROOT / 'hypotheses' / 'tracr_programs.py'}:TracrSort")
        print(json.dumps(inner_case("tracr_sort", load_network(sort), sort_hyp, dict(load_module(sort).alignment().sites),
                                    enumerate_inputs(sort_hyp), args)), flush=True)
        if args.only == "inner":
            return 0
    print(json.dumps(case("heq_trained", load_network(trained_path), hyp, dict(mod.alignment().sites), data, args)), flush=True)
    wide = _wide_mlp(mod.make_objects())
    halves = {"left": site("2", units=range(512)), "right": site("2", units=range(512, 1024))}
    print(json.dumps(case("mlp-6x1024", wide, hyp, halves, data, args)), flush=True)
    late = {"left": site("8", units=range(512)), "right": site("8", units=range(512, 1024))}
    print(json.dumps(case("mlp-6x1024", wide, hyp, late, data, args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
