"""Boundless DAS: causalabs' soft boundaries against pyvene's ``BoundlessRotatedSpaceIntervention``.

Both sides put an orthogonal ``U`` at a site and swap rotated coordinate
``i`` with weight ``mask[i] = sigmoid((p_i - x0) / T) * sigmoid((x1 - p_i) / T)``
(``h' = h + (((s - h) U) * mask) U^T``).  They differ in where a coordinate
sits and where an interval starts:

* causalabs: ``p_i = i + 1/2`` (the coordinate's centre); variable ``v`` has
  ``x0 = start_v``, ``x1 = end_v``, the first variable ``start_0 = 0``.
* pyvene 0.1.8: ``p_i = intervention_population[i] = i`` (the integer index);
  ``x0 = 0`` always, ``x1 = clamp(b, 1e-3, 1) * embed_dim`` for its one
  learned boundary ``b``.

So pyvene's default mask is causalabs' mask shifted by half a coordinate:
its interval is ``[0.5, b d + 0.5)`` in causalabs' units, which causalabs
gives its *second* variable after a first one of width 1/2.  Coordinate 0
sits on pyvene's lower boundary and gets ``mask <= 1/2`` at every
temperature: at a low temperature pyvene swaps half of coordinate 0, never
all of it.  Set pyvene's population to the centres ``i + 1/2`` and
``b = end / d`` and the two masks, the counterfactual outputs, the gradient
on the boundary and the gradient on ``U`` along the orthogonal group agree;
that is the configuration these tests use for parity, and the shifted
default is asserted as a difference.  pyvene's boundary is also clamped to
``b <= 1`` (``end <= d``), its intervention is one full ``d x d`` rotation with
one interval from 0 (a second causalabs variable, starting at ``end_0``, has
no pyvene Boundless form; the hard alignment goes through
``RotatedSpaceIntervention`` instead), and it ignores ``subspaces``.
The Euclidean gradients on ``U`` differ (causalabs differentiates the
low-rank form ``h + ((s - h) U * m) U^T``, pyvene ``(h U (1 - m) + s U m) U^T``;
the two are equal only for orthogonal ``U``), and that is asserted too.

The networks are the committed ``models/heq_rotated.py`` (site ``"2"``, width 8).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn.utils import parametrize

pv = pytest.importorskip("pyvene")

import causalabs as ca  # noqa: E402
from causalabs.align.boundless import _SoftBoundaries, fit_boundless  # noqa: E402
from causalabs.align.rotation import LearnedRotation  # noqa: E402
from causalabs.backends import get_backend  # noqa: E402
from causalabs.backends.pyvene_interop import (  # noqa: E402
    NetworkAdapter,
    ScopedIntervenableModel,
    pyvene_arguments,
    set_rotation,
)
from causalabs.engine import evaluate_pairs  # noqa: E402
from causalabs.loading import load_attr  # noqa: E402
from causalabs.network import Network, Site, Subspace, load_network, random_rotation  # noqa: E402

pytestmark = pytest.mark.pyvene

ROOT = Path(__file__).resolve().parent.parent
HEQ = load_attr(f"{ROOT / 'hypotheses' / 'hierarchical_equality.py'}:HierarchicalEquality")
ROTATED = ROOT / "models" / "heq_rotated.py"
WIDTH = 8
TOL = 1e-5


# --- the two sides ----------------------------------------------------------------------


def pyvene_boundless(matrix: torch.Tensor, end: float, temperature: float, *, centred: bool) -> Any:
    """pyvene's Boundless intervention with rotation ``matrix``, boundary at ``end`` coordinates, temperature T.

    ``centred`` replaces pyvene's population ``0, 1, ..., d-1`` by the
    centres ``0.5, 1.5, ...`` causalabs measures its intervals against.
    """
    d = int(matrix.shape[0])
    iv = pv.BoundlessRotatedSpaceIntervention(embed_dim=d, keep_last_dim=True)
    set_rotation(iv, matrix)
    iv.set_intervention_boundaries(end / d)
    iv.set_temperature(torch.tensor(float(temperature)))
    if centred:
        iv.intervention_population = torch.nn.Parameter(torch.arange(d, dtype=torch.float32) + 0.5, requires_grad=False)
    return iv


def causalabs_boundless(matrix: torch.Tensor, widths: list[float], temperature: float) -> _SoftBoundaries:
    """causalabs' training-time featurizer: rotation ``matrix``, consecutive intervals of ``widths``."""
    rot = LearnedRotation(int(matrix.shape[0]), int(matrix.shape[1]), seed=0)
    with torch.no_grad():
        rot.weight = matrix.clone()  # through the QR parametrisation: an orthonormal matrix maps to itself
    soft = _SoftBoundaries(rot, len(widths), 1.0)
    with torch.no_grad():
        soft.raw_widths.copy_(torch.tensor([math.log(math.expm1(w)) for w in widths]))
    soft.temperature = temperature
    return soft


def soft_site(soft: _SoftBoundaries, variable: int = 0) -> Site:
    return Site("2", subspace=Subspace(featurizer=soft, dims=(variable, variable + 1)))


def pyvene_model(net: Network, iv: Any) -> ScopedIntervenableModel:
    """One Boundless representation on ``net``'s layer "2" (the network's flags left as they were)."""
    config = pv.IntervenableConfig(
        representations=[pv.RepresentationConfig(component="net.2.output", unit="pos", intervention=iv)]
    )
    grads = {p: p.requires_grad for p in net.module.parameters()}
    training = {m: m.training for m in net.module.modules()}
    try:
        return ScopedIntervenableModel(config, NetworkAdapter(net))
    finally:  # pyvene's constructor freezes the wrapped model and puts it in eval mode
        for p, flag in grads.items():
            p.requires_grad_(flag)
        for m, flag in training.items():
            m.training = flag


def run_pyvene(net: Network, model: ScopedIntervenableModel, base: dict, src: dict) -> torch.Tensor:
    _, out = model(**pyvene_arguments(net, [Site("2")], base, [src]))
    return out


def run_native(net: Network, site: Site, base: dict, src: dict, *, grad: bool = False) -> torch.Tensor:
    return get_backend("native").interchange(net, base, [(site, src)], grad=grad)


def pyvene_mask(iv: Any) -> torch.Tensor:
    """pyvene's mask, read off its own forward: identity rotation, base 0, source 1."""
    d = int(iv.embed_dim)
    saved = iv.rotate_layer.weight.detach().clone()
    set_rotation(iv, torch.eye(d))
    try:
        with torch.no_grad():
            return iv(torch.zeros(1, d), torch.ones(1, d))[0]
    finally:
        set_rotation(iv, saved)


def tangent(u: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``skew(U^T G)``: the part of a Euclidean gradient ``G`` at orthogonal ``U`` along the orthogonal group."""
    a = u.T @ g
    return (a - a.T) / 2


def causalabs_mask(soft: _SoftBoundaries, variable: int = 0) -> torch.Tensor:
    """causalabs' mask, read off its own interchange: identity rotation, h = 0, s = 1."""
    d = soft.width
    with torch.no_grad():
        saved = soft.rotation.weight.clone()
        soft.rotation.weight = torch.eye(d, soft.n_coords)
        try:
            return soft.interchange(torch.zeros(1, d), torch.ones(1, d), variable, variable + 1)[0]
        finally:
            soft.rotation.weight = saved


@pytest.fixture(scope="module")
def net() -> Network:
    torch.manual_seed(0)
    return load_network(ROTATED)


@pytest.fixture(scope="module")
def pairs() -> Any:
    return ca.random_pairs(HEQ, ["left"], 512, seed=3)


def _rows(ds: Any) -> tuple[dict, dict]:
    return dict(ds.base), dict(ds.sources[ds.intervened[0]])


# --- 1. forward parity of the soft intervention ------------------------------------------


@pytest.mark.parametrize(("end", "temperature"), [(2.3, 0.7), (1.0, 2.0), (5.6, 0.3), (3.0, 50.0), (4.0, 0.01)])
def test_masks_agree_when_pyvene_uses_coordinate_centres(end: float, temperature: float) -> None:
    soft = causalabs_boundless(torch.eye(WIDTH), [end], temperature)
    mine = causalabs_mask(soft)
    theirs = pyvene_mask(pyvene_boundless(torch.eye(WIDTH), end, temperature, centred=True))
    assert torch.allclose(mine, soft.masks()[0].detach(), atol=1e-7)  # the read-off is the documented mask
    assert (mine - theirs).abs().max() < 1e-6


@pytest.mark.parametrize(("end", "temperature"), [(2.3, 0.7), (3.0, 5.0), (4.0, 0.01)])
def test_pyvene_default_mask_is_shifted_by_half_a_coordinate(end: float, temperature: float) -> None:
    """pyvene's default interval is causalabs' [0.5, end + 0.5): the second of widths (0.5, end)."""
    theirs = pyvene_mask(pyvene_boundless(torch.eye(WIDTH), end, temperature, centred=False))
    shifted = causalabs_mask(causalabs_boundless(torch.eye(WIDTH), [0.5, end], temperature), variable=1)
    assert (theirs - shifted).abs().max() < 1e-6
    first = causalabs_mask(causalabs_boundless(torch.eye(WIDTH), [end], temperature))
    assert float(theirs[0]) <= 0.5  # coordinate 0 sits on pyvene's lower boundary
    assert (theirs - first).abs().max() > 1e-3
    if temperature < 0.1:  # hard: causalabs swaps coordinate 0 whole, pyvene half of it
        assert float(first[0]) == pytest.approx(1.0) and float(theirs[0]) == pytest.approx(0.5)


def test_pyvene_clamps_the_boundary_to_the_width() -> None:
    """causalabs' end may pass the last coordinate; pyvene clamps b to 1 (end = d)."""
    end, temperature = 9.5, 0.5
    mine = causalabs_mask(causalabs_boundless(torch.eye(WIDTH), [end], temperature))
    theirs = pyvene_mask(pyvene_boundless(torch.eye(WIDTH), end, temperature, centred=True))
    clamped = causalabs_mask(causalabs_boundless(torch.eye(WIDTH), [float(WIDTH)], temperature))
    assert (theirs - clamped).abs().max() < 1e-6
    assert float(mine[-1] - theirs[-1]) > 0.1


@pytest.mark.parametrize(("end", "temperature", "seed"), [(2.3, 0.7, 1), (1.0, 2.0, 2), (5.6, 0.3, 3), (3.0, 50.0, 4)])
def test_soft_interchange_outputs_agree(net: Network, pairs: Any, end: float, temperature: float, seed: int) -> None:
    u = random_rotation(WIDTH, seed=seed)
    base, src = _rows(pairs)
    soft = causalabs_boundless(u, [end], temperature)
    assert torch.allclose(soft.rotation.directions.detach(), u, atol=1e-6)
    mine = run_native(net, soft_site(soft), base, src)
    theirs = run_pyvene(net, pyvene_model(net, pyvene_boundless(u, end, temperature, centred=True)), base, src)
    assert (mine - theirs).abs().max() < TOL
    plain = run_native(net, Site("2"), base, base)
    assert (mine - plain).abs().max() > 1e-2  # the intervention does something
    default = run_pyvene(net, pyvene_model(net, pyvene_boundless(u, end, temperature, centred=False)), base, src)
    if temperature <= 2.0:  # at pyvene's default T = 50 every mask entry is ~1/4 and the half-coordinate shift is tiny
        assert (default - mine).abs().max() > 1e-3  # pyvene's own population gives another counterfactual


# --- 2. hard-boundary parity of a fitted alignment --------------------------------------------


@pytest.fixture(scope="module")
def fitted(net: Network) -> Any:
    train = [ca.random_pairs(HEQ, [v], 768, seed=i) for i, v in enumerate(["left", "right"])]
    return fit_boundless(net, Site("2"), ["left", "right"], train, epochs=3, seed=0, penalty=1.0)


def test_fitted_alignment_gives_the_same_predictions_through_pyvene(net: Network, fitted: Any) -> None:
    """The hard alignment (fixed Rotation, learned dims) through pyvene's RotatedSpaceIntervention."""
    assert fitted.collapsed == ()
    for v in (["left"], ["right"], ["left", "right"]):
        ds = ca.random_pairs(HEQ, v, 1_500, seed=11)
        mine = evaluate_pairs(net, fitted.alignment, ds)
        theirs = evaluate_pairs(net, fitted.alignment, ds, backend="pyvene")
        assert np.array_equal(mine.predicted, theirs.predicted), v
        assert np.allclose(mine.prob_expected, theirs.prob_expected, atol=TOL)
        assert mine.correct.mean() > 0.99  # the fit is a real one, so the comparison means something


def test_fitted_first_interval_as_a_hard_pyvene_boundless_mask(net: Network, fitted: Any) -> None:
    """The first variable's interval starts at 0, so pyvene's Boundless can hold it; the second cannot."""
    start, stop = fitted.dims["left"]
    assert start == 0
    u = fitted.basis
    # pyvene's mask at the learned soft boundary and the final temperature: > 1/2 exactly on the learned dims
    end = fitted.boundaries["left"][1]
    mask = pyvene_mask(pyvene_boundless(u, end, fitted.temperatures[-1], centred=True))
    assert torch.nonzero(mask > 0.5).flatten().tolist() == list(range(start, stop))
    # the hard interval [0, k) at a near-zero temperature is a 0/1 mask: same predictions on every pair
    hard = pyvene_boundless(u, float(stop), 1e-3, centred=True)
    assert torch.equal(pyvene_mask(hard), (torch.arange(WIDTH) < stop).float())
    ds = ca.random_pairs(HEQ, ["left"], 2_000, seed=12)
    mine = evaluate_pairs(net, fitted.alignment, ds)
    base, src = _rows(ds)
    theirs = run_pyvene(net, pyvene_model(net, hard), base, src)
    assert np.array_equal(net.decode(theirs).values.numpy(), mine.predicted)
    native = run_native(net, fitted.alignment["left"], base, src)
    assert (theirs - native).abs().max() < TOL
    # pyvene's own population never hardens on coordinate 0: half of it is swapped
    default = pyvene_boundless(u, float(stop), 1e-3, centred=False)
    assert float(pyvene_mask(default)[0]) == pytest.approx(0.5)
    assert (run_pyvene(net, pyvene_model(net, default), base, src) - native).abs().max() > 1e-3


# --- 3. gradient parity ------------------------------------------------------------------------


@pytest.mark.parametrize(("end", "temperature", "seed"), [(2.3, 0.7, 5), (4.4, 2.0, 6)])
def test_one_step_gradients_agree(net: Network, pairs: Any, end: float, temperature: float, seed: int) -> None:
    """The gradient on U along the orthogonal group, and dLoss/d(end), from the same batch agree.

    Only the tangent part of dLoss/dU moves an orthogonal parametrisation
    (causalabs: QR of a free matrix; pyvene: torch's ``orthogonal``), so that
    is what has to agree; the optimiser steps themselves differ with the
    parametrisation and are not compared.
    """
    u = random_rotation(WIDTH, seed=seed)
    base, src = _rows(pairs)
    target = torch.tensor(np.asarray(pairs.expected), dtype=torch.long)
    grads = [p.requires_grad for p in net.module.parameters()]
    for p in net.module.parameters():
        p.requires_grad_(False)
    try:
        soft = causalabs_boundless(u, [end], temperature)
        with parametrize.cached():
            mine_u = soft.rotation.weight
            mine_u.retain_grad()
            scores = net.decode(run_native(net, soft_site(soft), base, src, grad=True)).scores
            torch.nn.functional.cross_entropy(scores, target).backward()
        mine_end = soft.raw_widths.grad[0] / torch.sigmoid(soft.raw_widths[0].detach())  # d softplus = sigmoid

        iv = pyvene_boundless(u, end, temperature, centred=True)
        model = pyvene_model(net, iv)
        with parametrize.cached():
            theirs_u = iv.rotate_layer.weight
            theirs_u.retain_grad()
            scores = net.decode(run_pyvene(net, model, base, src)).scores
            torch.nn.functional.cross_entropy(scores, target).backward()
        theirs_end = iv.intervention_boundaries.grad[0] / WIDTH  # end = b * d
    finally:
        for p, flag in zip(net.module.parameters(), grads, strict=True):
            p.requires_grad_(flag)

    assert mine_u.grad is not None and theirs_u.grad is not None
    mine_r, theirs_r = tangent(mine_u.detach(), mine_u.grad), tangent(theirs_u.detach(), theirs_u.grad)
    assert float(mine_r.abs().max()) > 1e-3  # a real gradient
    assert (mine_r - theirs_r).abs().max() < 1e-6
    # the Euclidean gradients differ: causalabs differentiates h + ((s - h) U * m) U^T, pyvene
    # (h U (1 - m) + s U m) U^T; equal for orthogonal U, not off the orthogonal group
    assert (mine_u.grad - theirs_u.grad).abs().max() > 1e-2
    assert abs(float(mine_end)) > 1e-5
    assert float(mine_end) == pytest.approx(float(theirs_end), rel=1e-4, abs=1e-6)
    assert all(p.grad is None for p in net.module.parameters())
