"""Decisive experiments separate what they say they separate; verify(rivals=N) identifies the correct
claim on an organism and the report carries the identification in every format; the CLI commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import causalabs as ca
from causalabs.cli import app
from causalabs.loading import load_module
from causalabs.organisms import load_organism
from causalabs.rivals import RivalError, generate
from causalabs.rivals.decisive import cover_lower_bound, decisive, random_pairs_needed, smallest_cover
from causalabs.verification.report.io import report_from_dict
from causalabs.verification.report.render import to_latex, to_markdown, to_text

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def heq():
    return load_module(str(ROOT / "hypotheses" / "hierarchical_equality.py"))


@pytest.fixture(scope="module")
def heq_set(heq):
    found = generate(heq.HierarchicalEquality, limit=30)
    return found, decisive(heq.HierarchicalEquality, [r.hypothesis for r in found.rivals])


def test_each_chosen_experiment_separates_its_rivals(heq, heq_set):
    found, d = heq_set
    assert d.exact and len(d.experiments) < len(found.rivals)
    for r in found.rivals:
        if r.name in d.separated:
            e = d.experiments[d.separated[r.name]]
            assert e.prediction(heq.HierarchicalEquality) != e.prediction(r.hypothesis)
    assert set(d.separated) | set(d.indistinguishable) == {r.name for r in found.rivals}


def _fewest_rows_covering(table: np.ndarray) -> int:
    """Brute force: the fewest rows whose union covers every coverable column."""
    import itertools

    need = table.any(axis=0)
    for k in range(table.shape[0] + 1):
        for rows in itertools.combinations(range(table.shape[0]), k):
            if (table[list(rows)].any(axis=0) | ~need).all():
                return k
    raise AssertionError("unreachable")


def test_cover_lower_bound_never_exceeds_the_brute_force_minimum_and_is_tight_on_known_tables():
    rng = np.random.default_rng(0)
    tight = 0
    for _ in range(200):
        table = rng.random((int(rng.integers(1, 9)), int(rng.integers(1, 7)))) < rng.uniform(0.1, 0.6)
        fewest, bound = _fewest_rows_covering(table), cover_lower_bound(table)
        assert bound <= fewest
        tight += bound == fewest
    assert tight > 100  # a bound of 1 everywhere would be tight far less often
    # three disjoint rivals need three experiments; a triangle's relaxation is 1.5, so two
    assert cover_lower_bound(np.eye(3, dtype=bool)) == 3
    assert cover_lower_bound(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=bool)) == 2


def test_smallest_cover_covers_and_is_the_brute_force_minimum_when_it_says_optimal():
    rng = np.random.default_rng(1)
    beat_greedy = 0
    for _ in range(300):
        table = rng.random((int(rng.integers(2, 10)), int(rng.integers(2, 8)))) < rng.uniform(0.15, 0.5)
        rows, bound, optimal = smallest_cover(table)
        assert (table[rows].any(axis=0) == table.any(axis=0)).all()
        fewest = _fewest_rows_covering(table)
        assert bound <= fewest <= len(rows)
        assert optimal and len(rows) == fewest  # tables this small are always solved
        todo, greedy = table.any(axis=0), 0
        while todo.any():
            todo &= ~table[int(np.argmax((table & todo).sum(axis=1)))]
            greedy += 1
        beat_greedy += len(rows) < greedy
    assert beat_greedy > 0  # tables exist where greedy alone is not smallest


def test_the_decisive_set_is_no_smaller_than_its_bound(heq_set):
    _, d = heq_set
    assert 1 <= d.fewest_possible <= len(d.experiments)
    assert d.optimal == (d.fewest_possible == len(d.experiments))


def test_indistinguishable_rival_agrees_on_every_pair(heq, heq_set):
    found, d = heq_set
    claim = ca.model_of(heq.HierarchicalEquality)
    inputs = ca.enumerate_inputs(claim)
    n = claim.input_space_size
    b, s = np.divmod(np.arange(n * n), n)
    base = {k: v[b] for k, v in inputs.items()}
    src = {k: v[s] for k, v in inputs.items()}
    rivals = {r.name: r.hypothesis for r in found.rivals}
    assert d.indistinguishable  # left := Ne(w, x) with the output flipped: a relabelling of left's values
    for name in d.indistinguishable:
        for vs in d.sets:
            ref = ca.interchange(claim, base, {v: src for v in vs})["out"]
            got = ca.interchange(rivals[name], base, {v: src for v in vs})["out"]
            np.testing.assert_array_equal(ref, got)


def test_random_pairs_needed_holds_its_confidence_by_simulation():
    rates = [0.05, 0.2, 0.02, 0.5]
    need = random_pairs_needed(rates, 0.95)
    assert need["lower"] <= need["union"]
    rng = np.random.default_rng(0)
    trials = 2000
    hit_all = sum(all(rng.random(int(need["union"])).__lt__(p).any() for p in rates) for _ in range(trials))
    assert hit_all / trials >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / trials)
    one_less = sum(all(rng.random(int(need["lower"]) - 1).__lt__(p).any() for p in rates) for _ in range(trials))
    assert one_less / trials < 0.95  # the rarest rival alone needs "lower"


@pytest.fixture(scope="module")
def identified():
    o = load_organism(ROOT / "models" / "heq_handbuilt.py")
    return o, ca.verify(o.hypothesis(), o.network, o.alignment(), rivals=25)


def test_correct_claim_is_identified_with_every_distinguishable_rival_refuted(identified):
    _, rep = identified
    ident = rep.identification
    assert rep.verdict == "verified" and ident["identified"] is True
    assert ident["surviving"] == [] and len(ident["excluded"]) == 25 - len(ident["indistinguishable"])
    assert ident["line"].startswith("identified")


def test_wrong_twin_is_excluded_when_given(identified, heq):
    o, _ = identified
    rep = ca.verify(o.hypothesis(), o.network, o.alignment(), rivals=[heq.SwappedEquality])
    assert [e["name"] for e in rep.identification["excluded"]] == ["SwappedEquality"]
    assert rep.identification["identified"] is True
    with pytest.raises(RivalError, match="LeftOnly.*'right'"):  # no intermediate for an aligned variable
        ca.verify(o.hypothesis(), o.network, o.alignment(), rivals=[heq.LeftOnly])


def test_identification_survives_json_and_renders(identified):
    _, rep = identified
    doc = json.loads(rep.to_json())
    assert doc["identification"]["identified"] is True
    back = report_from_dict(doc)
    assert back.identification == doc["identification"]
    assert "identification (25 rivals" in to_text(rep)
    assert "**Identification**" in to_markdown(rep)
    assert r"\textbf{Identification}" in to_latex(rep)
    plain = ca.verify(identified[0].hypothesis(), identified[0].network, identified[0].alignment())
    assert "identification" not in json.loads(plain.to_json())  # an optional key


def test_cli_rivals_lists_and_writes_a_file_that_loads(tmp_path):
    out = tmp_path / "r.py"
    res = runner.invoke(app, ["rivals", f"{ROOT}/hypotheses/boolean_circuit.py:BooleanCircuit", "--max", "3",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "BooleanCircuitRival1 [swap]: g1 and g2 swapped" in res.output
    shown = runner.invoke(app, ["show", f"{out}:BooleanCircuitRival1"])
    assert shown.exit_code == 0 and "var g1" in shown.output


def test_cli_rivals_never_overwrites_a_foreign_file(tmp_path):
    out = tmp_path / "mine.py"
    out.write_text("x = 1\n")
    res = runner.invoke(app, ["rivals", f"{ROOT}/hypotheses/boolean_circuit.py:BooleanCircuit", "--out", str(out)])
    assert res.exit_code == 2 and out.read_text() == "x = 1\n"


def test_cli_verify_rivals_prints_identified():
    res = runner.invoke(app, ["verify", f"{ROOT}/hypotheses/boolean_circuit.py:BooleanCircuit",
                              "--network", str(ROOT / "models" / "boolean_circuit.py"), "--rivals", "10"])
    assert res.exit_code == 0, res.output
    assert "identified: all 10 distinguishable rivals refuted" in res.output
    bad = runner.invoke(app, ["verify", f"{ROOT}/hypotheses/boolean_circuit.py:BooleanCircuit",
                              "--network", str(ROOT / "models" / "boolean_circuit.py"), "--rivals", "3",
                              "--mode", "falsify"])
    assert bad.exit_code == 2


def test_pytest_helper_with_rivals_passes_when_identified_and_is_inconclusive_when_a_rival_survives(identified, heq):
    from causalabs.verification.assertion import AbstractionInconclusive, assert_abstraction

    o, _ = identified
    rep = assert_abstraction(o.hypothesis(), o.network, o.alignment(), rivals=[heq.SwappedEquality])
    assert rep.identification["identified"] is True
    low = 0.05  # a threshold the swapped twin also reaches: it survives, so the claim is not identified
    assert ca.verify(heq.SwappedEquality, o.network, o.alignment(), threshold=low).verdict == "verified"
    with pytest.raises(AbstractionInconclusive, match="not identified.*SwappedEquality"):
        assert_abstraction(o.hypothesis(), o.network, o.alignment(), threshold=low, rivals=[heq.SwappedEquality])


def test_a_rival_its_own_search_verifies_survives(identified, heq):
    """verify --search --rivals: each rival gets its own fitted alignment; here the 'search' swaps the sites,
    which is what a search fitting SwappedEquality finds, so the renaming twin survives."""
    import attrs

    o, _ = identified
    al = o.alignment()
    swapped = attrs.evolve(al, sites={"left": al.sites["right"], "right": al.sites["left"]})
    fits = []

    def search(rival):
        fits.append(ca.model_of(rival).name)
        return swapped

    rep = ca.verify(o.hypothesis(), o.network, al, rivals=[heq.SwappedEquality], rival_search=search)
    ident = rep.identification
    assert fits == ["SwappedEquality"] and ident["identified"] is False
    assert [(e["name"], e["by"], e["iia"]) for e in ident["surviving"]] == [("SwappedEquality", "search", 1.0)]
    assert "under its own searched alignment" in to_text(rep)


def test_z3_finds_witnesses_and_proves_indistinguishable_on_a_large_space(monkeypatch):
    import causalabs.rivals.decisive as dec

    monkeypatch.setattr(dec, "POOL_SAMPLE", 4)  # a pool too small to separate anything: z3 finds the witness
    pool = load_module(str(ROOT / "hypotheses" / "heq_pool.py"))
    claim = pool.HierarchicalEqualityPool
    found = generate(claim, limit=13, kinds=("swap", "substitute"))
    by_how = {r.how: r.hypothesis for r in found.rivals}
    flip = by_how["left := Ne(w, x) (the output flips when they differ)"]
    d = decisive(claim, [pool.SwappedEqualityPool, flip])
    assert not d.exact  # 10**8 inputs: a sampled pool, then z3
    assert d.indistinguishable == (flip.__name__,)  # z3 unsat on every intervened set
    e = d.experiments[d.separated["SwappedEqualityPool"]]
    assert e.prediction(claim) != e.prediction(pool.SwappedEqualityPool)
