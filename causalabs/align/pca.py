"""PCA baseline: the top principal components of a site's activations as a Rotation featurizer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

from causalabs.align._common import (
    BaselineResult,
    _basis_alignment,
    _check_fits,
    _check_train,
    _dims,
    _greedy,
    _location,
    _score,
)
from causalabs.backends.native import NativeBackend
from causalabs.engine.collect import collect_distinct
from causalabs.errors import AlignmentError, DatasetError
from causalabs.network.network import Network
from causalabs.network.sites import Site


def distinct_activations(network: Network, location: Site, datasets: Sequence[Any]) -> torch.Tensor:
    """The vectors at ``location`` (flattened to rows) on every distinct base and source input of ``datasets``."""
    if not datasets:
        raise DatasetError("distinct_activations: no datasets given")
    names = list(datasets[0].base)
    rows = []
    for ds in datasets:
        rows.append(np.stack([np.asarray(ds.base[k]) for k in names], axis=1))
        rows += [np.stack([np.asarray(ds.sources[v][k]) for k in names], axis=1) for v in ds.intervened]
    loc = _location(location)
    store, _ = collect_distinct(NativeBackend(), network, np.concatenate(rows), names, [loc], 1024)
    acts = store[loc.location_key()]
    return acts.reshape(-1, acts.shape[-1])


def principal_components(acts: torch.Tensor, k: int) -> torch.Tensor:
    """The top ``k`` principal directions of ``acts`` (rows) as a ``width x k`` orthonormal matrix.

    Computed in float64 by SVD of the mean-centred rows; each direction's
    sign is fixed so its largest-magnitude entry is positive.
    """
    x = acts.detach().double().cpu()
    x = x - x.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(x, full_matrices=True)
    u = vh[:k].T.clone()
    idx = u.abs().argmax(0)
    u = u * torch.sign(u[idx, torch.arange(k)])
    return u.to(acts.dtype)


def pca_alignment(
    network: Network,
    location: Site,
    dims: Mapping[Any, int],
    train: Sequence[Any],
    *,
    assign: Literal["order", "greedy"] = "order",
) -> BaselineResult:
    """The top ``sum(dims)`` principal components of the site's activations as a Rotation featurizer.

    Activations are those of every distinct base and source input of
    ``train``.  ``assign="order"``: the first ``dims[v1]`` components
    (largest variance first) go to the first variable, the next ``dims[v2]``
    to the second, and so on.  ``assign="greedy"``: components are handed
    out round-robin by training IIA, as in :func:`neuron_greedy`.
    """
    what = f"pca_{assign}"
    dims_ = _dims(what, dims)
    if assign not in ("order", "greedy"):
        raise AlignmentError(f"pca_alignment: assign must be 'order' or 'greedy', got {assign!r}")
    _check_train(what, train, list(dims_))
    loc = _location(location)
    acts = distinct_activations(network, loc, train)
    width = int(acts.shape[-1])
    _check_fits(what, loc, dims_, width)
    total = sum(dims_.values())
    basis = principal_components(acts, total)
    info = {"method": what, "dims": dict(dims_), "distinct_inputs": int(acts.shape[0])}
    if assign == "order":
        chosen, start = {}, 0
        for v, k in dims_.items():
            chosen[v] = tuple(range(start, start + k))
            start += k
        found = _basis_alignment(loc, basis, chosen, info)
        score = _score(network, found, train)[0]
    else:
        chosen, score = _greedy(what, network, dims_, range(total), lambda a: _basis_alignment(loc, basis, a, info), train)
        found = _basis_alignment(loc, basis, chosen, info)
    info["basis"] = basis
    return BaselineResult(what, found, chosen, score, loc, info)

