"""Property tests of the native intervention engine (hypothesis library).

Networks: a seeded wide MLP (``tests/_nets.py: wide_mlp``) and a seeded tiny
transformer with a ``(batch, seq, d)`` residual stream whose blocks return
tuples.  References are computed by walking the modules by hand, never
through causalabs' hooks.

On bitwise equality: a row's activations are a deterministic function of the
input *and of the batch it is computed in*: BLAS picks kernels by batch size
(a matrix-vector kernel for one row, blocked matrix products for more), and
they sum in different orders.  So the engine reproduces the plain forward to
the bit only where it runs the same computation (a self-interchange keeps the
base's own vectors); results across batch sizes or against a separately
batched source are compared with ``atol=1e-6`` plus equal decisions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from _nets import SEQ, VOCAB, heq_encode, tiny_transformer, token_batch, token_encode, wide_mlp
from hypothesis import given, settings, strategies as st
from torch import nn

from causalabs.backends.hooks import hook_count
from causalabs.backends.native import NativeBackend
from causalabs.network import Featurizer, Network, Rotation, Site, random_rotation, site

BE = NativeBackend()
MLP = wide_mlp(0)
TT = tiny_transformer(0)
ROT64 = Rotation(random_rotation(64, seed=1))
ROT32 = Rotation(random_rotation(32, seed=2))
ATOL = 1e-6

#: Example budgets as fractions of the active profile (``--hypothesis-profile thorough`` scales them up).
HALF = settings(max_examples=max(5, settings.default.max_examples // 2))
QUARTER = settings(max_examples=max(4, settings.default.max_examples // 4))




# --- strategies -------------------------------------------------------------------


def _batch(net: Network, rows: list[tuple[int, ...]]) -> dict[str, np.ndarray]:
    if net is TT:
        return token_batch(rows)
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
    return {k: np.ascontiguousarray(arr[:, j]) for j, k in enumerate("wxyz")}


def _row(net: Network) -> st.SearchStrategy[tuple[int, ...]]:
    if net is TT:
        return st.tuples(*[st.integers(0, VOCAB - 1)] * SEQ)
    return st.tuples(*[st.integers(0, 3)] * 4)


@st.composite
def batches(draw: Any, net: Network, k: int = 1, max_n: int = 6) -> list[dict[str, np.ndarray]]:
    """``k + 1`` batches of one length (a base and k sources), drawn from a small pool so rows repeat."""
    pool = draw(st.lists(_row(net), min_size=1, max_size=4))
    n = draw(st.integers(1, max_n))
    out = []
    for _ in range(k + 1):
        idx = draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n))
        out.append(_batch(net, [pool[i] for i in idx]))
    return out


def plain(net: Network, batch: dict[str, np.ndarray]) -> torch.Tensor:
    with torch.no_grad():
        return net.module(net.encode(batch))


def decisions(net: Network, out: torch.Tensor) -> torch.Tensor:
    return net.decode(out).values


def first_token_pos(batch: dict[str, np.ndarray]) -> np.ndarray:
    """Per-example position: the first token's id modulo the length."""
    return np.asarray(batch["t0"]) % SEQ


def two_pos(batch: dict[str, np.ndarray]) -> np.ndarray:
    """Two distinct per-example positions, the second given as a negative index."""
    return np.stack([np.asarray(batch["t0"]) % 3, 3 + np.asarray(batch["t1"]) % 3 - SEQ], axis=1)


CASES: list[tuple[Network, Site]] = [
    (MLP, site("0")),
    (MLP, site("2", units=[1, 5, 63])),
    (MLP, site("2", units=[-1, 0])),
    (MLP, site("2", featurizer=ROT64, dims=(3, 9))),
    (MLP, site("2", io="input")),
    (MLP, site("4", io="input", units=range(0, 64, 2))),
    (TT, site("blocks.0")),
    (TT, site("blocks.1", io="input", positions=(2,))),
    (TT, site("blocks.0", positions=(-1, 1), units=[0, 3])),
    (TT, site("blocks.1.mlp", featurizer=ROT32, dims=(0, 8), positions=first_token_pos)),
    (TT, site("ln_f", positions=two_pos)),
]
IDS = [f"{net.name}:{s.name}" for net, s in CASES]


# --- self-interchange -------------------------------------------------------------


@pytest.mark.parametrize(("net", "where"), CASES, ids=IDS)
@given(data=st.data())
@HALF
def test_self_interchange_is_the_plain_forward_bitwise(net: Network, where: Site, data: Any) -> None:
    (base,) = data.draw(batches(net, k=0))
    out = BE.interchange(net, base, [(where, base)])
    assert torch.equal(out, plain(net, base))
    assert hook_count(net.module) == 0


@given(data=st.data())
@HALF
def test_self_interchange_of_two_sites_is_bitwise(data: Any) -> None:
    (base,) = data.draw(batches(MLP, k=0))
    a, b = site("0", units=range(0, 128, 2)), site("2", featurizer=ROT64, dims=(0, 5))
    out = BE.interchange(MLP, base, [(a, base), (b, base)])
    assert torch.equal(out, plain(MLP, base))


# --- batched = one at a time ------------------------------------------------------


BATCHED = [CASES[i] for i in (1, 3, 5, 8, 9, 10)]


@pytest.mark.parametrize(("net", "where"), BATCHED, ids=[f"{n.name}:{s.name}" for n, s in BATCHED])
@given(data=st.data())
@QUARTER
def test_batched_equals_one_at_a_time(net: Network, where: Site, data: Any) -> None:
    base, src = data.draw(batches(net, k=1))
    out = BE.interchange(net, base, [(where, src)])
    n = len(base[next(iter(base))])
    for i in range(n):
        one = BE.interchange(
            net,
            {k: v[i : i + 1] for k, v in base.items()},
            [(where, {k: v[i : i + 1] for k, v in src.items()})],
        )
        assert torch.allclose(out[i : i + 1], one, atol=ATOL, rtol=0)
        assert torch.equal(decisions(net, out[i : i + 1]), decisions(net, one))


# --- a whole layer patched = the source's forward ---------------------------------

WHOLE: list[tuple[Network, Site, float]] = [
    (MLP, site("2"), ATOL),
    (MLP, site("2", units=range(64)), ATOL),
    (MLP, site("2", featurizer=ROT64, dims=(0, 64)), 1e-5),
    (MLP, site("2", io="input"), ATOL),
    (TT, site("blocks.0"), ATOL),
    (TT, site("blocks.0", positions=tuple(range(SEQ))), ATOL),
    (TT, site("blocks.0", units=range(32)), ATOL),
    (TT, site("blocks.1", io="input", featurizer=ROT32, dims=(0, 32)), 1e-5),
]


@pytest.mark.parametrize(("net", "where", "atol"), WHOLE, ids=[f"{n.name}:{s.name}" for n, s, _ in WHOLE])
@given(data=st.data())
@QUARTER
def test_patching_a_whole_layer_gives_the_source_forward(
    net: Network, where: Site, atol: float, data: Any
) -> None:
    base, src = data.draw(batches(net, k=1))
    out = BE.interchange(net, base, [(where, src)])
    ref = plain(net, src)
    assert torch.allclose(out, ref, atol=atol, rtol=0)
    assert torch.equal(decisions(net, out), decisions(net, ref))


@given(data=st.data())
@HALF
def test_all_units_explicitly_is_bitwise_all_units(data: Any) -> None:
    """Explicit units are copied, not computed as h + (s - h), which rounds."""
    base, src = data.draw(batches(TT, k=1))
    every = BE.interchange(TT, base, [(site("blocks.0"), src)])
    listed = BE.interchange(TT, base, [(site("blocks.0", units=range(32)), src)])
    assert torch.equal(every, listed)


@given(data=st.data())
@HALF
def test_patching_the_last_position_changes_only_the_last_position(data: Any) -> None:
    base, src = data.draw(batches(TT, k=1))
    out = BE.interchange(TT, base, [(site("blocks.1", positions=(-1,)), src)])
    assert torch.equal(out[:, :-1], plain(TT, base)[:, :-1])
    assert torch.allclose(out[:, -1], plain(TT, src)[:, -1], atol=ATOL, rtol=0)


# --- several variables at once ------------------------------------------------------


def _mlp_reference(
    base: dict, s1: dict, s2: dict, s3: dict, a: list[int], b: list[int], c: list[int]
) -> torch.Tensor:
    """By hand: layer "0" units ``a`` from s1, layer "2" units ``b`` from s2 and ``c`` from s3."""
    m = MLP.module
    with torch.no_grad():

        def layer2(x: torch.Tensor) -> torch.Tensor:
            return m[2](m[1](m[0](x)))

        h0 = m[0](heq_encode(base)).clone()
        h0[:, a] = m[0](heq_encode(s1))[:, a]
        h2 = m[2](m[1](h0)).clone()
        h2[:, b] = layer2(heq_encode(s2))[:, b]
        h2[:, c] = layer2(heq_encode(s3))[:, c]
        return m[4](m[3](h2))


@given(data=st.data())
@HALF
def test_several_variables_with_their_own_sources_in_one_pass(data: Any) -> None:
    base, s1, s2, s3 = data.draw(batches(MLP, k=3))
    a, b, c = list(range(0, 128, 3)), [1, 5, 7], [0, 2]
    interventions = [(site("0", units=a), s1), (site("2", units=b), s2), (site("2", units=c), s3)]
    out = BE.interchange(MLP, base, interventions)
    ref = _mlp_reference(base, s1, s2, s3, a, b, c)
    assert torch.allclose(out, ref, atol=ATOL, rtol=0)
    assert torch.equal(decisions(MLP, out), decisions(MLP, ref))
    # the order in which the interventions are listed does not matter, to the bit
    assert torch.equal(out, BE.interchange(MLP, base, interventions[::-1]))
    assert hook_count(MLP.module) == 0


def _tt_reference(base: dict, s1: dict, s2: dict, s3: dict) -> torch.Tensor:
    """By hand: block 0 at position 1 from s1, units :16 at position 4 from s2; block 1's MLP at the last position from s3."""
    m = TT.module
    with torch.no_grad():

        def after0(batch: dict) -> torch.Tensor:
            return m.blocks[0](m.embed_tokens(token_encode(batch)))[0]

        def mlp1(batch: dict) -> torch.Tensor:
            x = after0(batch)
            x = x + m.blocks[1].attend(x)[0]
            return m.blocks[1].mlp(m.blocks[1].ln2(x))

        x = after0(base).clone()
        x[:, 1] = after0(s1)[:, 1]
        x[:, 4, :16] = after0(s2)[:, 4, :16]
        blk = m.blocks[1]
        x = x + blk.attend(x)[0]
        h = blk.mlp(blk.ln2(x)).clone()
        h[:, -1] = mlp1(s3)[:, -1]
        return m.unembed(x + h)


@given(data=st.data())
@QUARTER
def test_several_positions_and_modules_with_their_own_sources(data: Any) -> None:
    base, s1, s2, s3 = data.draw(batches(TT, k=3))
    interventions = [
        (site("blocks.0", positions=(1,)), s1),
        (site("blocks.0", positions=(4,), units=range(16)), s2),
        (site("blocks.1.mlp", positions=(-1,)), s3),
    ]
    out = BE.interchange(TT, base, interventions)
    ref = _tt_reference(base, s1, s2, s3)
    assert torch.allclose(out, ref, atol=ATOL, rtol=0)
    assert torch.equal(decisions(TT, out), decisions(TT, ref))
    assert torch.equal(out, BE.interchange(TT, base, interventions[::-1]))


# --- positions ----------------------------------------------------------------------


@given(data=st.data())
@HALF
def test_per_example_positions_take_the_source_at_its_own_position(data: Any) -> None:
    base, src = data.draw(batches(TT, k=1))
    out = BE.interchange(TT, base, [(site("blocks.0", positions=first_token_pos), src)])
    m = TT.module
    with torch.no_grad():
        xb = m.blocks[0](m.embed_tokens(token_encode(base)))[0].clone()
        xs = m.blocks[0](m.embed_tokens(token_encode(src)))[0]
        pb, ps = first_token_pos(base), first_token_pos(src)
        for i in range(xb.shape[0]):
            xb[i, pb[i]] = xs[i, ps[i]]
        ref = m.unembed(m.blocks[1](xb)[0])
    assert torch.allclose(out, ref, atol=ATOL, rtol=0)
    assert torch.equal(decisions(TT, out), decisions(TT, ref))


@given(data=st.data(), p=st.integers(0, SEQ - 1), units=st.sets(st.integers(0, 31), min_size=1, max_size=8))
@HALF
def test_negative_positions_and_units_mean_the_same_as_positive_ones(
    data: Any, p: int, units: set[int]
) -> None:
    base, src = data.draw(batches(TT, k=1))
    pos = BE.interchange(TT, base, [(site("blocks.0", positions=(p,), units=sorted(units)), src)])
    neg = BE.interchange(
        TT, base, [(site("blocks.0", positions=(p - SEQ,), units=sorted(u - 32 for u in units)), src)]
    )
    assert torch.equal(pos, neg)


@given(data=st.data())
@HALF
def test_per_example_negative_positions(data: Any) -> None:
    base, src = data.draw(batches(TT, k=1))

    def positive(batch: dict) -> np.ndarray:
        return two_pos(batch) % SEQ

    neg = BE.interchange(TT, base, [(site("blocks.1", positions=two_pos), src)])
    pos = BE.interchange(TT, base, [(site("blocks.1", positions=positive), src)])
    assert torch.equal(neg, pos)


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
