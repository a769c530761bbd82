"""Pairs on position-local suffixes: a causal decoder's pair runs only the positions from the patch on.

Applies when every intervened site is one decoder block location with fixed
positions, and the network reads logits only after the first patched
position (:mod:`causalabs.network.suffix_local`).  Every distinct input
(bases and sources together) runs once: a full forward keeping the tensor at
the site and the suffix layers' keys and values before the first patched
position; a pair then costs the blocks after the site for the positions from
the patch on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from causalabs.backends import RunsSuffix
from causalabs.engine.distinct import DistinctInputs
from causalabs.engine.prefixes import DEFAULT_HOST_MEMORY, Finish, PathResult, location, spill_target
from causalabs.errors import NonFiniteError
from causalabs.network.network import Network, take_rows
from causalabs.network.sites import Site
from causalabs.network.suffix_local import LocalRows, checked_local_suffix

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
    """Every pair through the position-local suffix, or the reason it does not apply.

    ``distinct``: the dataset's distinct inputs (``base`` and the sources),
    deduplicated and encoded once for every path tried.
    """
    place = location(sites)
    if place is None:
        return "the sites lie at more than one module location"
    if not all(isinstance(s.positions, tuple) for s in sites):
        return "position-local suffixes need fixed positions"
    if distinct.shares_nothing():  # every input would run whole, sources too: the full patch costs less
        return "no base input repeats or is also a source, so the position-local path would save no pass"
    positions = tuple(sorted({q for s in sites for q in s.positions}))  # type: ignore[union-attr]
    n = distinct.n
    u = len(distinct)
    device = network.device
    inputs_u = distinct.inputs
    local, reason = checked_local_suffix(network, *place, positions, inputs_u)
    if local is None:
        return reason
    # every distinct input once: the tensor at the site and the keys and values before the patch
    hs: list[torch.Tensor] = []
    kvs: list[Any] = []
    store: torch.device | None = device
    for start in range(0, u, batch_size):
        rows = torch.arange(start, min(u, start + batch_size), device=device)
        h, kv = local.record(take_rows(inputs_u, rows))
        if start == 0:  # every row holds as much: decide where all of them go
            per_row = (h.numel() * h.element_size() + sum(k.numel() * k.element_size() * 2 for k, _ in kv)) / len(rows)
            need = int(per_row * u)
            store = device if need <= memory else spill_target(device, need, host_memory)
            if store is None:
                return "the inputs' cached keys and values would exceed the memory bound"
        if store != device:  # spilled to the host: each batch's rows go back to the device
            h, kv = h.to(store), tuple((k.to(store), v.to(store)) for k, v in kv)
        hs.append(h)
        kvs.append(kv)
    h_all = torch.cat(hs)
    cached = LocalRows(inputs_u, tuple((torch.cat([kv[i][0] for kv in kvs]), torch.cat([kv[i][1] for kv in kvs])) for i in range(len(kvs[0]))))
    length = h_all.shape[1]
    # a source's vectors at a site: its tensor at the site's (fixed) positions, as collect records them
    vectors = {s.location_key(): h_all[:, [q % length for q in s.positions]] for s in sites}  # type: ignore[union-attr]
    ids = distinct.ids_on(device)
    base_idx, source_idx = ids[0], ids[1:]
    same_t = torch.from_numpy(distinct.self_sourced()).to(device)
    predicted: list[torch.Tensor] = []
    probs: list[torch.Tensor | None] = []
    covered: list[torch.Tensor] = []
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(n, start + batch_size), device=device)
        b = base_idx.index_select(0, idx)
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
