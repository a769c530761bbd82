"""Shared pieces of the alignment baselines: the result type, input checks, scoring and greedy search.

Private to ``causalabs.align``; the public names are re-exported by
:mod:`causalabs.align.baselines`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.backends.native import NativeBackend
from causalabs.engine.evaluate import PairResults, evaluate_pairs
from causalabs.errors import AlignmentError, DatasetError
from causalabs.network.alignment import Alignment
from causalabs.network.featurizers import Rotation
from causalabs.network.network import Network
from causalabs.network.sites import Site, Subspace


@attrs.frozen(eq=False)
class BaselineResult:
    """A baseline alignment and how it was chosen.

    ``assignment`` maps each variable to its units (neuron baselines) or its
    principal-component indices (PCA), in the order they were chosen.
    ``train_iia`` is the pooled fraction of training pairs it got right;
    ``info`` holds the method, the dims and method-specific values.
    """

    method: str
    alignment: Alignment
    assignment: dict[str, tuple[int, ...]]
    train_iia: float
    location: Site
    info: dict[str, Any] = attrs.field(factory=dict)


# --- shared checks ---------------------------------------------------------


def _location(site: Site) -> Site:
    return Site(site.module, site.io, site.positions)


def _dims(what: str, dims: Mapping[Any, int]) -> dict[str, int]:
    out = {getattr(k, "name", k): int(v) for k, v in dims.items()}
    if not out:
        raise AlignmentError(f"{what}: no variables given")
    for v, k in out.items():
        if k <= 0:
            raise AlignmentError(f"{what}: variable {v!r} needs a positive number of dimensions, got {k}")
    return out


def _check_train(what: str, train: Sequence[Any], variables: Sequence[str]) -> None:
    if not train:
        raise DatasetError(f"{what}: no training datasets given")
    for ds in train:
        if len(ds.expected) == 0:
            raise DatasetError(f"{what}: a training dataset is empty")
        for v in ds.intervened:
            if v not in variables:
                raise AlignmentError(
                    f"{what}: a training dataset intervenes on {v!r}, which has no dims "
                    f"(variables: {', '.join(variables)})"
                )
    if not any(bool(np.asarray(ds.changed).any()) for ds in train):
        raise DatasetError(f"{what}: no training pair changes the output; the alignment would be unidentifiable")


def site_width(network: Network, location: Site, dataset: Any) -> int:
    """The width (last dimension) of the vector at ``location``, read on one input of ``dataset``."""
    row = {k: np.asarray(v)[:1] for k, v in dataset.base.items()}
    loc = _location(location)
    return int(NativeBackend().collect(network, row, [loc])[loc.location_key()].shape[-1])


def _check_fits(what: str, loc: Site, dims: Mapping[str, int], width: int) -> None:
    for v, k in dims.items():
        if k > width:
            raise AlignmentError(f"{what}: variable {v!r} asks for {k} dimensions but site {loc.name} has width {width}")
    total = sum(dims.values())
    if total > width:
        raise AlignmentError(
            f"{what}: {total} dimensions requested ({', '.join(f'{v}={k}' for v, k in dims.items())}) "
            f"but site {loc.name} has width {width}; the variables' subspaces must be disjoint"
        )


# --- scoring -------------------------------------------------------------------


def evaluate_alignment(
    network: Network, alignment: Alignment, datasets: Sequence[Any], *, batch_size: int = 256
) -> list[PairResults]:
    """``evaluate_pairs`` on every dataset whose intervened variables the alignment covers.

    Pass the result to ``causalabs.metrics.iia`` for estimates with
    intervals.  Raises :class:`AlignmentError` if it covers none of them.
    """
    covered = [ds for ds in datasets if all(v in alignment.sites for v in ds.intervened)]
    if not covered:
        raise AlignmentError(
            f"the alignment ({', '.join(alignment.sites)}) covers none of the datasets' intervened "
            f"variable sets ({'; '.join('+'.join(ds.intervened) for ds in datasets)})"
        )
    return [evaluate_pairs(network, alignment, ds, batch_size=batch_size) for ds in covered]


def _score(network: Network, alignment: Alignment, datasets: Sequence[Any]) -> tuple[float, float]:
    """(pooled hard IIA, pooled soft IIA) over the datasets the alignment covers."""
    results = evaluate_alignment(network, alignment, datasets)
    correct = np.concatenate([r.correct for r in results])
    probs = [r.prob_expected for r in results if r.prob_expected is not None]
    soft = float(np.mean(np.concatenate(probs))) if len(probs) == len(results) else 0.0
    return float(correct.mean()), soft


def _unit_alignment(loc: Site, assignment: Mapping[str, Sequence[int]], info: dict[str, Any]) -> Alignment:
    return Alignment(
        {v: Site(loc.module, loc.io, loc.positions, Subspace(units=tuple(u))) for v, u in assignment.items() if u},
        info=info,
    )


def _basis_alignment(
    loc: Site, basis: torch.Tensor, assignment: Mapping[str, Sequence[int]], info: dict[str, Any]
) -> Alignment:
    """Columns ``assignment[v]`` of ``basis`` for each variable, packed in variable order into one Rotation."""
    used = [(v, list(c)) for v, c in assignment.items() if c]
    cols = [c for _, cs in used for c in cs]
    rot = Rotation(basis[:, cols].contiguous(), check=False)
    sites, start = {}, 0
    for v, cs in used:
        sites[v] = Site(loc.module, loc.io, loc.positions, Subspace(featurizer=rot, dims=(start, start + len(cs))))
        start += len(cs)
    return Alignment(sites, info=info)


Builder = Callable[[Mapping[str, Sequence[int]]], Alignment]


def _greedy(
    what: str,
    network: Network,
    dims: Mapping[str, int],
    candidates: Sequence[int],
    build: Builder,
    train: Sequence[Any],
) -> tuple[dict[str, tuple[int, ...]], float]:
    """Round-robin greedy: each turn the next variable that needs more takes the best free candidate.

    A turn scores on the training datasets whose intervened variables all
    hold at least one candidate already (after the turn's addition).
    """
    assign: dict[str, list[int]] = {v: [] for v in dims}
    free = list(candidates)
    order = list(dims)
    turn = 0
    while any(len(assign[v]) < dims[v] for v in order):
        v = order[turn % len(order)]
        turn += 1
        if len(assign[v]) >= dims[v]:
            continue
        have = {u for u, cs in assign.items() if cs} | {v}
        usable = [ds for ds in train if set(ds.intervened) <= have]
        if not usable:
            raise DatasetError(
                f"{what}: greedy search needs a training dataset intervening only on variables among "
                f"{', '.join(sorted(have))}; add one intervening on {v!r} alone"
            )
        best: tuple[tuple[float, float], int] | None = None
        for c in free:
            trial = {u: cs + [c] if u == v else cs for u, cs in assign.items()}
            key = _score(network, build(trial), usable)
            if best is None or key > best[0]:
                best = (key, c)
        assert best is not None
        assign[v].append(best[1])
        free.remove(best[1])
    return {v: tuple(cs) for v, cs in assign.items()}, _score(network, build(assign), train)[0]

