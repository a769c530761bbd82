"""Exact enumeration for :func:`causalabs.verification.prove` when only affine layers follow the sites.

When no ReLU sits at or after the earliest intervened site, the logits under
an interchange are an affine function of the base's vector at that site and
of what each source's site reads (its *key*)::

    logits(b, s_1..s_n) = A[b] + sum_v R_v[s_v]

exactly (every mix is affine in the vector and the key, and so are Linear
and Identity layers).  Bases are tabulated like sources: every input's exact
vector at the site, paired with the hypothesis' counterfactual output for
every combination of the intervened variables' values, and the distinct
pairs are kept.  For a base ``b`` and values ``c`` with expected class ``e``,
the decision is ``e`` for every choice of sources iff, for every class
``i != e``, ``min over sources of (L_e - L_i)`` is ``> 0`` (``i < e``: the
first maximum wins) or ``>= 0`` (``i > e``).  The minimum of a sum of
per-source terms is the sum of per-variable minima, each over the sources
with that variable's value -- so every (base, sources) pair of the finite
domain is covered without listing the product.  A 1-dimensional key enters
linearly, so its minimum is at the group's smallest or largest key.  All of
it is exact rational arithmetic (integers over a common denominator).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import attrs
import numpy as np

from causalabs.network.sites import Site
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import do, enumerate_inputs
from causalabs.verification.prove.inputs import InputEncoding
from causalabs.verification.prove.sites import exact_vectors, mix_key
from causalabs.verification.prove.relu_z3 import Builder, Layers

__all__ = ["ENUMERATION_LIMIT", "Enumerated", "affine_after", "enumerate_check"]

#: The enumeration runs when (inputs x value combinations) and (distinct bases
#: x value combinations x classes) both stay under this; otherwise z3 does.
ENUMERATION_LIMIT = 10_000_000

Witness = tuple[dict[str, int], dict[str, dict[str, int]]]
Table = Sequence[tuple[tuple[Fraction, ...], int, dict[str, int]]]


@attrs.frozen
class Enumerated:
    """The enumeration's answer: ``witness`` (base row, sources) where the exact decision differs, or None."""

    witness: Witness | None
    bases: int  # distinct base entries
    pairs: int  # (base entry, source entries) combinations covered


def affine_after(layers: Layers, start: int) -> bool:
    """True when no ReLU sits at position ``start`` or later (the rest of the stack is affine)."""
    return all(op[0] != "relu" for op in layers.ops[start:])


def _linear(op: tuple, x: Sequence[Fraction]) -> list[Fraction]:
    return [sum((w * xi for w, xi in zip(row, x) if w and xi), Fraction(0)) + bias for row, bias in zip(op[1], op[2])]


def _tail(
    layers: Layers, h: Sequence[Fraction], start: int, sites: Sequence[tuple[str, Site]],
    pos: Mapping[str, int], keys: Mapping[str, Sequence[Fraction]],
) -> list[Fraction]:
    """The logits from the vector ``h`` at ``start``, each site overwritten with its key, exactly."""
    b = Builder()
    x: list[Any] = list(h)
    for p in range(start, len(layers.names) + 1):
        for v, s in sites:
            if pos[v] == p:
                x = mix_key(b, x, keys[v], s, f"enum[{v}]")
        if p < len(layers.names) and layers.ops[p][0] == "linear":
            x = _linear(layers.ops[p], x)
    if b.constraints or not all(isinstance(e, Fraction) for e in x):  # pragma: no cover - defensive
        raise RuntimeError("prove: the exact tail evaluation produced a symbolic term")
    return x


def _exact_ints(rows: Sequence[Sequence[Fraction]]) -> tuple[np.ndarray, int]:
    """Exact rationals as an integer (object) matrix and one common denominator: ``rows = ints / den``."""
    den = math.lcm(*(x.denominator for r in rows for x in r))
    return np.array([[x.numerator * (den // x.denominator) for x in r] for r in rows], dtype=object), den


def enumerate_check(
    model: CausalModel,
    layers: Layers,
    enc: InputEncoding,
    sites: Sequence[tuple[str, Site]],
    pos: Mapping[str, int],
    classes: Sequence[int],
    tables: Mapping[str, Table],
    vectors: dict[int, list[list[Fraction]]],
    tick: Callable[[], None] | None = None,
) -> Enumerated | None:
    """Check every (base, sources) pair exactly; None when the enumeration does not apply (too large, ReLU after a site).

    ``tables``: each variable's source table (:func:`prove_sites.source_table`);
    ``vectors``: a cache, position -> every input's exact vector there;
    ``tick()`` is called between steps (it may raise to stop).
    """
    start = min(pos.values())
    if not affine_after(layers, start) or len(set(classes)) != len(classes):
        return None
    names = [v for v, _ in sites]
    values = [sorted({val for _, val, _ in tables[v]}) for v in names]
    combos = list(itertools.product(*values))
    n_in = model.input_space_size
    if n_in * len(combos) > ENUMERATION_LIMIT:
        return None
    batch = enumerate_inputs(model)
    vecs = exact_vectors(model, layers, enc, start, vectors, tick)
    cf = np.stack([do(model, batch, dict(zip(names, c)))[model.output] for c in combos], axis=1)
    cf = np.ascontiguousarray(cf.astype(np.int64))
    seen: dict[tuple[int, bytes], int] = {}
    for i, vec in enumerate(vecs):  # equal vectors are one list (exact_vectors): id() tells them apart
        seen.setdefault((id(vec), cf[i].tobytes()), i)
    base_idx = list(seen.values())
    if len(base_idx) * len(combos) * len(classes) > ENUMERATION_LIMIT:
        return None
    # the tail's affine map, column by column: logits = c0 + M h + sum_v N_v k_v
    width = len(vecs[0])
    zero = {v: [Fraction(0)] * len(tables[v][0][0]) for v in names}
    c0 = _tail(layers, [Fraction(0)] * width, start, sites, pos, zero)

    def column(h: list[Fraction], keys: Mapping[str, Sequence[Fraction]]) -> list[Fraction]:
        return [y - c for y, c in zip(_tail(layers, h, start, sites, pos, keys), c0)]

    unit = lambda j, d: [Fraction(int(k == j)) for k in range(d)]
    M = _exact_ints([column(unit(j, width), zero) for j in range(width)])
    N = {v: _exact_ints([column([Fraction(0)] * width, {**zero, v: unit(j, len(zero[v]))}) for j in range(len(zero[v]))])
         for v in names}
    H = _exact_ints([vecs[i] for i in base_idx])
    K = {v: _exact_ints([key for key, _, _ in tables[v]]) for v in names}
    C0 = _exact_ints([c0])
    # A = c0 + H M and R_v = K_v N_v, as integers over one common denominator
    parts = {"A": (H[0].dot(M[0]), H[1] * M[1]), **{v: (K[v][0].dot(N[v][0]), K[v][1] * N[v][1]) for v in names}}
    den = math.lcm(C0[1], *(d for _, d in parts.values()))
    A = parts["A"][0] * (den // parts["A"][1]) + C0[0] * (den // C0[1])
    R = {v: parts[v][0] * (den // parts[v][1]) for v in names}
    # guard the decomposition at one point: the direct exact evaluation must equal (A + sum R) / den
    direct = _tail(layers, vecs[base_idx[0]], start, sites, pos, {v: tables[v][0][0] for v in names})
    if [x * den for x in direct] != list(A[0] + sum(R[v][0] for v in names)):
        raise RuntimeError("prove: the interchange is not affine in the keys; this is a bug")  # pragma: no cover
    groups: dict[tuple[str, int], np.ndarray] = {}
    for v, vals in zip(names, values):
        for val in vals:
            g = [k for k, (_, hv, _) in enumerate(tables[v]) if hv == val]
            if len(zero[v]) == 1:  # a linear function of one number: extreme at the smallest or largest key
                g = sorted({min(g, key=lambda k: tables[v][k][0][0]), max(g, key=lambda k: tables[v][k][0][0])})
            groups[v, val] = np.array(g)
    mins: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def least(v: str, val: int, e: int) -> tuple[np.ndarray, np.ndarray]:
        """Over the sources with ``v = val``: min of ``R_e - R_i`` per class ``i``, and the source attaining it."""
        if (v, val, e) not in mins:
            g = groups[v, val]
            diff = R[v][g][:, e : e + 1] - R[v][g]
            mins[v, val, e] = (diff.min(axis=0), g[diff.argmin(axis=0).astype(np.int64)])
        return mins[v, val, e]

    index = {k: i for i, k in enumerate(classes)}
    rows = [{n: int(batch[n][i]) for n in model.inputs} for i in base_idx]
    src_row = lambda v, k: dict(tables[v][int(k)][2])
    for ci, c in enumerate(combos):
        if tick is not None:
            tick()
        by_class: dict[int, list[int]] = {}
        for bi, i in enumerate(base_idx):
            e = index.get(int(cf[i, ci]))
            if e is None:  # the network can never decide this value
                return Enumerated((rows[bi], {v: src_row(v, groups[v, val][0]) for v, val in zip(names, c)}), len(base_idx), 0)
            by_class.setdefault(e, []).append(bi)
        for e, bs in by_class.items():
            lows = [least(v, val, e) for v, val in zip(names, c)]
            margin = A[bs][:, e : e + 1] - A[bs] + sum(m for m, _ in lows)
            bad = np.zeros(margin.shape, dtype=bool)
            bad[:, :e] = (margin[:, :e] <= 0).astype(bool)
            bad[:, e + 1 :] = (margin[:, e + 1 :] < 0).astype(bool)
            if bad.any():
                r, i = (int(t) for t in np.argwhere(bad)[0])
                srcs = {v: src_row(v, arg[i]) for v, (_, arg) in zip(names, lows)}
                return Enumerated((rows[bs[r]], srcs), len(base_idx), 0)
    pairs = len(base_idx) * math.prod(len(tables[v]) for v in names)
    return Enumerated(None, len(base_idx), pairs)
