"""Shared by the dataset tests: small hypotheses and helpers that compare datasets array by array (not a test module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp
from hypothesis import settings

import causalabs as ca
from causalabs.data import CounterfactualDataset
from causalabs.loading import load_attr

ROOT = Path(__file__).resolve().parent.parent
HE = load_attr(f"{ROOT / 'hypotheses' / 'hierarchical_equality.py'}:HierarchicalEquality")

FAST = settings(max_examples=25, deadline=None)


class SmallEquality(ca.Hypothesis):
    """Hierarchical equality over range(3): 81 inputs, small enough for k=2 exhaustively."""

    w, x, y, z = ca.inputs("w x y z", domain=range(3))
    left = ca.var(sp.Eq(w, x))
    right = ca.var(sp.Eq(y, z))
    out = ca.output(sp.Eq(left, right))


class Inert(ca.Hypothesis):
    """``flag`` is in the graph but can never change the output: max(a, flag) = a for a >= 1."""

    a, b = ca.inputs("a b", domain=range(1, 4))
    flag = ca.var(sp.Eq(a, b))
    out = ca.output(sp.Max(a, flag))


class Addition(ca.Hypothesis):
    """Two-digit addition (10,000 inputs; 10^8 pairs, so balanced() samples)."""

    a1, a0, b1, b0 = ca.inputs("a1 a0 b1 b0", domain=range(10))
    carry = ca.var(sp.floor((a0 + b0) / 10))
    s0 = ca.var(sp.Mod(a0 + b0, 10))
    total = ca.output(10 * (a1 + b1 + carry) + s0, domain=range(200))


def arrays(ds: CounterfactualDataset) -> dict[str, np.ndarray]:
    out = {f"base.{k}": v for k, v in ds.base.items()}
    for var, src in ds.sources.items():
        out.update({f"source.{var}.{k}": v for k, v in src.items()})
    out["expected"] = ds.expected
    out["base_output"] = ds.base_output
    return out


def assert_same(a: CounterfactualDataset, b: CounterfactualDataset) -> None:
    assert a.digest == b.digest
    assert (a.hypothesis, a.intervened, a.inputs) == (b.hypothesis, b.intervened, b.inputs)
    xa, xb = arrays(a), arrays(b)
    assert xa.keys() == xb.keys()
    for k in xa:
        np.testing.assert_array_equal(xa[k], xb[k], err_msg=k)
        assert xa[k].dtype == np.int64


def source_values(h, ds: CounterfactualDataset, var: str) -> np.ndarray:
    return ca.run(h, ds.sources[var])[var]


def row(batch, i: int) -> dict[str, int]:
    return {k: int(v[i]) for k, v in batch.items()}


def tuple_codes(h, ds: CounterfactualDataset) -> np.ndarray:
    """One integer per (base, sources) tuple: mixed radix over input-domain indices."""
    model = ca.model_of(h)
    code = np.zeros(len(ds), dtype=np.int64)
    for batch in [ds.base] + [ds.sources[v] for v in ds.intervened]:
        for k in model.inputs:
            code = code * len(model.variables[k].domain) + model.domain_index(k, batch[k])
    return code
