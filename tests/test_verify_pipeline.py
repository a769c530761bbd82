"""verify(): exhaustive and sampled verdicts, counterexamples that replay, reports that render."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp
from _replay import replay

import causalabs as ca
from causalabs.engine import evaluate_pairs
from causalabs.errors import AlignmentError, CausalabsError
from causalabs.network import Alignment
from causalabs.organisms import load_organism
from causalabs.verification.pipeline import verify
from causalabs.verification.report.render import to_latex, to_markdown, to_text

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def heq():
    return load_organism(ROOT / "models/heq_handbuilt.py")


@pytest.fixture(scope="module")
def heq_rot():
    return load_organism(ROOT / "models/heq_rotated.py")


def wrong(o, name):
    return next(h for h in o.wrong_hypotheses() if h.__name__ == name)


@pytest.mark.parametrize("which", ["heq", "heq_rot"])
def test_correct_hypothesis_is_verified_exhaustively(which, request):
    o = request.getfixturevalue(which)
    r = verify(o.hypothesis(), o.network, o.alignment())
    assert r.verdict == "verified"
    assert r.iia.exact and r.iia.value == 1.0
    assert r.counterexample is None
    # every (base, source) pair of every variable set: 256^2 per single, 256^3 for both
    assert {e.variables: e.iia.n for e in r.per_variable} == {
        ("left",): 256**2, ("right",): 256**2, ("left", "right"): 256**3,
    }


@pytest.mark.parametrize("which", ["heq", "heq_rot"])
def test_wrong_twin_is_refuted_with_a_counterexample_that_replays(which, request):
    o = request.getfixturevalue(which)
    h = wrong(o, "SwappedEquality")
    r = verify(h, o.network, o.alignment())
    assert r.verdict == "refuted"
    cx = r.counterexample
    assert cx is not None and cx.found_by == "exhaustive"
    expected, observed = replay(h, o.network, o.alignment(), cx)
    assert (expected, observed) == (cx.expected, cx.observed)
    assert expected != observed
    # the first failure in lexicographic order: no failing pair has a smaller base
    assert cx.base == {"w": 0, "x": 0, "y": 0, "z": 0}


def test_exhaustive_counts_equal_running_every_pair(heq):
    h = wrong(heq, "SwappedEquality")
    r = verify(h, heq.network, heq.alignment(), variables=["left"])
    (e,) = r.per_variable
    ds = ca.exhaustive_pairs(h, ["left"])
    brute = evaluate_pairs(heq.network, heq.alignment(), ds)
    assert e.iia.n == len(ds)
    assert e.iia.successes == int(brute.correct.sum())
    assert e.changed.successes == int(brute.correct[brute.changed].sum())
    assert e.failures == int((~brute.correct).sum())


def test_threshold_verdict_reports_the_failures(heq):
    h = wrong(heq, "SwappedEquality")
    # every stratum of every set has IIA >= 0.375 (left's changed pairs: 9,216 / 24,576 exactly)
    r = verify(h, heq.network, heq.alignment(), threshold=0.375)
    assert r.verdict == "verified" and r.failures > 0
    assert r.counterexample is None  # failing pairs below an exact claim are no counterexample to it
    assert "VERIFIED at threshold 0.375" in to_text(r)
    assert f"({r.failures:,} failing pairs)" in to_text(r)  # in the headline
    left = r.per_variable[0]
    assert (left.changed.successes, left.changed.n) == (9216, 24576)
    assert (left.unchanged.successes, left.unchanged.n) == (34816 - 9216, 65536 - 24576)


def test_a_threshold_holds_on_each_stratum_not_only_overall(heq):
    h = wrong(heq, "SwappedEquality")
    # overall IIA of each set is 0.53 >= 0.5, but left's changed pairs score 0.375
    r = verify(h, heq.network, heq.alignment(), threshold=0.5)
    assert min(e.iia.value for e in r.per_variable) > 0.5
    assert r.verdict == "refuted"
    assert r.reason.startswith("left: IIA on changed pairs 9,216/24,576 = 0.3750 < 0.5 (exact")
    assert to_text(r).startswith("REFUTED at threshold 0.5: SwappedEquality")
    cx = r.counterexample
    assert cx is not None and cx.expected != cx.observed
    assert replay(h, heq.network, heq.alignment(), cx) == (cx.expected, cx.observed)
    # the counterexample is a changed pair: the hypothesis' counterfactual differs from its output on the base
    assert cx.expected != ca.run(h, {k: [v] for k, v in cx.base.items()})["out"][0]


def test_sampled_verdicts(heq):
    good = verify(heq.hypothesis(), heq.network, heq.alignment(), mode="sample", samples=500, seed=1, threshold=0.95)
    assert good.verdict == "verified" and not good.iia.exact and good.iia.lo >= 0.95
    assert all(s.lo >= 0.95 for e in good.per_variable for s in (e.changed, e.unchanged))
    assert to_text(good).startswith("VERIFIED at threshold 0.95: HierarchicalEquality")
    exact_claim = verify(heq.hypothesis(), heq.network, heq.alignment(), mode="sample", samples=500, seed=1)
    assert exact_claim.threshold == 1.0 and exact_claim.verdict == "inconclusive"  # sampling never verifies t = 1
    assert exact_claim.reason.startswith("no failure in 1,500 pairs; IIA >= 0.9940 (95%) on every variable set")
    bad = verify(wrong(heq, "SwappedEquality"), heq.network, heq.alignment(), mode="sample", samples=500, seed=1)
    assert bad.verdict == "refuted" and bad.iia.hi < 0.95
    assert bad.counterexample is not None and bad.counterexample.seed is not None
    few = verify(heq.hypothesis(), heq.network, heq.alignment(), mode="sample", samples=20, seed=1, threshold=0.95)
    assert few.verdict == "inconclusive"  # 10 agreeing pairs per stratum cannot push the lower bound past 0.95
    assert "more pairs of this set would verify" in few.reason


def test_balanced_sampling_changes_the_output_on_about_half_the_pairs(heq):
    h, net, al = wrong(heq, "SwappedEquality"), heq.network, heq.alignment()
    rand = verify(h, net, al, mode="sample", samples=400, seed=2, sampling="random")
    bal = verify(h, net, al, mode="sample", samples=400, seed=2)  # balanced is the default
    assert rand.provenance["sampling"] == "random" and bal.provenance["sampling"] == "balanced"
    assert rand.provenance["dataset_digests"] != bal.provenance["dataset_digests"]
    for e in bal.per_variable:
        assert 0.4 <= e.changed.n / e.iia.n <= 0.6, e.variables
    # balanced pairs put more weight on the pairs where the twin is wrong
    assert sum(e.changed.n for e in bal.per_variable) > sum(e.changed.n for e in rand.per_variable)
    assert bal.verdict == "refuted" and bal.iia.value < rand.iia.value
    with pytest.raises(CausalabsError, match="unknown sampling 'weird'"):
        verify(h, net, al, mode="sample", sampling="weird")  # type: ignore[arg-type]


def test_chosen_sets_are_the_ones_checked(heq):
    h, net, al = heq.hypothesis(), heq.network, heq.alignment()
    r = verify(h, net, al, sets=[("left",), ("left", "right")])
    assert [e.variables for e in r.per_variable] == [("left",), ("left", "right")]
    assert r.verdict == "verified" and r.iia.n == 256**2 + 256**3
    with pytest.raises(AlignmentError, match="'middle' is not among the verified variables"):
        verify(h, net, al, sets=[("middle",)])
    with pytest.raises(AlignmentError, match="empty variable set"):
        verify(h, net, al, sets=[()])


def test_too_large_a_set_is_refused_before_any_run():
    from causalabs.errors import DomainTooLargeError

    o = load_organism(ROOT / "models/tracr/tracr_reverse.py")
    with pytest.raises(DomainTooLargeError, match=r"length\+opp0\+.*needs 160,687,026,339,840 runs"):
        verify(o.hypothesis(), o.network, o.alignment())  # 13 variables together: listing them would not fit


class _OutputIgnoresLeft(ca.Hypothesis):
    w, x, y, z = ca.inputs("w x y z", domain=range(4))
    left = ca.var(sp.Eq(w, x))
    right = ca.var(sp.Eq(y, z))
    out = ca.output(right)


def test_balanced_sampling_falls_back_to_random_where_nothing_changes(heq):
    with pytest.warns(UserWarning, match="left: no balanced sample"):
        r = verify(_OutputIgnoresLeft, heq.network, heq.alignment(), mode="sample", samples=200,
                   sampling="balanced")
    assert r.provenance["sampling_fallback_random"] == ["left"]
    left = next(e for e in r.per_variable if e.variables == ("left",))
    assert left.changed.n == 0 and left.iia.n == 200
    # the 65,536 pairs were enumerated: no pair changes the output, so the changed stratum is known empty
    assert left.changed.exact and left.unchanged.n == 200
    rand = verify(_OutputIgnoresLeft, heq.network, heq.alignment(), mode="sample", samples=200, sampling="random")
    left = next(e for e in rand.per_variable if e.variables == ("left",))
    assert left.changed.n == 0 and not left.changed.exact  # random pairs prove nothing about what they did not draw


def test_same_command_gives_byte_identical_json_apart_from_timing(heq):
    a = verify(heq.hypothesis(), heq.network, heq.alignment(), mode="sample", samples=200, seed=3)
    b = verify(heq.hypothesis(), heq.network, heq.alignment(), mode="sample", samples=200, seed=3)
    da, db = json.loads(a.to_json()), json.loads(b.to_json())
    da.pop("timing"), db.pop("timing")
    assert json.dumps(da, sort_keys=True) == json.dumps(db, sort_keys=True)
    assert da["schema"] == "causalabs.report/3" and da["stopping"] is None
    assert set(da) >= {"verdict", "mode", "iia", "per_variable", "counterexample", "provenance", "threshold",
                       "confidence", "statistics"}
    assert da["threshold"] == 1.0 and da["confidence"] == 0.95
    assert da["statistics"] == {
        "interval": "clopper-pearson", "sides": "one-sided", "correction": "bonferroni", "bounds_tested": 6,
        "lower_level": 0.95, "upper_level": 1 - 0.05 / 6, "threshold": 1.0,
    }
    assert set(da["per_variable"]["left"]) == {"iia", "changed", "unchanged", "failures"}
    assert set(da["iia"]) >= {"value", "lo", "hi", "n", "exact"}
    assert len(da["provenance"]["network_sha256"]) == 64


def test_renderers(heq):
    r = verify(wrong(heq, "SwappedEquality"), heq.network, heq.alignment())
    text, md, tex = to_text(r), to_markdown(r), to_latex(r)
    # made by the library, the report names the hypothesis class and the objects: the replay line says so
    assert text.startswith("REFUTED") and "replay: import causalabs as ca; print(ca.reproduce(SwappedEquality, network" in text
    assert "alignment=alignment))" in text
    assert "| left+right |" in md and "```" in md
    assert "\\toprule" in tex and "\\bottomrule" in tex and "left+right" in tex


def test_alignment_for_a_variable_the_hypothesis_lacks(heq):
    left_only = next(h for h in heq.wrong_hypotheses() if h.__name__ == "LeftOnlySwapped")
    with pytest.raises(AlignmentError, match="right"):
        verify(left_only, heq.network, heq.alignment())
    only_left = Alignment({"left": heq.alignment().sites["left"]})
    assert verify(left_only, heq.network, only_left).verdict == "refuted"
