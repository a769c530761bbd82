"""Interventions for :func:`causalabs.verification.prove`: sites in z3, and sources tabulated exactly.

``mix`` writes a symbolic source vector into a site's subspace, as the native
engine does; ``source_table`` lists, over every source input, the distinct
(part of the vector the site reads, hypothesis value) pairs, computed in
exact rational arithmetic; ``mix_key`` writes such a part.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

import numpy as np
import z3

from causalabs.errors import AlignmentError
from causalabs.network.sites import Site
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import enumerate_inputs, run
from causalabs.verification.prove.inputs import InputEncoding
from causalabs.verification.prove.relu_z3 import (
    Builder,
    Layers,
    UnsupportedNetworkError,
    Vec,
    exact,
    lin,
    sub,
)

__all__ = ["exact_basis", "exact_run", "exact_vectors", "mix", "mix_key", "source_table", "width_at"]


def mix(b: Builder, h: Vec, s: Vec, site: Site, tag: str) -> Vec:
    """``h`` with the site's subspace taken from ``s``, like the engine's ``mix`` (exactly)."""
    sp = site.subspace
    width = len(h)
    if sp.is_all:
        return list(s)
    if sp.units is not None:
        out = list(h)
        for u in sp.units:
            if not -width <= u < width:
                raise AlignmentError(f"site {site.name}: unit {u} is out of range for width {width}")
            out[u % width] = s[u % width]
        return out
    feat = sp.featurizer
    assert feat is not None and sp.dims is not None
    if getattr(feat, "width", width) != width:
        raise AlignmentError(f"site {site.name}: featurizer width {feat.width} != activation width {width}")
    basis = feat.basis(*sp.dims)
    if basis is None:
        raise UnsupportedNetworkError(
            f"site {site.name}: featurizer {type(feat).__name__} is not orthogonal (no basis); "
            "prove encodes units and Rotation featurizers only"
        )
    U = exact(basis)  # width x k, the stored float matrix's exact values
    diff = [sub(si, hi) for si, hi in zip(s, h)]
    coords = []
    for j in range(len(U[0])):
        c = lin((U[i][j], diff[i]) for i in range(width))
        coords.append(c if isinstance(c, Fraction) else b.fresh(f"{tag}.coef{j}", c))
    return [
        lin([(Fraction(1), h[i])] + [(U[i][j], coords[j]) for j in range(len(coords))])
        for i in range(width)
    ]


def exact_run(layers: Layers, enc: InputEncoding, row: Mapping[str, int], stop: int) -> list[Fraction]:
    """The clean run of one concrete input up to position ``stop``, in exact rationals."""
    x = list(enc.offset)
    for n, m in enc.table.items():
        x = [a + d if d else a for a, d in zip(x, m[int(row[n])])]
    for k in range(stop):
        op = layers.ops[k]
        if op[0] == "linear":
            x = [
                sum((w * xi for w, xi in zip(wrow, x) if w and xi), Fraction(0)) + bias
                for wrow, bias in zip(op[1], op[2])
            ]
        elif op[0] == "relu":
            x = [max(xi, Fraction(0)) for xi in x]
    return x


def _key(vec: Sequence[Fraction], site: Site) -> tuple[Fraction, ...]:
    """What of a source's vector an interchange at ``site`` reads: the units, or the coordinates ``s U``."""
    sp = site.subspace
    if sp.is_all:
        return tuple(vec)
    if sp.units is not None:
        return tuple(vec[u % len(vec)] for u in sp.units)
    return tuple(sum((ui * xi for ui, xi in zip(col, vec) if ui and xi), Fraction(0)) for col in zip(*exact_basis(site)))


def exact_basis(site: Site) -> list[list[Fraction]]:
    """A rotation site's basis ``U`` (width x k) as the exact rationals its float32 values store."""
    sp = site.subspace
    assert sp.featurizer is not None and sp.dims is not None
    u = sp.featurizer.basis(*sp.dims)
    if u is None:
        raise UnsupportedNetworkError(
            f"site {site.name}: featurizer {type(sp.featurizer).__name__} is not orthogonal (no basis); "
            "prove encodes units and Rotation featurizers only"
        )
    return exact(u)


def _distinct(rows: Sequence[Sequence[int]]) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Distinct integer rows (first-seen order) and, per row, the index of its distinct row."""
    seen: dict[tuple[int, ...], int] = {}
    index = np.fromiter((seen.setdefault(tuple(r), len(seen)) for r in rows), dtype=np.int64, count=len(rows))
    return list(seen), index


def _as_ints(vectors: Sequence[Sequence[Fraction]]) -> tuple[np.ndarray, int]:
    den = math.lcm(1, *(x.denominator for v in vectors for x in v))
    return np.array([[x.numerator * (den // x.denominator) for x in v] for v in vectors], dtype=object).reshape(
        len(vectors), -1
    ), den


def exact_vectors(
    model: CausalModel,
    layers: Layers,
    enc: InputEncoding,
    stop: int,
    cache: dict[int, list[list[Fraction]]] | None = None,
    tick: Callable[[], None] | None = None,
) -> list[list[Fraction]]:
    """Every input's exact vector at position ``stop`` (in ``enumerate_inputs`` order), as :func:`exact_run`.

    Equal vectors are one shared list, so ``id()`` tells vectors apart.  The
    arithmetic runs on integers over a common denominator, once per
    *distinct* vector per layer.  ``cache`` maps positions to results (a
    later position starts from the nearest earlier one); ``tick()`` is
    called between layers and every 4,096 rows (it may raise to stop).
    """
    if cache is not None and stop in cache:
        return cache[stop]
    done = max((k for k in (cache or {}) if k <= stop), default=None)
    if done is not None:
        assert cache is not None
        ids: dict[int, int] = {}
        index = np.array([ids.setdefault(id(v), len(ids)) for v in cache[done]], dtype=np.int64)
        firsts = {}
        for v in cache[done]:
            firsts.setdefault(id(v), v)
        uniq, den = _as_ints(list(firsts.values()))
    else:
        batch = enumerate_inputs(model)
        den = math.lcm(1, *(x.denominator for x in enc.offset),
                       *(x.denominator for m in enc.table.values() for vec in m.values() for x in vec))
        codes = np.array([[x.numerator * (den // x.denominator) for x in enc.offset]], dtype=object)
        codes = np.repeat(codes, model.input_space_size, axis=0)
        for n, m in enc.table.items():
            values = sorted(m)
            deltas = np.array([[x.numerator * (den // x.denominator) for x in m[v]] for v in values], dtype=object)
            codes = codes + deltas[np.searchsorted(np.asarray(values), np.asarray(batch[n], dtype=np.int64))]
        rows, index = _distinct(codes.tolist())
        uniq = np.array(rows, dtype=object).reshape(len(rows), -1)
        done = 0
    for k in range(done, stop):
        if tick is not None:
            tick()
        op = layers.ops[k]
        if op[0] == "identity":
            continue
        if op[0] == "linear":
            (w, wd), (bias, bd) = _as_ints(op[1]), _as_ints([op[2]])
            y, yd = uniq.dot(w.T), den * wd
            lcm = math.lcm(yd, bd)
            uniq, den = y * (lcm // yd) + bias * (lcm // bd), lcm
            g = math.gcd(den, *uniq.ravel().tolist())
            if g > 1:
                uniq, den = uniq // g, den // g
        else:
            uniq = np.maximum(uniq, 0)
        rows, again = _distinct(uniq.tolist())
        uniq, index = np.array(rows, dtype=object).reshape(len(rows), -1), again[index]
    shared = [[Fraction(int(x), den) for x in row] for row in uniq.tolist()]
    xs = [shared[i] for i in index.tolist()]
    if cache is not None:
        cache[stop] = xs
    return xs


def source_table(
    model: CausalModel, layers: Layers, enc: InputEncoding, site: Site, variable: str, pos: int,
    cache: dict[int, list[list[Fraction]]] | None = None, tick: Callable[[], None] | None = None,
) -> list[tuple[tuple[Fraction, ...], int, dict[str, int]]]:
    """Every distinct (what the site reads, hypothesis value) over all source inputs, with a representative.

    Exhaustive and exact: each input's vector at the site is computed in
    rational arithmetic (:func:`exact_vectors`, ``cache`` shared).  Sources
    with the same entry give the same interchange result for every base, so
    z3 chooses among these few entries instead of encoding a symbolic source run.
    """
    batch = enumerate_inputs(model)
    values = run(model, batch)[variable]
    names = list(model.inputs)
    vecs = exact_vectors(model, layers, enc, pos, cache, tick)
    keys: dict[int, tuple[Fraction, ...]] = {}  # equal vectors are one list: id() tells them apart
    distinct: dict[tuple[Fraction, ...], int] = {}  # equal keys from different vectors share a number
    seen: dict[tuple[int, int], tuple[tuple[Fraction, ...], dict[str, int]]] = {}
    for i, v in enumerate(values.tolist()):
        vec = vecs[i]
        if id(vec) not in keys:
            keys[id(vec)] = _key(vec, site)
            distinct.setdefault(keys[id(vec)], len(distinct))
        entry = (distinct[keys[id(vec)]], int(v))
        if entry not in seen:
            seen[entry] = (keys[id(vec)], {n: int(batch[n][i]) for n in names})
    return [(key, v, row) for (_, v), (key, row) in seen.items()]


def mix_key(b: Builder, h: Vec, key: Sequence[z3.ArithRef], site: Site, tag: str) -> Vec:
    """``h`` after an interchange at ``site`` with a source whose entry is ``key`` (see :func:`_key`)."""
    sp = site.subspace
    width = len(h)
    if sp.is_all:
        return list(key)
    if sp.units is not None:
        out = list(h)
        for u, kv in zip(sp.units, key):
            out[u % width] = kv
        return out
    U = exact_basis(site)
    coords = []
    for j, kj in enumerate(key):
        c = lin([(Fraction(1), kj)] + [(-U[i][j], h[i]) for i in range(width)])
        coords.append(c if isinstance(c, Fraction) else b.fresh(f"{tag}.coef{j}", c))
    return [lin([(Fraction(1), h[i])] + [(U[i][j], coords[j]) for j in range(len(coords))]) for i in range(width)]


def width_at(layers: Layers, pos: int) -> int:
    """The vector width at a position of the stack."""
    width = layers.in_width
    for k in range(pos):
        if layers.ops[k][0] == "linear":
            width = len(layers.ops[k][1])
    return width
