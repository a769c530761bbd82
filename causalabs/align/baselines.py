"""Baselines for alignment search: what DAS must beat, and a control it must not pass.

Every baseline returns a :class:`BaselineResult` whose ``alignment`` is an
ordinary :class:`~causalabs.network.Alignment`, so it is scored exactly as a
DAS alignment is: :func:`evaluate_alignment` (``evaluate_pairs`` on each
held-out dataset it covers), then ``causalabs.metrics.iia``.

* :func:`neuron_contiguous` -- each variable gets a block of consecutive
  units of the site, blocks disjoint; every placement is tried and the best
  by training IIA wins.
* :func:`neuron_greedy` -- each variable gets a set of units, grown one unit
  at a time (round-robin over the variables) by training IIA.
* :func:`neuron_closest` -- the unit split closest to a fitted DAS basis (the
  DAS paper's "closest localist alignment"): each unit goes to the variable
  whose learned directions load on it most, ``dims[v]`` units each.
* :func:`pca_alignment` -- the top principal components of the site's
  activations on the data's distinct inputs, as a partial
  :class:`~causalabs.network.Rotation`; components go to variables in
  order (``assign="order"``) or greedily by training IIA (``"greedy"``).
* :func:`full_site` -- all units of the site, one variable at a time.
* :func:`random_init_control` -- :func:`~causalabs.align.das.fit_das` on a
  copy of the network with seeded, re-initialised (untrained) weights:
  expressive alignments can score on random networks too (Sutter et al. 2025).

Selection always uses the training datasets only.  Candidates are compared
by (training IIA, mean probability of the expected output); an exact tie
keeps the earlier candidate (lower start, unit or component), so every
baseline is deterministic.  :func:`all_alignments` runs DAS and every
baseline on the same training data, for a comparison table.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from causalabs.align._common import (
    BaselineResult,
    _check_fits,
    _check_train,
    _dims,
    _greedy,
    _location,
    _score,
    _unit_alignment,
    evaluate_alignment,
    site_width,
)
from causalabs.align.control import random_init_control, reinitialised
from causalabs.align.das import fit_das
from causalabs.align.pca import (
    distinct_activations,
    pca_alignment,
    principal_components,
)
from causalabs.errors import AlignmentError
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network
from causalabs.network.sites import Site, resolve_module

#: Most candidate placements :func:`neuron_contiguous` will try.
MAX_PLACEMENTS = 20_000

__all__ = [
    "MAX_PLACEMENTS",
    "BaselineResult",
    "all_alignments",
    "distinct_activations",
    "evaluate_alignment",
    "full_site",
    "neuron_contiguous",
    "neuron_greedy",
    "pca_alignment",
    "principal_components",
    "random_init_control",
    "reinitialised",
    "site_width",
]


# --- neuron-aligned ------------------------------------------------------------


def neuron_contiguous(
    network: Network, location: Site, dims: Mapping[Any, int], train: Sequence[Any]
) -> BaselineResult:
    """The best disjoint blocks of consecutive units (``dims[v]`` units for variable ``v``) by training IIA.

    Every placement of the blocks (in any order along the units) is tried;
    raises :class:`AlignmentError` if there are more than
    :data:`MAX_PLACEMENTS`.
    """
    what = "neuron_contiguous"
    dims_ = _dims(what, dims)
    _check_train(what, train, list(dims_))
    loc = _location(location)
    width = site_width(network, loc, train[0])
    _check_fits(what, loc, dims_, width)
    starts = [range(width - k + 1) for k in dims_.values()]
    if math.prod(len(r) for r in starts) > MAX_PLACEMENTS:
        raise AlignmentError(
            f"{what}: more than {MAX_PLACEMENTS} placements of {dict(dims_)} on site {loc.name} "
            f"(width {width}); use neuron_greedy"
        )
    placements = []
    for combo in itertools.product(*starts):
        blocks = [set(range(s, s + k)) for s, k in zip(combo, dims_.values())]
        if sum(map(len, blocks)) == len(set().union(*blocks)):
            placements.append(combo)
    info = {"method": what, "dims": dict(dims_)}
    best: tuple[tuple[float, float], dict[str, tuple[int, ...]]] | None = None
    for combo in placements:
        assign = {v: tuple(range(s, s + k)) for (v, k), s in zip(dims_.items(), combo)}
        key = _score(network, _unit_alignment(loc, assign, info), train)
        if best is None or key > best[0]:
            best = (key, assign)
    assert best is not None
    return BaselineResult(what, _unit_alignment(loc, best[1], info), best[1], best[0][0], loc, info)


def neuron_greedy(network: Network, location: Site, dims: Mapping[Any, int], train: Sequence[Any]) -> BaselineResult:
    """Disjoint unit sets of sizes ``dims`` grown greedily (round-robin over variables) by training IIA.

    Needs a training dataset intervening on the first variable alone (the
    first turn is scored on it).
    """
    what = "neuron_greedy"
    dims_ = _dims(what, dims)
    _check_train(what, train, list(dims_))
    loc = _location(location)
    width = site_width(network, loc, train[0])
    _check_fits(what, loc, dims_, width)
    info = {"method": what, "dims": dict(dims_)}
    assign, score = _greedy(what, network, dims_, range(width), lambda a: _unit_alignment(loc, a, info), train)
    return BaselineResult(what, _unit_alignment(loc, assign, info), assign, score, loc, info)


def neuron_closest(network: Network, das: Any, train: Sequence[Any]) -> BaselineResult:
    """The neuron-aligned split closest to a fitted DAS result (the DAS paper's "closest localist alignment").

    Unit ``u`` loads on variable ``v`` by ``||U[u, span_v]||^2`` (``U`` the
    learned ``width x sum(k)`` basis); an optimal assignment (Hungarian, each
    variable getting as many units as it has learned directions) maximises
    the total loading.  ``train`` only gives the reported training IIA.
    """
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    what = "neuron_closest"
    basis, spans, loc = das.basis.detach().double().cpu(), dict(das.dims), _location(das.location)
    _check_train(what, train, list(spans))
    slots = [v for v, (a, b) in spans.items() for _ in range(b - a)]
    load = {v: (basis[:, a:b] ** 2).sum(1).numpy() for v, (a, b) in spans.items()}
    cost = -np.stack([load[v] for v in slots], axis=1)  # width x slots
    rows, cols = linear_sum_assignment(cost)
    assign = {v: tuple(sorted(int(u) for u, c in zip(rows, cols) if slots[c] == v)) for v in spans}
    info = {"method": what, "dims": {v: b - a for v, (a, b) in spans.items()}}
    alignment = _unit_alignment(loc, assign, info)
    return BaselineResult(what, alignment, assign, _score(network, alignment, train)[0], loc, info)


# --- full site ----------------------------------------------------------------------


def full_site(network: Network, location: Site, variables: Sequence[Any]) -> dict[str, Alignment]:
    """One alignment per variable putting it on every unit of ``location``.

    Two variables cannot share the units of one alignment, so each is scored
    alone, on datasets intervening on it only.  Raises
    :class:`~causalabs.errors.UnknownModuleError` if the network has no such module.
    """
    names = [getattr(v, "name", v) for v in variables]
    if not names:
        raise AlignmentError("full_site: no variables given")
    loc = _location(location)
    resolve_module(network.module, loc.module, network=network.name)
    return {v: Alignment({v: loc}, info={"method": "full_site"}) for v in names}



# --- everything at once -------------------------------------------------------------


def all_alignments(
    network: Network,
    location: Site,
    dims: Mapping[Any, int],
    train: Sequence[Any],
    *,
    init_seed: int = 0,
    das_options: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Network, Alignment]]:
    """DAS and every baseline fitted on ``train``: ``{method: (network to score on, alignment)}``.

    Keys: ``das``, ``neuron_closest`` (the unit split closest to DAS's basis), ``neuron_contiguous``, ``neuron_greedy``, ``pca_order``,
    ``pca_greedy``, ``full_site:<variable>`` (one per variable) and
    ``random_init_das`` (scored on the re-initialised copy it returns).
    Score each with ``iia(evaluate_alignment(net, alignment, heldout))``.
    """
    options = dict(das_options or {})
    out: dict[str, tuple[Network, Alignment]] = {}
    das = fit_das(network, location, dims, train, **options)
    out["das"] = (network, das.alignment)
    out["neuron_closest"] = (network, neuron_closest(network, das, train).alignment)
    out["neuron_contiguous"] = (network, neuron_contiguous(network, location, dims, train).alignment)
    out["neuron_greedy"] = (network, neuron_greedy(network, location, dims, train).alignment)
    for how in ("order", "greedy"):
        out[f"pca_{how}"] = (network, pca_alignment(network, location, dims, train, assign=how).alignment)  # type: ignore[arg-type]
    for v, al in full_site(network, location, list(dims)).items():
        out[f"full_site:{v}"] = (network, al)
    rnet, res = random_init_control(network, location, dims, train, init_seed=init_seed, **options)
    out["random_init_das"] = (rnet, res.alignment)
    return out
