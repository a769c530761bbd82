"""Counterfactual dataset designs: exhaustive (every pair once) and balanced (changed pairs in the asked proportion)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from _data_cases import FAST, HE, Addition, Inert, SmallEquality, source_values, tuple_codes
from hypothesis import given
from hypothesis import strategies as st

import causalabs as ca
from causalabs.data import balanced, check_dataset, exhaustive_pairs, input_pool
from causalabs.errors import DatasetError


# --- exhaustive --------------------------------------------------------------------


@pytest.mark.parametrize(
    "h, intervened, count",
    [(HE, ["left"], 256**2), (HE, ["w"], 256**2), (SmallEquality, ["left", "right"], 81**3), (Inert, ["flag"], 81)],
)
def test_exhaustive_covers_every_pair_once(h, intervened, count):
    ds = exhaustive_pairs(h, intervened)
    assert len(ds) == count == ca.model_of(h).input_space_size ** (1 + len(intervened))
    assert len(np.unique(tuple_codes(h, ds))) == count
    assert ds.mode == "exhaustive" and ds.seed is None
    np.testing.assert_array_equal(ds.expected, ca.interchange(h, ds.base, ds.sources)[ca.model_of(h).output])


def test_exhaustive_limit_names_the_hypothesis():
    with pytest.raises(DatasetError, match=r"HierarchicalEquality.*16,777,216"):
        exhaustive_pairs(HE, ["left", "right"])
    with pytest.raises(DatasetError, match="SmallEquality"):
        exhaustive_pairs(SmallEquality, "left", limit=1000)


def test_exhaustive_hierarchical_equality_change_rate():
    # Intervening on left changes out iff the source's left differs from the base's:
    # P(left=1) = 1/4, so P(differ) = 2 * 1/4 * 3/4 = 3/8, exactly, over all pairs.
    ds = exhaustive_pairs(HE, "left")
    assert ds.changed.sum() * 8 == len(ds) * 3


# --- balanced ------------------------------------------------------------------------


def _assert_balanced(h, ds, n, fraction, tol_fraction, tol_values):
    assert len(ds) == n
    assert abs(ds.changed.mean() - fraction) <= tol_fraction
    var = ds.intervened[0]
    values = source_values(h, ds, var)
    for cls in (False, True):
        mask = ds.changed == cls
        if mask.sum() == 0:
            continue
        counts = np.unique(values[mask], return_counts=True)[1]
        assert counts.max() - counts.min() <= tol_values * mask.sum(), (cls, counts)


def test_balanced_enumerated_is_exact():
    ds = balanced(HE, "left", 1000, 0)
    _assert_balanced(HE, ds, 1000, 0.5, 0.0, 0.0)
    values = source_values(HE, ds, "left")
    assert sorted(np.unique(values, return_counts=True)[1]) == [500, 500]
    check_dataset(HE, ds)
    assert ds.mode == "balanced"


def test_balanced_sampled_within_tolerance():
    ds = balanced(Addition, "carry", 4000, 5, changed_fraction=0.3)
    _assert_balanced(Addition, ds, 4000, 0.3, 0.001, 0.001)
    check_dataset(Addition, ds)
    # Random rows, not a handful repeated: the sample is drawn fresh for every cell.
    assert len(np.unique(tuple_codes(Addition, ds))) > 3900


def test_balanced_input_variable_and_several_variables():
    ds = balanced(HE, "w", 800, 1)  # four source values
    _assert_balanced(HE, ds, 800, 0.5, 0.0, 0.0)
    both = balanced(HE, ["left", "right"], 800, 1)  # sampled: 256^3 pairs
    assert both.changed.sum() == 400
    joint = source_values(HE, both, "left") * 2 + source_values(HE, both, "right")
    for cls in (False, True):
        counts = np.unique(joint[both.changed == cls], return_counts=True)[1]
        assert counts.max() - counts.min() <= 1, counts
    check_dataset(HE, both)


def test_balanced_options():
    plain = balanced(HE, "left", 600, 0, changed_fraction=None)  # values only
    assert sorted(np.unique(source_values(HE, plain, "left"), return_counts=True)[1]) == [300, 300]
    no_values = balanced(HE, "left", 600, 0, balance_values=False)
    assert no_values.changed.sum() == 300
    for f in (0.0, 1.0):
        assert balanced(HE, "left", 100, 0, changed_fraction=f).changed.mean() == f
    pooled = balanced(Addition, "carry", 500, 0, pool=60)  # 60^2 pairs: enumerated over the pool
    assert len(input_pool(pooled)[0]["a0"]) <= 60 and pooled.changed.sum() == 250
    with pytest.raises(DatasetError, match="changed_fraction"):
        balanced(HE, "left", 10, 0, changed_fraction=1.5)


@FAST
@given(n=st.integers(1, 300), fraction=st.floats(0, 1), seed=st.integers(0, 1000))
def test_balanced_property(n, fraction, seed):
    ds = balanced(HE, "left", n, seed, changed_fraction=fraction)
    assert len(ds) == n
    assert ds.changed.sum() == round(n * fraction)
    values = source_values(HE, ds, "left")
    for cls in (False, True):
        counts = np.bincount(values[ds.changed == cls], minlength=2)
        assert abs(int(counts[0]) - int(counts[1])) <= 1


class Rare(ca.Hypothesis):
    """``v`` is 1 on one input in a thousand."""

    a, b, c, d = ca.inputs("a b c d", domain=range(10))
    v = ca.var(sp.And(sp.Eq(a, 0), sp.Eq(b, 0), sp.Eq(c, 0)))
    out = ca.output(v + d)


def test_balanced_finds_rare_cells_and_warns_when_short():
    ds = balanced(Rare, "v", 400, 0)  # cell (changed, v=1) has probability ~1/1000
    _assert_balanced(Rare, ds, 400, 0.5, 0.0, 0.0)
    assert len(np.unique(tuple_codes(Rare, ds))) == 400
    with pytest.warns(UserWarning, match="Rare.*repeat"):
        short = balanced(Rare, "v", 2000, 0, max_candidates=200_000)
    _assert_balanced(Rare, short, 2000, 0.5, 0.0, 0.0)


def test_impossible_class_names_hypothesis_and_variable():
    with pytest.raises(DatasetError, match=r"Inert.*no \(base, source\) pair.*changes.*flag"):
        balanced(Inert, "flag", 100, 0)
    with pytest.raises(DatasetError, match=r"Inert.*none of .* sampled pairs.*flag"):
        balanced(Inert, "flag", 100, 0, enumerate_limit=0, max_candidates=100_000)
    assert balanced(Inert, "flag", 50, 0, changed_fraction=0.0).changed.sum() == 0
