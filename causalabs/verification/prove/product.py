"""Exact enumeration of every (base, sources) combination, for any chain after the sites.

Where :mod:`.enumerate` needs an affine tail, this runs the exact tail --
ReLUs included -- on every combination of

* a distinct *base entry*: an input's exact vector at the earliest site,
  with the hypothesis' counterfactual output under every combination of the
  intervened variables' values (inputs sharing both are interchangeable);
* one *source entry* per intervened variable: what the site reads from the
  source, with the variable's value there (:func:`.sites.source_table`).

Every (base, sources) pair of the finite domain is one of these
combinations, so checking them all is exhaustive.  The arithmetic is exact:
rationals become Python integers over one common denominator per step
(numpy object arrays), a Linear is an integer matrix product, ReLU a
maximum with 0, and the decision is the first index of the largest logit,
like ``torch.argmax``.  Cost: entries x combinations x the tail's
multiply-adds (:func:`plan`), which the proof compares with z3's before
choosing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

import attrs
import numpy as np

from causalabs.network.sites import Site
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import do, enumerate_inputs
from causalabs.verification.prove.enumerate import Enumerated
from causalabs.verification.prove.inputs import InputEncoding
from causalabs.verification.prove.relu_z3 import Layers
from causalabs.verification.prove.sites import exact_basis, exact_vectors
from causalabs.verification.prove.watch import Watch

__all__ = ["ProductPlan", "plan", "run"]

#: Combinations evaluated per batch (each batch is one integer matrix product per layer).
BATCH = 2048

Table = Sequence[tuple[tuple[Fraction, ...], int, dict[str, int]]]
Exact = tuple[np.ndarray, int]  # integers and their common denominator


def _ints(rows: Sequence[Sequence[Fraction]]) -> Exact:
    """Exact rationals as an integer (object) matrix over one common denominator."""
    den = math.lcm(*(x.denominator for r in rows for x in r)) if rows and rows[0] else 1
    return np.array([[x.numerator * (den // x.denominator) for x in r] for r in rows], dtype=object).reshape(
        len(rows), -1
    ), den


def _common(a: Exact, b: Exact) -> tuple[np.ndarray, np.ndarray, int]:
    den = math.lcm(a[1], b[1])
    return a[0] * (den // a[1]), b[0] * (den // b[1]), den


def _reduce(x: Exact) -> Exact:
    g = math.gcd(x[1], *x[0].ravel().tolist())
    return (x[0] // g, x[1] // g) if g > 1 else x


@attrs.frozen(eq=False)
class ProductPlan:
    """The enumeration of one variable set, prepared: its entries and its cost."""

    names: tuple[str, ...]
    start: int
    base_rows: list[dict[str, int]]  # a representative input per base entry
    base_vectors: Exact  # their exact vectors at ``start``
    expected: np.ndarray  # (bases, value combinations): the hypothesis' counterfactual output
    value_index: dict[str, np.ndarray]  # per variable: each source entry's value, as an index into its values
    radix: tuple[int, ...]  # per variable: how many values
    keys: dict[str, Exact]  # per variable: each source entry's key
    combinations: int  # bases x source entries
    step_cost: int  # multiply-adds of the tail, per combination

    @property
    def cost(self) -> int:
        """Estimated operations: combinations x the tail's multiply-adds."""
        return self.combinations * self.step_cost


def _tail_cost(layers: Layers, start: int, sites: Sequence[tuple[str, Site]], width: int) -> int:
    cost = 0
    for op in layers.ops[start:]:
        if op[0] == "linear":
            cost += len(op[1]) * len(op[1][0]) if op[1] else 0
        elif op[0] == "relu":
            cost += width
    for _, s in sites:
        k = len(s.subspace.units) if s.subspace.units is not None else width
        cost += k if s.subspace.featurizer is None else 2 * width * k
    return max(cost, 1) + layers.out_width


def plan(
    model: CausalModel,
    layers: Layers,
    enc: InputEncoding,
    sites: Sequence[tuple[str, Site]],
    pos: Mapping[str, int],
    tables: Mapping[str, Table],
    vectors: dict[int, list[list[Fraction]]],
    watch: Watch | None = None,
) -> ProductPlan:
    """Tabulate the base entries of one set (exact vectors at the earliest site, counterfactuals) and cost it."""
    names = tuple(v for v, _ in sites)
    start = min(pos.values())
    values = [sorted({val for _, val, _ in tables[v]}) for v in names]
    combos = list(itertools.product(*values))
    batch = enumerate_inputs(model)
    vecs = exact_vectors(model, layers, enc, start, vectors, tick=None if watch is None else watch.check)
    cf = np.stack([np.asarray(do(model, batch, dict(zip(names, c)))[model.output]) for c in combos], axis=1)
    cf = np.ascontiguousarray(cf.astype(np.int64))
    seen: dict[tuple[int, bytes], int] = {}
    for i, vec in enumerate(vecs):  # equal vectors are one list (exact_vectors): id() tells them apart
        seen.setdefault((id(vec), cf[i].tobytes()), i)
        if watch is not None and i % 4096 == 4095:
            watch.check()
    base_idx = list(seen.values())
    rows = [{n: int(batch[n][i]) for n in model.inputs} for i in base_idx]
    value_index = {
        v: np.array([vals.index(val) for _, val, _ in tables[v]], dtype=np.int64) for v, vals in zip(names, values)
    }
    sources = math.prod(len(tables[v]) for v in names)
    return ProductPlan(
        names=names,
        start=start,
        base_rows=rows,
        base_vectors=_ints([vecs[i] for i in base_idx]),
        expected=cf[base_idx].astype(np.int64),
        value_index=value_index,
        radix=tuple(len(v) for v in values),
        keys={v: _ints([key for key, _, _ in tables[v]]) for v in names},
        combinations=len(base_idx) * sources,
        step_cost=_tail_cost(layers, start, sites, len(vecs[0])),
    )


def _mix(x: Exact, key: Exact, site: Site, basis: Exact | None) -> Exact:
    """The interchange at ``site`` on a batch: ``x`` with what the site reads replaced by ``key``."""
    sp = site.subspace
    if sp.is_all:
        return key
    if sp.units is not None:
        xi, ki, den = _common(x, key)
        xi = xi.copy()
        width = xi.shape[1]
        for j, u in enumerate(sp.units):
            xi[:, u % width] = ki[:, j]
        return xi, den
    assert basis is not None  # h' = h + (key - h U) U^T, exactly
    ui, ud = basis
    hu = (x[0].dot(ui), x[1] * ud)
    ki, hi, cden = _common(key, hu)
    coords = (ki - hi, cden)
    shift = (coords[0].dot(ui.T), coords[1] * ud)
    a, b, den = _common(x, shift)
    return a + b, den


def run(
    p: ProductPlan,
    layers: Layers,
    sites: Sequence[tuple[str, Site]],
    pos: Mapping[str, int],
    classes: Sequence[int],
    tables: Mapping[str, Table],
    watch: Watch | None = None,
) -> Enumerated:
    """Check every combination of :func:`plan`; the first whose exact decision differs is the witness."""
    linears = {k: (_ints(op[1]), _ints([op[2]])) for k, op in enumerate(layers.ops) if op[0] == "linear" and k >= p.start}
    bases = {v: _ints(u) for v, s in sites if (u := _rotation(s)) is not None}
    sizes = (len(p.base_rows), *(len(tables[v]) for v in p.names))
    cls = np.asarray(classes, dtype=np.int64)
    strides = np.cumprod((1, *p.radix[::-1]))[::-1][1:]  # value combination -> column of ``expected``
    if watch is not None:
        watch.stage(f"enumerating {{{', '.join(p.names)}}}: (base, sources) combinations", total=p.combinations)
    for lo in range(0, p.combinations, BATCH):
        flat = np.arange(lo, min(lo + BATCH, p.combinations))
        idx = np.unravel_index(flat, sizes)
        b = idx[0]
        x: Exact = (p.base_vectors[0][b], p.base_vectors[1])
        for k in range(p.start, len(layers.ops) + 1):
            for j, (v, s) in enumerate(sites):
                if pos[v] == k:
                    keys = p.keys[v]
                    x = _mix(x, (keys[0][idx[1 + j]], keys[1]), s, bases.get(v))
            if k == len(layers.ops):
                break
            op = layers.ops[k]
            if op[0] == "linear":
                (wi, wd), (bi, bd) = linears[k]
                y = (x[0].dot(wi.T), x[1] * wd)
                yi, bb, den = _common(y, (bi, bd))
                x = _reduce((yi + bb, den))
            elif op[0] == "relu":
                x = (np.maximum(x[0], 0), x[1])
        decided = cls[np.argmax(x[0], axis=1).astype(np.int64)]
        column = sum(p.value_index[v][idx[1 + j]] * strides[j] for j, v in enumerate(p.names))
        expected = p.expected[b, column]
        bad = np.flatnonzero(decided != expected)
        if bad.size:
            i = int(bad[0])
            srcs = {v: dict(tables[v][int(idx[1 + j][i])][2]) for j, v in enumerate(p.names)}
            return Enumerated((dict(p.base_rows[int(b[i])]), srcs), len(p.base_rows), 0)
        if watch is not None:
            watch.advance(len(flat))
    return Enumerated(None, len(p.base_rows), p.combinations)


def _rotation(site: Site) -> list[list[Fraction]] | None:
    sp = site.subspace
    if sp.is_all or sp.units is not None:
        return None
    return exact_basis(site)
