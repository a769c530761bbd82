"""Input requirements (``ca.require``): declaration, counting, enumeration, draws, data, z3, scrubbing, rendering.

The verdict modes on a planted degenerate input are in ``test_requirements_verify.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from test_requirements_verify import ALIGNMENT, Pick, PickDistinct, pick_network
from typer.testing import CliRunner

import causalabs as ca
from causalabs.align.find import training_sets
from causalabs.cli import app
from causalabs.data import balanced, exhaustive_pairs, random_pairs
from causalabs.data.spaces import distinct_inputs
from causalabs.errors import (
    DomainTooLargeError,
    EmptyInputSpaceError,
    HypothesisDefinitionError,
    InadmissibleInputError,
    UnknownSymbolError,
)
from causalabs.scm import smt, space
from causalabs.scrub import AgreeingSampler, draw_references, scrub

ROOT = Path(__file__).resolve().parents[1]


class Ordered(ca.Hypothesis):
    """a < b over 300 x 300 (two blocks of the prefix-count table); out = b - a."""

    a, b = ca.inputs("a b", domain=range(300))
    ca.require(sp.Lt(a, b))
    out = ca.output(b - a, domain=range(-299, 300))


class Huge(ca.Hypothesis):
    """A box of 10**10 rows: the admissible inputs cannot be counted, only drawn."""

    a, b = ca.inputs("a b", domain=range(10**5))
    ca.require(sp.Lt(a + 10, b))
    out = ca.output(sp.Lt(a, b), domain=(0, 1))


def _box_filtered(model: ca.CausalModel) -> dict[str, np.ndarray]:
    box = space.box_rows(model, 0, model.box_size)
    keep = space.admissible(model, box)
    return {k: v[keep] for k, v in box.items()}


def _admissible(hyp: type, batch: dict[str, np.ndarray]) -> bool:
    return bool(space.admissible(ca.model_of(hyp), batch).all())


# --- declaration ---------------------------------------------------------------------------


def test_require_is_recorded_inherited_and_counted() -> None:
    m = ca.model_of(PickDistinct)
    assert m.requires == (sp.Ne(sp.Symbol("a"), sp.Symbol("b")),) and m.constrained
    assert (m.box_size, m.input_space_size) == (32, 24)
    assert not ca.model_of(Pick).constrained and ca.model_of(Pick).input_space_size == 32

    class MoreDistinct(PickDistinct):
        ca.require(sp.Ne(PickDistinct.s, 0))

    more = ca.model_of(MoreDistinct)
    assert len(more.requires) == 2 and more.input_space_size == 12
    assert np.all(ca.enumerate_inputs(MoreDistinct)["s"] == 1)


def test_require_refuses_bools_non_sympy_and_non_inputs() -> None:
    with pytest.raises(HypothesisDefinitionError, match=r"Bad: ca.require\(True\) got a Python bool.*sp.Ne\(a, b\)"):

        class Bad(ca.Hypothesis):
            a, b = ca.inputs("a b", domain=range(3))
            ca.require(a != b)  # Python compares the symbols structurally: True
            out = ca.output(a + b)

    with pytest.raises(HypothesisDefinitionError, match="takes a sympy condition over the inputs, got str"):

        class Bad2(ca.Hypothesis):
            a, b = ca.inputs("a b", domain=range(3))
            ca.require("a != b")
            out = ca.output(a + b)

    with pytest.raises(UnknownSymbolError, match="Bad3: the requirement uses 's', not an input"):

        class Bad3(ca.Hypothesis):
            a, b = ca.inputs("a b", domain=range(3))
            s = ca.var(a + b)
            ca.require(sp.Ne(s, 2))
            out = ca.output(s)

    stray = ca.inputs("q", domain=range(3))[0]
    with pytest.raises(UnknownSymbolError, match="uses 'q' \\(declared outside the body of Bad4\\)"):

        class Bad4(ca.Hypothesis):
            a, b = ca.inputs("a b", domain=range(3))
            ca.require(sp.Ne(a, stray))
            out = ca.output(a + b)

    with pytest.raises(HypothesisDefinitionError, match="call it in the body of a ca.Hypothesis subclass"):
        ca.require(sp.Ne(sp.Symbol("a"), sp.Symbol("b")))


def test_requirements_leaving_no_input_raise_naming_the_hypothesis() -> None:
    with pytest.raises(EmptyInputSpaceError, match="^Counted: the requirement .* leaves no input: none of the 9"):

        class Counted(ca.Hypothesis):
            a, b = ca.inputs("a b", domain=range(3))
            ca.require(sp.Gt(a + b, 4))
            out = ca.output(a + b)

    with pytest.raises(EmptyInputSpaceError, match="^Solved: the requirement .* z3 proves"):

        class Solved(ca.Hypothesis):  # a box of 10**16: asked of z3, not counted
            a, b = ca.inputs("a b", domain=range(10**8))
            ca.require(sp.And(sp.Lt(a, b), sp.Lt(b, a - 3)))
            out = ca.output(sp.Lt(a, b), domain=(0, 1))

    with pytest.raises(EmptyInputSpaceError, match="^Constant: the requirement False is always false"):

        class Constant(ca.Hypothesis):
            a, b = ca.inputs("a b", domain=range(3))
            ca.require(sp.And(sp.Eq(a, b), sp.Ne(a, b)))
            out = ca.output(a + b)
    assert issubclass(EmptyInputSpaceError, ValueError) and issubclass(InadmissibleInputError, ValueError)


# --- counting, enumeration, indexing -----------------------------------------------------


def test_enumeration_is_the_box_filtered_in_order_across_blocks() -> None:
    m = ca.model_of(Ordered)
    assert m.box_size == 90_000 > space.BLOCK and m.input_space_size == 300 * 299 // 2
    want = _box_filtered(m)
    every = ca.enumerate_inputs(Ordered)
    assert all(np.array_equal(every[k], want[k]) for k in m.inputs)
    rng = np.random.default_rng(0)
    for _ in range(20):
        start, stop = sorted(rng.integers(0, m.input_space_size + 1, 2).tolist())
        got = space.rows(m, start, stop)
        assert all(np.array_equal(got[k], want[k][start:stop]) for k in m.inputs)
    idx = rng.integers(0, m.input_space_size, 500)
    at = space.rows_at(m, idx)
    assert all(np.array_equal(at[k], want[k][idx]) for k in m.inputs)


def test_a_box_too_large_to_count_is_drawn_but_not_enumerated() -> None:
    m = ca.model_of(Huge)
    assert space.count(m) is None and m.input_space_size == m.box_size == 10**10  # an upper bound
    with pytest.raises(DomainTooLargeError):
        ca.enumerate_inputs(Huge)
    rows = space.draw(m, np.random.default_rng(0), 1000)
    assert len(rows["a"]) == 1000 and np.all(rows["a"] + 10 < rows["b"])
    assert "some (not counted" in ca.render_text(Huge)


# --- draws ---------------------------------------------------------------------------------


def test_draws_are_admissible_seeded_and_uniform() -> None:
    m = ca.model_of(PickDistinct)
    rows = space.draw(m, np.random.default_rng(7), 24_000)
    again = space.draw(m, np.random.default_rng(7), 24_000)
    assert all(np.array_equal(rows[k], again[k]) for k in m.inputs)
    assert not np.any(rows["a"] == rows["b"])
    code = (rows["a"] * 4 + rows["b"]) * 2 + rows["s"]
    _, counts = np.unique(code, return_counts=True)
    assert len(counts) == 24
    # uniform over the 24 inputs: Pearson's chi-square with 23 degrees of freedom, below its 0.999 quantile
    chi2 = float(((counts - 1000) ** 2 / 1000).sum())
    assert chi2 < 49.7, chi2


def test_draws_without_requirements_are_the_old_stream() -> None:
    m = ca.model_of(Pick)
    got = space.draw(m, np.random.default_rng(3), 50)
    rng = np.random.default_rng(3)
    want = {n: rng.integers(m.variables[n].domain[0], m.variables[n].domain[-1] + 1, 50) for n in m.inputs}
    assert all(np.array_equal(got[k], want[k]) for k in m.inputs)


# --- counterfactual data (verification samples, DAS training data) ------------------------------


def test_datasets_draw_only_admissible_bases_and_sources() -> None:
    rnd = random_pairs(PickDistinct, "io", 500, seed=1)
    bal = balanced(PickDistinct, "io", 400, seed=2)
    full = exhaustive_pairs(PickDistinct, "io")
    assert len(full) == 24 * 24
    for ds in (rnd, bal, full):
        assert _admissible(PickDistinct, ds.base) and _admissible(PickDistinct, ds.sources["io"])
    assert not _admissible(PickDistinct, random_pairs(Pick, "io", 500, seed=1).base)  # the control
    pool = distinct_inputs(ca.model_of(PickDistinct), np.random.default_rng(0), 24)
    assert _admissible(PickDistinct, pool) and len({tuple(r.values()) for r in ca.rows(pool)}) == 24
    for ds in training_sets(PickDistinct, [("io",)], 300, seed=0) + training_sets(
        PickDistinct, [("io",)], 300, seed=0, data="random"
    ):
        assert _admissible(PickDistinct, ds.base) and _admissible(PickDistinct, ds.sources["io"])


def test_the_network_probe_draws_admissible_inputs() -> None:
    from causalabs.network.network import probe_batch

    assert _admissible(PickDistinct, probe_batch(ca.model_of(PickDistinct), rows=64))
    assert not _admissible(PickDistinct, probe_batch(ca.model_of(Pick), rows=64))  # the control


def test_a_pool_with_an_inadmissible_input_is_refused() -> None:
    pool = {"a": [0, 1], "b": [1, 1], "s": [0, 0]}
    with pytest.raises(InadmissibleInputError, match=r"PickDistinct: the pool of inputs holds 1 inputs .*Ne\(a, b\).*a=1, b=1, s=0"):
        random_pairs(PickDistinct, "io", 10, pool=pool)
    assert len(random_pairs(Pick, "io", 10, pool=pool)) == 10


def test_interventions_still_set_intermediate_variables_to_any_value() -> None:
    base = {"a": [0] * 4, "b": [1] * 4, "s": [0] * 4}
    assert ca.do(PickDistinct, base, {"io": [0, 1, 2, 3]})["out"].tolist() == [0, 1, 2, 3]
    # an interchange from an admissible source sets io to the source's value, whatever the base's names
    src = {"a": [2], "b": [3], "s": [1]}
    assert ca.interchange(PickDistinct, {"a": [0], "b": [1], "s": [0]}, {"io": src})["out"].tolist() == [2]


# --- z3 --------------------------------------------------------------------------------------


class PickOrFirst(ca.Hypothesis):
    """Agrees with Pick except on a == b, where it answers (a + 1) mod 4."""

    a, b = ca.inputs("a b", domain=range(4))
    s = ca.input("s", domain=(0, 1))
    io = ca.var(sp.Piecewise(((a + 1) % 4, sp.Eq(a, b)), (b * (1 - s) + a * s, True)), domain=range(4))
    out = ca.output(io)


class PickOrFirstDistinct(PickOrFirst):
    ca.require(sp.Ne(PickOrFirst.a, PickOrFirst.b))


def test_z3_queries_respect_the_requirement() -> None:
    found = smt.find_inputs(PickDistinct, None, n=100)
    assert found.status == "exhausted" and len(found) == 24 and _admissible(PickDistinct, found.batch)
    assert len(smt.find_inputs(PickDistinct, {"io": 2}, n=100)) == 6
    assert smt.equivalent(Pick, PickOrFirst).status == "refuted"
    same = smt.equivalent(PickDistinct, PickOrFirstDistinct)
    assert same.status == "proved" and same.reason.endswith("for all 24 inputs")
    mixed = smt.equivalent(PickDistinct, PickOrFirst)
    assert mixed.status == "proved" and "satisfying the requirements of both (Ne(a, b))" in mixed.reason
    assert smt.mediates(PickOrFirst, ["io"]).status == "proved"
    # can_change_output fixes the base: the requirement does not bind an intervened value
    assert smt.can_change_output(PickDistinct, {"a": 0, "b": 1, "s": 0}, "io").status == "proved"


# --- scrubbing --------------------------------------------------------------------------------


def test_scrubbing_draws_only_admissible_inputs() -> None:
    net = pick_network()
    inputs = ca.enumerate_inputs(PickDistinct)
    res = scrub(net, PickDistinct, ALIGNMENT, inputs, n=256, seed=0)
    assert res.accuracy.value == 1.0  # the defect needs a == b, which the sampler never draws
    with_degenerate = ca.enumerate_inputs(Pick)
    assert scrub(net, Pick, ALIGNMENT, with_degenerate, n=256, seed=0).accuracy.value < 1.0  # the control
    with pytest.raises(InadmissibleInputError, match="the scrubbing dataset"):
        scrub(net, PickDistinct, ALIGNMENT, with_degenerate, n=16, seed=0)
    with pytest.raises(InadmissibleInputError, match="the references"):
        scrub(net, PickDistinct, ALIGNMENT, inputs, references={"a": [1], "b": [1], "s": [0]}, seed=0)
    with pytest.raises(InadmissibleInputError, match="references are drawn from"):
        draw_references(PickDistinct, with_degenerate, 8, 0)
    m = ca.model_of(PickDistinct)
    values = ca.run(m, inputs)
    sampler = AgreeingSampler(m, values, len(inputs["a"]))
    picked = sampler.sample(["io"], np.arange(24), np.random.default_rng(0))
    assert np.array_equal(values["io"][picked], values["io"])
    with pytest.raises(InadmissibleInputError):
        AgreeingSampler(m, ca.run(m, with_degenerate), 32)


# --- rendering ------------------------------------------------------------------------------


def test_show_states_the_requirement_and_the_count() -> None:
    text = ca.render_text(PickDistinct)
    assert "  requires Ne(a, b)\n" in text
    assert "inputs: 24 of the 32 combinations of the domains satisfy the requirement Ne(a, b)" in text
    assert "inputs: 32 combinations of the domains" in ca.render_text(Pick)
    assert r"&\text{requires } \left[a \neq b\right]" in ca.render_latex(PickDistinct)
    result = CliRunner().invoke(app, ["show", f"{ROOT / 'hypotheses' / 'ioi.py'}:IOI"])
    assert result.exit_code == 0, result.output
    assert "inputs: 4,032 of the 4,608 combinations of the domains satisfy the requirement Ne(a, b)" in result.stdout
    assert math.prod([8, 8, 2, 6, 6]) == 4_608 and 8 * 7 * 2 * 6 * 6 == 4_032
