"""Input encodings for :func:`causalabs.verification.prove`: per-input-separable encoders as exact rationals.

``InputEncoding`` states ``encode(x) = offset + sum_n table[n][x_n]``;
``one_hot_encoding`` and ``bits_encoding`` describe the organisms' encoders,
and ``probe_encoding`` derives one by calling ``network.encode`` and checks
that the encoder really is separable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import attrs
import numpy as np
import torch
import z3

from causalabs.network.network import Network
from causalabs.scm.semantics import HypothesisLike, enumerate_inputs, model_of
from causalabs.verification.prove.relu_z3 import UnsupportedNetworkError, Vec, exact, lin

__all__ = ["InputEncoding", "bits_encoding", "one_hot_encoding", "probe_encoding"]

#: Exhaustive separability check up to this many inputs; beyond it a seeded sample.
SEPARABILITY_LIMIT = 1 << 16


def _frac_vec(v: Sequence[Any]) -> tuple[Fraction, ...]:
    return tuple(x if isinstance(x, Fraction) else Fraction(float(x)) for x in v)


@attrs.frozen(eq=False)
class InputEncoding:
    """A per-input-separable encoder: ``x = offset + sum_n table[n][value of n]`` (exact rationals)."""

    offset: tuple[Fraction, ...] = attrs.field(converter=_frac_vec)
    table: Mapping[str, Mapping[int, tuple[Fraction, ...]]] = attrs.field(
        converter=lambda t: {str(n): {int(v): _frac_vec(vec) for v, vec in m.items()} for n, m in t.items()}
    )

    @property
    def width(self) -> int:
        return len(self.offset)

    def vector(self, xs: Mapping[str, z3.ArithRef]) -> Vec:
        """The encoded input as exact entries over the z3 input ints ``xs``."""
        eye = [[Fraction(int(i == j)) for j in range(self.width)] for i in range(self.width)]
        return self.affine(eye, [Fraction(0)] * self.width, xs)

    def affine(
        self, rows: Sequence[Sequence[Fraction]], bias: Sequence[Fraction], xs: Mapping[str, z3.ArithRef]
    ) -> Vec:
        """``W x + b`` of the encoded input, with the encoder folded in exactly.

        Row ``j`` reads input ``n`` through ``c(v) = W_j . table[n][v]``: a
        constant when ``c`` is, ``alpha + beta * v`` when ``c`` is affine in
        the value (e.g. a sum of one-hot digits weighted by the digit), and an
        If-chain over the values otherwise (the most common value as default).
        """
        out: Vec = []
        for j, row in enumerate(rows):
            const = bias[j] + sum((w * o for w, o in zip(row, self.offset) if w), Fraction(0))
            terms: list[z3.ArithRef] = []
            for n, m in self.table.items():
                vals = [(v, sum((w * e for w, e in zip(row, vec) if w), Fraction(0))) for v, vec in m.items()]
                (v0, c0) = vals[0]
                if all(c == c0 for _, c in vals):
                    const += c0
                    continue
                (v1, c1) = next((v, c) for v, c in vals if v != v0)
                beta = (c1 - c0) / (v1 - v0)
                if all(c == c0 + beta * (v - v0) for v, c in vals):
                    const += c0 - beta * v0
                    terms.append(z3.ToReal(xs[n]) if beta == 1 else z3.RealVal(beta) * z3.ToReal(xs[n]))
                    continue
                counts: dict[Fraction, int] = {}
                for _, c in vals:
                    counts[c] = counts.get(c, 0) + 1
                default = max(counts, key=lambda c: counts[c])
                e: z3.ArithRef = z3.RealVal(default)
                for v, c in reversed(vals):
                    if c != default:
                        e = z3.If(xs[n] == v, z3.RealVal(c), e)
                terms.append(e)
            out.append(lin(((Fraction(1), t) for t in terms), const))
        return out


def one_hot_encoding(names: Sequence[str], size: int) -> InputEncoding:
    """The organisms' ``one_hot``: each input ``n`` in ``range(size)`` gets a block of ``size`` columns."""
    width = len(names) * size
    table = {}
    for b, n in enumerate(names):
        table[n] = {v: tuple(Fraction(int(j == b * size + v)) for j in range(width)) for v in range(size)}
    return InputEncoding((Fraction(0),) * width, table)


def bits_encoding(names: Sequence[str]) -> InputEncoding:
    """The organisms' ``bits``: each 0/1 input is one float column."""
    width = len(names)
    table = {n: {v: tuple(Fraction(v * int(j == b)) for j in range(width)) for v in (0, 1)} for b, n in enumerate(names)}
    return InputEncoding((Fraction(0),) * width, table)


def _encode_matrix(network: Network, batch: dict[str, np.ndarray]) -> np.ndarray:
    x = network.encode(batch)
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or not x.is_floating_point():
        raise UnsupportedNetworkError(
            f"{network.name}: prove needs encode to return one (n, width) float tensor, "
            f"got {type(x).__name__}{'' if not isinstance(x, torch.Tensor) else tuple(x.shape)}"
        )
    return x.detach().cpu().double().numpy()


def probe_encoding(network: Network, hypothesis: HypothesisLike, *, seed: int = 0) -> InputEncoding:
    """Derive an :class:`InputEncoding` by calling ``network.encode``, and check it is separable.

    Probes every value of each input with the others at their first domain
    value, then checks ``encode(x) == offset + sum_n delta_n(x_n)`` exactly on
    every input (or, above ``SEPARABILITY_LIMIT`` inputs, on a seeded sample
    of 4,096).  A non-separable encoder is refused.
    """
    model = model_of(hypothesis)
    names = model.inputs
    doms = {n: [int(v) for v in model.variables[n].domain] for n in names}
    x0 = {n: doms[n][0] for n in names}
    rows = [dict(x0)]
    for n in names:
        for v in doms[n]:
            rows.append({**x0, n: v})
    probe = _encode_matrix(network, {n: np.array([r[n] for r in rows], dtype=np.int64) for n in names})
    base = probe[0]
    deltas: dict[str, dict[int, np.ndarray]] = {}
    i = 1
    for n in names:
        deltas[n] = {}
        for v in doms[n]:
            deltas[n][v] = probe[i] - base
            i += 1
    if model.input_space_size <= SEPARABILITY_LIMIT:
        batch = enumerate_inputs(model)
    else:
        rng = np.random.default_rng(seed)
        batch = {n: rng.choice(np.asarray(doms[n], dtype=np.int64), 4096) for n in names}
    got = _encode_matrix(network, batch)
    want = np.tile(base, (len(got), 1))
    for n in names:
        idx = np.searchsorted(np.asarray(doms[n]), batch[n])
        want = want + np.stack([deltas[n][v] for v in doms[n]])[idx]
    if not np.array_equal(got, want):
        bad = int(np.argmax((got != want).any(axis=1)))
        row = {n: int(batch[n][bad]) for n in names}
        raise UnsupportedNetworkError(
            f"{network.name}: its encoder is not separable per input (at {row} the code is not "
            "the sum of the per-input codes); pass encode_inputs=InputEncoding(...) if you know it"
        )
    offset = exact(torch.from_numpy(base))
    table: dict[str, dict[int, list[Fraction]]] = {}
    i = 1
    for n in names:
        table[n] = {}
        for v in doms[n]:
            table[n][v] = [a - o for a, o in zip(exact(torch.from_numpy(probe[i])), offset)]
            i += 1
    return InputEncoding(offset, table)


