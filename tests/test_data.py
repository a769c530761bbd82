"""Counterfactual datasets: reproducibility, digests, files, correctness, pools, row operations, validation.

The designs (exhaustive, balanced) are tested in test_data_designs.py.
"""

from __future__ import annotations

import ast
import pickle

import numpy as np
import pytest
from _data_cases import (
    FAST,
    HE,
    ROOT,
    Addition,
    SmallEquality,
    arrays,
    assert_same,
    row,
    tuple_codes,
)
from hypothesis import given
from hypothesis import strategies as st

import causalabs as ca
from causalabs.data import (
    CounterfactualDataset,
    balanced,
    check_dataset,
    concat,
    exhaustive_pairs,
    input_pool,
    random_pairs,
)
from causalabs.errors import DatasetError, UnknownVariableError


# --- reproducibility and digests ---------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda s: random_pairs(HE, "left", 500, s),
        lambda s: random_pairs(HE, ["left", "right"], 500, s, pool=30),
        lambda s: balanced(HE, HE.left, 500, s),
        lambda s: balanced(Addition, "carry", 500, s),
    ],
    ids=["random", "random-pool", "balanced-enumerated", "balanced-sampled"],
)
def test_same_seed_same_dataset_other_seed_other_digest(make):
    a, b, c = make(7), make(7), make(8)
    assert_same(a, b)
    assert a.digest != c.digest
    assert a.seed == 7 and c.seed == 8


def test_digest_changes_when_any_array_changes():
    ds = random_pairs(HE, ["left", "right"], 50, 0)
    seen = {ds.digest}
    fields = arrays(ds)
    for key in fields:
        changed = {k: v.copy() for k, v in fields.items()}
        changed[key][3] += 1
        base = {k: changed[f"base.{k}"] for k in ds.inputs}
        sources = {v: {k: changed[f"source.{v}.{k}"] for k in ds.inputs} for v in ds.intervened}
        other = CounterfactualDataset(
            ds.hypothesis, base, sources, ds.intervened, changed["expected"], changed["base_output"]
        )
        assert other.digest not in seen, key
        seen.add(other.digest)
    # The name and the intervened variables are content too; mode and seed are not.
    renamed = CounterfactualDataset("Other", ds.base, ds.sources, ds.intervened, ds.expected, ds.base_output)
    assert renamed.digest != ds.digest
    swapped = CounterfactualDataset(
        ds.hypothesis,
        ds.base,
        {"left": ds.sources["right"], "right": ds.sources["left"]},
        ds.intervened,
        ds.expected,
        ds.base_output,
    )
    assert swapped.digest != ds.digest
    relabelled = CounterfactualDataset(
        ds.hypothesis, ds.base, ds.sources, ds.intervened, ds.expected, ds.base_output, "x", 99
    )
    assert relabelled.digest == ds.digest


def test_given_digest_is_checked():
    ds = random_pairs(HE, "left", 20, 0)
    same = CounterfactualDataset(*(getattr(ds, f) for f in ("hypothesis", "base", "sources", "intervened",
                                                            "expected", "base_output", "mode", "seed", "digest")))
    assert same.digest == ds.digest
    with pytest.raises(DatasetError, match="does not match"):
        CounterfactualDataset(ds.hypothesis, ds.base, ds.sources, ds.intervened, ds.expected,
                              ds.base_output, digest="0" * 64)


def test_arrays_are_copied_and_read_only():
    base = {k: np.arange(4) % 4 for k in "wxyz"}
    src = {k: np.arange(4)[::-1].copy() for k in "wxyz"}
    expected, base_output = np.array([1, 0, 0, 1]), np.array([1, 1, 1, 1])
    ds = CounterfactualDataset("HierarchicalEquality", base, {"left": src}, ("left",), expected, base_output)
    digest = ds.digest
    base["w"][0] = 3
    src["x"][0] = 0
    expected[0] = 7
    assert ds.base["w"][0] == 0 and ds.sources["left"]["x"][0] == 3 and ds.expected[0] == 1
    for arr in arrays(ds).values():
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 1
    assert not ds.changed.flags.writeable
    assert ds.digest == digest


def test_pickle_keeps_read_only_and_digest():
    ds = random_pairs(HE, "left", 30, 1)
    back = pickle.loads(pickle.dumps(ds))
    assert_same(ds, back)
    assert not back.expected.flags.writeable


# --- files ---------------------------------------------------------------------


def test_npz_round_trip(tmp_path):
    ds = balanced(HE, ["left", "right"], 300, 3)
    path = ds.to_npz(tmp_path / "he.data")  # the exact name is kept (no .npz appended)
    assert path == tmp_path / "he.data" and path.is_file()
    back = CounterfactualDataset.from_npz(path)
    assert_same(ds, back)
    assert (back.mode, back.seed) == ("balanced", 3)
    assert all(not a.flags.writeable for a in arrays(back).values())
    ds.to_npz(tmp_path / "raw.npz", compress=False)
    assert_same(ds, CounterfactualDataset.from_npz(tmp_path / "raw.npz"))


def test_npz_tampering_and_bad_files_raise(tmp_path):
    ds = random_pairs(HE, "left", 40, 0)
    path = ds.to_npz(tmp_path / "d.npz")
    with np.load(path) as z:
        files = {k: z[k] for k in z.files}
    files["expected"] = files["expected"].copy()
    files["expected"][0] = 1 - files["expected"][0]
    np.savez(tmp_path / "tampered.npz", **files)
    with pytest.raises(DatasetError, match="tampered.npz.*does not match"):
        CounterfactualDataset.from_npz(tmp_path / "tampered.npz")
    with pytest.raises(DatasetError, match="no such"):
        CounterfactualDataset.from_npz(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="junk.npz"):
        CounterfactualDataset.from_npz(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    with pytest.raises(DatasetError, match="other.npz"):
        CounterfactualDataset.from_npz(tmp_path / "other.npz")


# --- expected outputs are the hypothesis' own ------------------------------------


@pytest.mark.parametrize("intervened", [["left"], ["right"], ["left", "right"], ["w"], ["out"]])
def test_expected_is_interchange_row_by_row(intervened):
    ds = random_pairs(HE, intervened, 400, 11)
    sources = {v: ds.sources[v] for v in intervened}
    np.testing.assert_array_equal(ds.expected, ca.interchange(HE, ds.base, sources)["out"])
    np.testing.assert_array_equal(ds.base_output, ca.run(HE, ds.base)["out"])
    for i in (0, 1, 17, 399):  # one row at a time, from scalar dicts
        one = ca.interchange(HE, row(ds.base, i), {v: row(ds.sources[v], i) for v in intervened})
        assert int(one["out"][0]) == int(ds.expected[i])
        # and by hand: do() with each variable's value on its own source
        values = {v: int(ca.run(HE, row(ds.sources[v], i))[v][0]) for v in intervened}
        assert int(ca.do(HE, row(ds.base, i), values)["out"][0]) == int(ds.expected[i])
    check_dataset(HE, ds)


def test_check_dataset_names_the_wrong_row():
    ds = random_pairs(HE, "left", 30, 0)
    wrong = ds.expected.copy()
    wrong[5] = 1 - wrong[5]
    bad = CounterfactualDataset(ds.hypothesis, ds.base, ds.sources, ds.intervened, wrong, ds.base_output)
    with pytest.raises(DatasetError, match="row 5"):
        check_dataset(HE, bad)
    with pytest.raises(DatasetError, match="SmallEquality"):
        check_dataset(SmallEquality, ds)


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 60),
    intervened=st.lists(st.sampled_from(["w", "x", "left", "right", "out"]), min_size=1, max_size=3, unique=True),
    pool=st.one_of(st.none(), st.integers(1, 256)),
)
def test_random_pairs_property(seed, n, intervened, pool):
    ds = random_pairs(HE, intervened, n, seed, pool=pool)
    order = list(ca.model_of(HE).variables)
    assert ds.intervened == tuple(sorted(intervened, key=order.index))
    assert len(ds) == n and ds.mode == "random"
    check_dataset(HE, ds)
    assert_same(ds, random_pairs(HE, intervened, n, seed, pool=pool))
    if pool is not None:
        assert len(input_pool(ds)[0]["w"]) <= pool


def test_symbols_and_names_are_interchangeable():
    assert_same(random_pairs(HE, [HE.right, "left"], 50, 2), random_pairs(HE, ("left", "right"), 50, 2))


# --- pools ----------------------------------------------------------------------


def test_pool_size_draws_distinct_inputs_and_reuses_them():
    ds = random_pairs(Addition, "carry", 5000, 0, pool=40)
    pool, base_index, source_index = input_pool(ds)
    assert len(pool["a0"]) <= 40
    for k in ds.inputs:  # gathering from the pool rebuilds every batch
        np.testing.assert_array_equal(pool[k][base_index], ds.base[k])
        np.testing.assert_array_equal(pool[k][source_index["carry"]], ds.sources["carry"][k])
    with pytest.raises(DatasetError, match="256"):
        random_pairs(HE, "left", 10, 0, pool=257)


def test_pool_batch_restricts_inputs():
    pool = {"w": [0, 1, 1], "x": [0, 2, 2], "y": [3, 3, 3], "z": [3, 0, 0]}  # two distinct rows
    ds = random_pairs(HE, "left", 200, 0, pool=pool)
    seen = {tuple(r.values()) for r in ca.rows(ds.base)} | {tuple(r.values()) for r in ca.rows(ds.sources["left"])}
    assert seen == {(0, 0, 3, 3), (1, 2, 3, 0)}
    ex = exhaustive_pairs(HE, "left", pool=pool)
    assert len(ex) == 4
    with pytest.raises(DatasetError, match="not a size"):
        exhaustive_pairs(HE, "left", pool=10)


# --- row operations -------------------------------------------------------------------


def test_subset_concat_split():
    ds = random_pairs(HE, ["left", "right"], 101, 4, pool=50)
    head, tail = ds.subset(slice(0, 40)), ds.subset(np.arange(40, 101))
    assert_same(concat([head, tail]), ds)
    assert_same(head.concat(tail), ds)
    assert head.digest != ds.digest and len(head) == 40
    mask = ds.changed
    assert_same(ds.subset(mask), ds.subset(np.flatnonzero(mask)))
    train, test = ds.split(0.25, seed=3)
    assert (len(train), len(test)) == (76, 25)
    t2 = ds.split(0.25, seed=3)
    assert_same(train, t2[0]) and assert_same(test, t2[1])
    assert ds.split(0.25, seed=4)[1].digest != test.digest
    # The parts partition the rows: together they hold each (base, sources) tuple of ds.
    whole = np.sort(tuple_codes(HE, ds))
    np.testing.assert_array_equal(np.sort(np.concatenate([tuple_codes(HE, train), tuple_codes(HE, test)])), whole)
    empty = ds.subset(np.array([], dtype=np.int64))
    assert len(empty) == 0 and len(empty.changed) == 0
    with pytest.raises(DatasetError, match="positions"):
        ds.subset([0, 500])
    with pytest.raises(DatasetError, match="intervened"):
        concat([ds, random_pairs(HE, "left", 5, 0)])


@FAST
@given(st.data())
def test_subset_digest_is_content_digest(data):
    ds = random_pairs(HE, "left", 40, 0)
    idx = data.draw(st.lists(st.integers(0, 39), max_size=60))
    sub = ds.subset(np.array(idx, dtype=np.int64))
    rebuilt = CounterfactualDataset(
        ds.hypothesis,
        {k: np.asarray(v)[idx] for k, v in ds.base.items()},
        {"left": {k: np.asarray(v)[idx] for k, v in ds.sources["left"].items()}},
        ("left",),
        ds.expected[idx],
        ds.base_output[idx],
    )
    assert sub.digest == rebuilt.digest
    assert len(sub) == len(idx)
    check_dataset(HE, sub)


# --- validation -------------------------------------------------------------------------


def test_bad_arguments_raise_named_errors():
    with pytest.raises(UnknownVariableError, match="nope"):
        random_pairs(HE, "nope", 5, 0)
    with pytest.raises(DatasetError, match="twice"):
        random_pairs(HE, ["left", HE.left], 5, 0)
    with pytest.raises(DatasetError, match="at least one"):
        random_pairs(HE, [], 5, 0)
    with pytest.raises(DatasetError, match="seed"):
        random_pairs(HE, "left", 5, -1)
    with pytest.raises(DatasetError, match="n must"):
        balanced(HE, "left", -3, 0)
    ds = random_pairs(HE, "left", 5, 0)
    with pytest.raises(DatasetError, match="disagree in length"):
        CounterfactualDataset(ds.hypothesis, ds.base, ds.sources, ds.intervened, ds.expected[:4], ds.base_output)
    with pytest.raises(DatasetError, match="one source batch per intervened"):
        CounterfactualDataset(ds.hypothesis, ds.base, ds.sources, ("left", "right"), ds.expected, ds.base_output)
    with pytest.raises(DatasetError, match="integers"):
        CounterfactualDataset(ds.hypothesis, ds.base, ds.sources, ds.intervened, ds.expected * 0.5, ds.base_output)
    assert isinstance(DatasetError("x"), ValueError)


def test_data_layer_imports_no_torch():
    banned = {"torch", "pyvene", "transformers"}
    for path in (ROOT / "causalabs" / "data").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & banned, (path.name, names)
