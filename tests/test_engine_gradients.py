"""Property tests of the native engine's gradients: through a featurizer only with ``grad=True``, never into
the source pass; and a rotation computes the same whatever the memory layout of its matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from _engine_cases import BE, HALF, MLP, QUARTER, TT, batches
from _nets import SEQ, VOCAB, heq_encode, token_batch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from causalabs.backends.hooks import hook_count
from causalabs.network import Featurizer, Rotation, random_rotation, site


# --- gradients through featurizers ------------------------------------------------------


class LinearFeaturizer(Featurizer):
    """``z = h @ W`` with a learnable invertible ``W`` (no orthonormal basis: the generic path)."""

    def __init__(self, width: int, seed: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(random_rotation(width, seed) + 0.1 * torch.eye(width))
        self.width = width

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.weight

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z @ torch.linalg.inv(self.weight)


class BasisFeaturizer(Featurizer):
    """A learnable ``width x k`` block used through the low-rank path ``h + (s - h) U U^T``."""

    def __init__(self, width: int, k: int, seed: int) -> None:
        super().__init__()
        self.u = nn.Parameter(random_rotation(width, seed)[:, :k].clone())
        self.width = width
        self.coords = k

    def basis(self, start: int, stop: int) -> torch.Tensor:
        return self.u[:, start:stop]


def _featurizer_reference(f: Featurizer, base: dict, src: dict, dims: tuple[int, int]) -> torch.Tensor:
    m = MLP.module
    with torch.no_grad():
        hs = m[2](m[1](m[0](heq_encode(src))))
    h = m[2](m[1](m[0](heq_encode(base))))
    return m[4](m[3](f.interchange(h, hs, *dims)))


@pytest.mark.parametrize(
    "make", [lambda: LinearFeaturizer(64, 3), lambda: BasisFeaturizer(64, 6, 4)], ids=["inverse", "basis"]
)
@given(data=st.data())
@QUARTER
def test_gradients_flow_through_a_featurizer_only_with_grad(make: Any, data: Any) -> None:
    base, src = data.draw(batches(MLP, k=1))
    f = make()
    where = site("2", featurizer=f, dims=(1, 4))
    out = BE.interchange(MLP, base, [(where, src)], grad=True)
    assert out.requires_grad
    (g,) = torch.autograd.grad(out.square().sum(), [next(f.parameters())])
    ref = _featurizer_reference(f, base, src, (1, 4))
    (g_ref,) = torch.autograd.grad(ref.square().sum(), [next(f.parameters())])
    assert torch.allclose(g, g_ref, atol=1e-5, rtol=1e-4)
    assert hook_count(MLP.module) == 0
    off = BE.interchange(MLP, base, [(where, src)])
    assert not off.requires_grad
    assert torch.equal(off, out.detach())


@given(data=st.data())
@HALF
def test_gradients_do_not_reach_the_source_pass(data: Any) -> None:
    """Source vectors are recorded without a graph: a wholly patched layer cuts the prefix off."""
    base, src = data.draw(batches(MLP, k=1))
    MLP.module.zero_grad(set_to_none=True)
    try:
        out = BE.interchange(MLP, base, [(site("2"), src)], grad=True)
        out.sum().backward()
        first = MLP.module[0].weight.grad
        assert first is None or not first.any()
        assert MLP.module[4].weight.grad is not None and MLP.module[4].weight.grad.any()
    finally:
        MLP.module.zero_grad(set_to_none=True)


def test_a_rotation_computes_the_same_whatever_the_layout_of_its_matrix() -> None:
    """A column-major matrix (QR's output) and its row-major copy hold equal values; the
    featurizer stores one canonical layout, so both give the same kernels and the same bits."""
    q = random_rotation(32, seed=4)
    assert not q.is_contiguous()  # what LAPACK's QR gives: the hazard this guards against
    a, b = Rotation(q), Rotation(q.contiguous())
    assert a.matrix.is_contiguous() and torch.equal(a.matrix, b.matrix)
    rng = np.random.default_rng(0)
    base, src = (token_batch(rng.integers(0, VOCAB, (8, SEQ))) for _ in range(2))
    out_a = BE.interchange(TT, base, [(site("blocks.0", featurizer=a, dims=(5, 12)), src)])
    out_b = BE.interchange(TT, base, [(site("blocks.0", featurizer=b, dims=(5, 12)), src)])
    assert torch.equal(out_a, out_b)
