"""Pairs on position-local suffixes: a causal decoder's pair runs only the positions from the patch on.

Applies when every intervened site is one decoder block location with fixed
positions, and the network reads logits only after the first patched
position (:mod:`causalabs.network.suffix_local`), and some base input
repeats.  Every distinct base runs once: a full forward keeping the tensor
at the site and the suffix layers' keys and values before the first patched
position; an input that is only ever a source runs only up to the site; a
pair then costs the blocks after the site for the positions from the patch
on.  With no base repeated the prefix-cached path costs no more (each base
runs whole there too) and saves the local passes, so it runs instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from causalabs.backends import RunsSuffix
from causalabs.engine.distinct import DistinctInputs
from causalabs.engine.prefixes import DEFAULT_HOST_MEMORY, Finish, PathResult, held_on, location, record_rows
from causalabs.errors import NonFiniteError
from causalabs.network.network import Network, take_rows
from causalabs.network.sites import Site, fixed_positions
from causalabs.network.suffix_local import LocalCache, LocalRows, checked_local_suffix, is_local_decoder

Batch = dict[str, np.ndarray]


def run_local(
    network: Network,
    runner: RunsSuffix,
    distinct: DistinctInputs,
    base: Batch,
    sites: Sequence[Site],
    *,
    batch_size: int,
    finish: Finish,
    memory: int,
    host_memory: int = DEFAULT_HOST_MEMORY,
) -> PathResult:
    """Every pair through the position-local suffix, or the reason it does not apply: ``""`` where the
    network is no decoder it supports (nothing to say), else a sentence.

    ``distinct``: the dataset's distinct inputs (``base`` and the sources),
    deduplicated and encoded once for every path tried.
    """
    if not is_local_decoder(network):
        return ""
    place = location(sites)
    if place is None:
        return "the sites lie at more than one module location, which the position-local path needs as one"
    bases = np.unique(distinct.ids[0])  # the distinct rows some pair has as its base
    n = distinct.n
    if len(bases) == n:  # each base runs whole here, as on the prefix-cached path, plus one local pass a pair
        return "no base input repeats, so the position-local path would save no pass over the prefix-cached one"
    if any(s.positions is None for s in sites):
        return "a patch at every position leaves no earlier position to cache"
    every = distinct.batch()
    fixed = {s.location_key(): fixed_positions(network, s, every) for s in sites}
    if any(f is None for f in fixed.values()):
        return "the position-local path needs positions that are the same in every input"
    positions = tuple(sorted({q for f in fixed.values() for q in f}))  # type: ignore[union-attr]
    u = len(distinct)
    device = network.device
    inputs_u = distinct.inputs
    local, reason = checked_local_suffix(network, *place, positions, inputs_u)
    if local is None:
        return reason
    # every distinct base once: a full forward keeping the tensor at the site and the keys and values before
    # the patch; an input that is only ever a source runs only up to the site (its vectors are all it gives)
    hs: list[torch.Tensor] = []
    parts: list[LocalCache] = []
    store: torch.device | None = device
    for start in range(0, len(bases), batch_size):
        rows = torch.as_tensor(bases[start : start + batch_size], device=device)
        h, part = local.record(take_rows(inputs_u, rows))
        if start == 0:  # every row holds as much: decide where all of them go
            need = int((h.numel() * h.element_size() + part.nbytes) / len(rows) * len(bases))
            store = held_on(device, need, memory, host_memory)
            if store is None:
                return "the inputs' cached keys and values (and logits read before the patch) would exceed the memory bound"
        if store != device:  # spilled to the host: each batch's rows go back to the device
            h, part = h.to(store), part.to(store)  # type: ignore[arg-type]
        hs.append(h)
        parts.append(part)
    h_all = torch.cat(hs)
    cached = LocalRows(take_rows(inputs_u, torch.as_tensor(bases, device=device)), LocalCache.cat(parts))
    at_base = np.full(u, -1, dtype=np.int64)
    at_base[bases] = np.arange(len(bases))
    vectors = _source_vectors(runner, network, distinct, sites, fixed, bases, h_all, batch_size)  # type: ignore[arg-type]
    ids = distinct.ids_on(device)
    base_idx, source_idx = ids[0], ids[1:]
    same_t = torch.from_numpy(distinct.self_sourced()).to(device)
    predicted: list[torch.Tensor] = []
    probs: list[torch.Tensor | None] = []
    covered: list[torch.Tensor] = []
    base_at = torch.as_tensor(at_base, device=device).index_select(0, base_idx)  # each pair's base among ``bases``
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(n, start + batch_size), device=device)
        b = base_at.index_select(0, idx)
        chunk = {k: v[start : start + batch_size] for k, v in base.items()}
        patches = [(s, vectors[s.location_key()].index_select(0, source_idx[i].index_select(0, idx))) for i, s in enumerate(sites)]
        keep = same_t[start : start + batch_size]
        try:
            out = runner.patch_suffix(
                network, local.suffix, h_all.index_select(0, b.to(h_all.device)).to(device), chunk, patches,
                inputs=cached.take(b, device), keep=keep if bool(keep.any()) else None,
            )
            dec = network.decode(out)
        except NonFiniteError as exc:
            raise NonFiniteError(f"{exc}, with {', '.join(s.name for s in sites)} patched") from None
        value, prob = finish(dec, idx)
        predicted.append(value)
        probs.append(prob)
        covered.append(idx)
    return predicted, probs, covered


def _source_vectors(
    runner: RunsSuffix, network: Network, distinct: DistinctInputs, sites: Sequence[Site],
    fixed: dict[Any, tuple[int, ...]], bases: np.ndarray, h_bases: torch.Tensor, batch_size: int,
) -> dict[Any, torch.Tensor]:
    """Each site's vectors for every distinct row (on the device): a base's from its recorded tensor at the
    site's positions (``fixed``, by location key), as collect records them; an input that is only ever a
    source from a pass that stops at the site."""
    device = network.device
    length = h_bases.shape[1]
    u = len(distinct)
    is_base = np.zeros(u, dtype=bool)
    is_base[bases] = True
    only = distinct.source_mask() & ~is_base
    out: dict[Any, torch.Tensor] = {}
    for s in sites:
        key = s.location_key()
        if key in out:
            continue
        at = h_bases[:, [q % length for q in fixed[key]]].to(device)
        out[key] = at.new_zeros((u, *at.shape[1:]))
        out[key][torch.as_tensor(bases, device=device)] = at
    if only.any():
        rows = torch.as_tensor(np.flatnonzero(only), device=device)
        for key, vec in record_rows(runner, network, distinct, only, sites, batch_size).items():
            out[key][rows] = vec.to(out[key].dtype)
    return out
