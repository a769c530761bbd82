"""Property tests of the native intervention engine (hypothesis library).

Networks: a seeded wide MLP (``tests/_nets.py: wide_mlp``) and a seeded tiny
transformer with a ``(batch, seq, d)`` residual stream whose blocks return
tuples (``tests/_engine_cases.py``).  References are computed by walking the modules by hand, never
through causalabs' hooks.  Gradients through featurizers: test_engine_gradients.py.

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
from _engine_cases import (
    ATOL,
    BE,
    CASES,
    HALF,
    IDS,
    MLP,
    QUARTER,
    ROT32,
    ROT64,
    TT,
    batches,
    decisions,
    first_token_pos,
    plain,
    two_pos,
)
from _nets import SEQ, heq_encode, token_encode
from hypothesis import given
from hypothesis import strategies as st

from causalabs.backends.hooks import hook_count
from causalabs.network import Network, Site, site


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
