"""Pairs on cached prefixes: every distinct input's prefix once, each pair one suffix pass.

When every intervened site lies at one module location and the network has
a checked suffix there (:func:`~causalabs.network.suffix.checked_suffix`),
a dataset of ``P`` pairs over ``N`` distinct inputs costs ``N`` prefixes
(the forward up to the site, stopped there) and ``P`` suffixes (the layers
after it), instead of ``P`` full patched passes.

The distinct inputs (bases and sources together) are recorded in chunks of
at most ``memory`` bytes of activations.  When they fit in one chunk (the
usual case) each distinct input runs its prefix exactly once.  Otherwise a
first pass records the (small) site vectors of every input and a second
pass records the whole tensor of each chunk's bases again while that
chunk's pairs run: each distinct input's prefix then runs at most twice,
and the memory held stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from causalabs.backends import RunsSuffix
from causalabs.engine.distinct import DistinctInputs
from causalabs.errors import NonFiniteError
from causalabs.network.network import Decoded, Network, take_rows
from causalabs.network.sites import Site, site
from causalabs.network.suffix import PrefixFn, Suffix, checked_suffix, may_have_prefix

Batch = dict[str, np.ndarray]
#: Called on every decoded pass with the pair indices it covers; returns (values, P(expected) or None).
Finish = Callable[[Decoded, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
#: What a suffix path returns: per pass the values, the P(expected) (or None) and the pair indices covered;
#: or, when the path does not apply, the reason (a string).
PathResult = tuple[list[torch.Tensor], list[torch.Tensor | None], list[torch.Tensor]] | str

#: Default bound on the bytes of recorded activations held at once (on the network's device).
DEFAULT_MEMORY = 1 << 30
#: Default bound on the bytes of recorded activations spilled to host memory when an accelerator's bound is
#: exceeded (see :func:`spill_target`).
DEFAULT_HOST_MEMORY = 8 << 30


def spill_target(device: torch.device, need: int, host_memory: int) -> torch.device | None:
    """Where recorded tensors of ``need`` bytes go when they exceed the device's bound: the host, when
    ``device`` is an accelerator and they fit ``host_memory`` (each batch's rows then go back to the device
    as it runs); None on a CPU device (the host is the device) or beyond that bound."""
    return torch.device("cpu") if device.type != "cpu" and need <= host_memory else None


def held_on(device: torch.device, need: int, memory: int, host_memory: int) -> torch.device | None:
    """Where recorded tensors of ``need`` bytes are held: on ``device`` within ``memory``, else where
    :func:`spill_target` puts them (None: they are not held)."""
    return device if need <= memory else spill_target(device, need, host_memory)


def location(sites: Sequence[Site]) -> tuple[str, str] | None:
    """The one ``(module, io)`` all ``sites`` share, or None."""
    places = {(s.module, s.io) for s in sites}
    return next(iter(places)) if len(places) == 1 else None


def run_on_prefixes(
    network: Network,
    runner: RunsSuffix,
    distinct: DistinctInputs,
    base: Batch,
    sites: Sequence[Site],
    *,
    batch_size: int,
    finish: Finish,
    memory: int = DEFAULT_MEMORY,
    host_memory: int = DEFAULT_HOST_MEMORY,
) -> PathResult:
    """Every pair through the suffix after the sites' location, or the reason this path does not apply.

    ``distinct``: the dataset's distinct inputs (``base`` and the sources),
    deduplicated and encoded once for every path tried.  Returns per-pass
    decoded values, probabilities and the pair indices of each pass (pairs
    run in dataset order within each chunk of bases).  Pairs whose every
    source is the base input keep the base's own vectors (as in
    :meth:`~causalabs.backends.native.NativeBackend.patch`).
    """
    place = location(sites)
    if place is None:
        return "the sites lie at more than one module location"
    if distinct.shares_nothing():  # the full patch runs no more prefixes
        return "no base input repeats or is also a source, so a suffix pass would save no prefix pass"
    names = distinct.names
    n = distinct.n
    rows = distinct.rows
    u = len(rows)
    device = network.device
    inputs = distinct.inputs
    check = checked_suffix(network, *place, inputs)
    if check.suffix is None:
        return check.reason
    suffix = check.suffix
    whole = site(place[0], io=place[1])
    same = distinct.self_sourced()
    inverse = distinct.ids_on(device)
    base_idx = inverse[0]
    # the first pass: site vectors of every distinct input (and the whole tensor, while it fits)
    vectors: dict[Any, list[torch.Tensor]] = {}
    held: list[torch.Tensor] = []
    chunk_rows = u
    store: torch.device | None = device  # where the whole tensors are held (None: recorded again by chunks)
    for start in range(0, u, batch_size):
        part = _views(rows[start : start + batch_size], names)
        part_inputs = inputs if u <= batch_size else take_rows(inputs, torch.arange(start, min(u, start + batch_size), device=device))
        got = runner.record(network, part, [whole, *sites], inputs=part_inputs, prefix=suffix.prefix)
        for key in {s.location_key() for s in sites}:
            vectors.setdefault(key, []).append(got[key])
        h = got[whole.location_key()]
        per_row = max(1, h[0].numel() * h.element_size())
        chunk_rows = max(batch_size, memory // per_row)
        store = held_on(device, u * per_row, chunk_rows * per_row, host_memory)
        if store is not None:
            held.append(h if store == device else h.to(store))
        else:
            held = []  # it does not fit: the second pass records the bases chunk by chunk
    joined = {key: torch.cat(parts) for key, parts in vectors.items()}
    site_vectors = [joined[s.location_key()] for s in sites]
    source_idx = inverse[1:]
    predicted: list[torch.Tensor] = []
    probs: list[torch.Tensor | None] = []
    covered: list[torch.Tensor] = []
    one_chunk = store is not None
    if one_chunk:
        chunk_rows = u
    for lo in range(0, u, chunk_rows):
        hi = min(u, lo + chunk_rows)
        if one_chunk:
            acts = torch.cat(held) if len(held) > 1 else held[0]
        else:
            acts = torch.cat([
                runner.record(
                    network, _views(rows[a : min(hi, a + batch_size)], names), [whole],
                    inputs=take_rows(inputs, torch.arange(a, min(hi, a + batch_size), device=device)),
                    prefix=suffix.prefix,
                )[whole.location_key()]
                for a in range(lo, hi, batch_size)
            ])
        if one_chunk:
            pairs = torch.arange(n, device=device)
        else:
            pairs = torch.nonzero((base_idx >= lo) & (base_idx < hi)).flatten()
        for start in range(0, len(pairs), batch_size):
            idx = pairs[start : start + batch_size]
            rows_b = base_idx.index_select(0, idx)
            h = acts.index_select(0, (rows_b - lo).to(acts.device)).to(device)  # from the host when spilled
            idx_np = idx.cpu().numpy()
            whole_base = len(idx_np) == n and one_chunk  # the pairs in dataset order: the base batch itself
            chunk = base if whole_base else {k: v[idx_np] for k, v in base.items()}
            patches = [(s, site_vectors[i].index_select(0, source_idx[i].index_select(0, idx))) for i, s in enumerate(sites)]
            mine = same[idx_np]
            keep = torch.from_numpy(mine).to(device) if mine.any() else None
            try:
                out = runner.patch_suffix(
                    network, suffix, h, chunk, patches, inputs=take_rows(inputs, rows_b) if suffix.reads_inputs else None,
                    keep=keep,
                )
                dec = network.decode(out)
            except NonFiniteError as exc:
                raise NonFiniteError(f"{exc}, with {', '.join(s.name for s in sites)} patched") from None
            value, prob = finish(dec, idx)
            predicted.append(value)
            probs.append(prob)
            covered.append(idx)
    return predicted, probs, covered


def _views(rows: np.ndarray, names: Sequence[str]) -> Batch:
    """Distinct rows as the batch a recording pass reads positions from (column views, no copies)."""
    return dict(zip(names, rows.T))


def plain_suffix(network: Network, runner: RunsSuffix | None, sites: Sequence[Site], distinct: DistinctInputs) -> Suffix | None:
    """The checked suffix at the sites' one location when it has a plain prefix (:attr:`Suffix.prefix`), for
    full passes without hooks: prefix, patch, suffix (:func:`~causalabs.engine.evaluate.run_patched`); else None."""
    place = location(sites)
    if runner is None or place is None or not may_have_prefix(network):
        return None
    found = checked_suffix(network, *place, distinct.inputs).suffix
    return found if found is not None and found.prefix is not None else None


def record_rows(
    runner: RunsSuffix, network: Network, distinct: DistinctInputs, which: np.ndarray, sites: Sequence[Site],
    batch_size: int, prefix: PrefixFn | None = None,
) -> dict[Any, torch.Tensor]:
    """The site vectors of the distinct rows ``which`` (a mask), in row order, ``batch_size`` rows a pass
    (through ``prefix`` alone when given, a checked suffix's plain prefix; else a pass stopped at the sites)."""
    rows = np.flatnonzero(which)
    store: dict[Any, list[torch.Tensor]] = {}
    for start in range(0, len(rows), batch_size):
        part = rows[start : start + batch_size]
        encoded = take_rows(distinct.inputs, torch.as_tensor(part, device=network.device))
        got = runner.record(network, _views(distinct.rows[part], distinct.names), sites, inputs=encoded, prefix=prefix)
        for key, t in got.items():
            store.setdefault(key, []).append(t)
    return {key: torch.cat(ts) if len(ts) > 1 else ts[0] for key, ts in store.items()}


def cached_prefix(
    runner: RunsSuffix, network: Network, inputs: Batch, encoded: Any, sites: Sequence[Site], batch_size: int,
    memory: int = DEFAULT_MEMORY, host_memory: int = DEFAULT_HOST_MEMORY,
) -> tuple[RunsSuffix, Suffix, torch.Tensor] | None:
    """Every row of ``inputs``' tensor at the sites' one location and its checked suffix, for
    :func:`~causalabs.engine.evaluate.run_patched`; None where no suffix applies or it would exceed ``memory``
    (on an accelerator: spilled to the host within ``host_memory``, see :func:`spill_target`)."""
    place = location(sites)
    if place is None:
        return None
    check = checked_suffix(network, *place, encoded)
    if check.suffix is None:
        return None
    whole = site(place[0], io=place[1])
    n = len(next(iter(inputs.values())))
    device = network.device
    parts: list[torch.Tensor] = []
    store: torch.device | None = device
    for start in range(0, n, batch_size):
        rows = torch.arange(start, min(n, start + batch_size), device=device)
        chunk = {k: v[start : start + batch_size] for k, v in inputs.items()}
        h = runner.record(network, chunk, [whole], inputs=take_rows(encoded, rows), prefix=check.suffix.prefix)
        h = h[whole.location_key()]
        if start == 0:  # every row holds as much: decide where all of them go
            need = h[0].numel() * h.element_size() * n
            store = held_on(device, need, memory, host_memory)
            if store is None:
                return None
        parts.append(h if store == device else h.to(store))
    return runner, check.suffix, torch.cat(parts)
