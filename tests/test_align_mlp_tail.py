"""DAS with the hand-derived gradient (fit_das's fast path for MLP tails): the same training as autograd, up to rounding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.nn.utils import parametrize

from causalabs.align.baselines import evaluate_alignment
from causalabs.align.das import fit_das
from causalabs.align.mlp_tail import (
    _backward,
    _forward,
    _layers,
    qr_backward,
    qr_basis,
    tail_layers,
)
from causalabs.align.rotation import LearnedRotation
from causalabs.errors import AlignmentError
from causalabs.loading import load_module
from causalabs.metrics import iia
from causalabs.network import Site, load_network

ROOT = Path(__file__).resolve().parents[1]
TRAINED = ROOT / "models/heq_trained.py"
DIMS = {"left": 8, "right": 8}


@pytest.fixture(scope="module")
def heq():
    organism = load_module(TRAINED)
    return load_network(TRAINED), organism.das_datasets(10, 20, n=300), organism.das_datasets(30, 40, n=1000)


@pytest.mark.parametrize("k", [3, 16])
def test_qr_backward_matches_autograd(k: int) -> None:
    gen = torch.Generator().manual_seed(k)
    w = torch.randn(16, k, generator=gen, dtype=torch.float64)
    g = torch.randn(16, k, generator=gen, dtype=torch.float64)
    rot = LearnedRotation(16, k, seed=k).double()
    with torch.no_grad():
        rot.parametrizations.weight.original.copy_(w)
    (rot.directions * g).sum().backward()
    u, q, r, sign = qr_basis(w)
    assert torch.allclose(u, rot.directions.detach(), atol=1e-12)
    assert torch.allclose(qr_backward(g, q, r, sign), rot.parametrizations.weight.original.grad, atol=1e-10)


def test_tail_backward_matches_autograd(heq) -> None:
    net, _, _ = heq
    tail = tail_layers(net, Site("1"))
    assert tail is not None
    layers = _layers(tail)
    h = torch.randn(5, 16, generator=torch.Generator().manual_seed(0), requires_grad=True)
    logits, masks = _forward(layers, h)
    assert torch.allclose(logits, torch.nn.Sequential(*tail)(h), atol=1e-6)
    g = torch.randn_like(logits)
    (logits * g).sum().backward()
    assert torch.allclose(_backward(layers, g, masks), h.grad, atol=1e-6)


def test_one_step_gradient_matches_autograd(heq) -> None:
    from causalabs.align.das import _class_index, _prepare
    from causalabs.align.mlp_tail import _base_vectors, loss_and_grad
    from causalabs.backends.native import NativeBackend
    from causalabs.network.sites import Subspace

    net, train, _ = heq
    backend, loc = NativeBackend(), Site("1")
    spans = {"left": (0, 8), "right": (8, 16)}
    rows = torch.arange(0, 64)
    for ds in train:  # left, right, both
        p = _prepare(backend, net, loc, ds, 256)
        rot = LearnedRotation(16, 16, seed=1)
        sites = {v: Site("1", subspace=Subspace(featurizer=rot, dims=spans[v])) for v in spans}
        patches = [(sites[v], p.vectors.index_select(0, p.index[i].index_select(0, rows))) for i, v in enumerate(p.intervened)]
        base = {k: v[:64] for k, v in ds.base.items()}
        dec = net.decode(backend.patch(net, base, patches, grad=True))
        target = _class_index(dec.classes, p.expected).index_select(0, rows)
        loss = torch.nn.functional.cross_entropy(dec.scores.float(), target)
        loss.backward()
        layers = _layers(tail_layers(net, loc))
        sources = [(spans[v], p.vectors.index_select(0, p.index[i])) for i, v in enumerate(p.intervened)]
        onehot = torch.nn.functional.one_hot(_class_index(dec.classes, p.expected), 2).float()
        data = (_base_vectors(backend, net, loc, ds), sources, onehot)
        w = rot.parametrizations.weight.original.detach()
        neg_loss, grad = loss_and_grad(layers, data, w, rows, 64)
        assert abs(-float(neg_loss) / 64 - loss.item()) < 1e-5, ds.intervened
        ref = rot.parametrizations.weight.original.grad
        scale = float(ref.abs().max())  # float32 rounding, relative to the gradient's size (about 2 here)
        assert scale > 0.1 and torch.allclose(grad, ref, atol=1e-5 * scale, rtol=0), (ds.intervened, (grad - ref).abs().max())


def test_fast_fit_is_deterministic_and_close_to_the_autograd_fit(heq) -> None:
    net, train, held = heq
    slow = fit_das(net, Site("1"), DIMS, train, epochs=3, seed=0, fast_mlp=False)
    fast = fit_das(net, Site("1"), DIMS, train, epochs=3, seed=0, fast_mlp=True)
    assert abs(slow.losses[0] - fast.losses[0]) < 1e-3  # same batches, same updates; Adam amplifies rounding later
    scores = [iia(evaluate_alignment(net, r.alignment, held)).overall.overall.value for r in (slow, fast)]
    assert abs(scores[0] - scores[1]) <= 0.02, scores
    again = fit_das(net, Site("1"), DIMS, train, epochs=3, seed=0)  # the default takes the fast path here
    assert torch.equal(fast.basis, again.basis) and fast.losses == again.losses


def test_fast_fit_reaches_the_paper_iia(heq) -> None:
    net, train, held = heq
    res = fit_das(net, Site("1"), DIMS, train, epochs=8, seed=0, fast_mlp=True)
    report = iia(evaluate_alignment(net, res.alignment, held))
    assert report.overall.overall.value >= 0.95, str(report)
    assert res.losses[-1] < res.losses[0]
    with parametrize.cached():  # the fitted basis is orthonormal
        assert torch.allclose(res.basis.T @ res.basis, torch.eye(16), atol=1e-5)


def test_fast_path_refuses_networks_it_cannot_differentiate(heq) -> None:
    net, _, _ = heq
    assert tail_layers(net, Site("1", positions=[0])) is None
    assert tail_layers(net, Site("6")) is None  # nothing after the logits
    adder = load_network(ROOT / "models/addition_trained.py")  # not an nn.Sequential
    assert tail_layers(adder, Site("carry")) is None
    with pytest.raises(AlignmentError, match="fast_mlp"):
        fit_das(adder, Site("carry"), {"carry": 1}, [load_module(ROOT / "models/addition_trained.py").carry_pairs(
            load_module(ROOT / "models/addition_trained.py").split(0)[0], 64, 0)], epochs=1, fast_mlp=True)


def test_fast_path_steps_aside_for_other_dtypes_and_huge_data() -> None:
    from types import SimpleNamespace

    from causalabs.align.mlp_tail import MAX_ELEMENTS, fast_path_fits

    rot = LearnedRotation(16, 4, seed=0)

    def prepared(n: int, dtype: torch.dtype) -> SimpleNamespace:
        return SimpleNamespace(vectors=torch.zeros(2, 16, dtype=dtype), dataset=SimpleNamespace(expected=range(n)),
                               intervened=("left",))

    assert fast_path_fits([prepared(100, torch.float32)], rot)
    assert not fast_path_fits([prepared(100, torch.float64)], rot)  # autograd computes in the site's dtype
    assert not fast_path_fits([prepared(MAX_ELEMENTS // 16, torch.float32)], rot)  # 2 vectors a row: too many
