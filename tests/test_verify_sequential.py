"""verify(mode="sequential") and `causalabs verify --mode sequential` / `causalabs plan`: verdicts, exit codes,
the report's stopping record (schema 3), determinism for a seed, and reading schema 2 files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import causalabs as ca
from causalabs.errors import BudgetError
from causalabs.loading import load_hypothesis
from causalabs.verification.report.io import load_report
from causalabs.verification.report.report import report_digest
from _cli import run

ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
NET = str(ROOT / "models/heq_handbuilt.py")



@pytest.fixture(scope="module")
def claim():
    net = ca.load_network(NET)
    al = ca.Alignment({"left": ca.site("2", units=[0]), "right": ca.site("2", units=[1])})
    return load_hypothesis(f"{HEQ}:HierarchicalEquality"), load_hypothesis(f"{HEQ}:SwappedEquality"), net, al


def test_true_claim_is_verified_early_and_the_report_records_the_stop(claim) -> None:
    good, _, net, al = claim
    r = ca.verify(good, net, al, mode="sequential", threshold=0.95, max_pairs=4000)
    assert r.verdict == "verified" and r.mode == "sequential" and "0.95" in r.reason
    s = r.stopping
    assert s is not None and s["stopped_by"] == "verified" and s["batches"] >= 1
    assert s["pairs_used"] == sum(s["pairs_per_set"].values()) == sum(e.iia.n for e in r.per_variable)
    assert max(s["pairs_per_set"].values()) < 4000  # stopped before the budget
    for e in r.per_variable:
        for stratum in (e.changed, e.unchanged):
            assert stratum.lo >= 0.95 and stratum.method == "beta-binomial mixture confidence sequence"
            assert s["bounds"]["+".join(e.variables)]["changed"]["lo"] == e.changed.lo
    assert r.statistics["interval"] == "beta-binomial mixture confidence sequence"
    assert r.statistics["bounds_tested"] == 6 and r.statistics["upper_level"] == pytest.approx(1 - 0.05 / 6)
    doc = json.loads(r.to_json())
    assert doc["schema"] == "causalabs.report/3" and doc["stopping"]["stopped_by"] == "verified"


def test_wrong_twin_is_refuted_at_the_first_batch_with_a_replayable_counterexample(claim) -> None:
    _, twin, net, al = claim
    r = ca.verify(twin, net, al, mode="sequential")
    assert r.verdict == "refuted" and r.stopping["batches"] == 1 and r.stopping["stopped_by"] == "refuted"
    cx = r.counterexample
    assert cx is not None and cx.found_by == "sequential" and cx.expected != cx.observed
    again = ca.reproduce(f"{HEQ}:SwappedEquality", NET, cx.base, cx.sources, alignment=al)
    assert (again.hypothesis, again.network) == (cx.expected, cx.observed)


def test_exact_claim_spends_its_budget_and_stays_inconclusive(claim) -> None:
    good, _, net, al = claim
    r = ca.verify(good, net, al, mode="sequential", max_pairs=300)
    assert r.verdict == "inconclusive" and "never verifies an exact claim" in r.reason
    assert r.stopping["stopped_by"] == "max_pairs" and set(r.stopping["pairs_per_set"].values()) == {300}


def test_same_seed_same_bytes_and_another_seed_other_pairs(claim) -> None:
    good, _, net, al = claim
    a, b, c = (ca.verify(good, net, al, mode="sequential", threshold=0.9, seed=s, max_pairs=2000) for s in (3, 3, 4))
    da, db, dc = (json.loads(x.to_json()) for x in (a, b, c))
    for d in (da, db, dc):
        d.pop("timing")
    assert da == db
    assert da["provenance"]["dataset_digests"] != dc["provenance"]["dataset_digests"]


def test_budget_is_checked(claim) -> None:
    good, _, net, al = claim
    for bad in ({"max_pairs": 1}, {"max_seconds": 0}, {"max_seconds": -1.0}):
        with pytest.raises(BudgetError) as info:
            ca.verify(good, net, al, mode="sequential", threshold=0.9, **bad)
        assert next(iter(bad)) in str(info.value)


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    out = tmp_path / "seq.json"
    ok = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sequential", "--threshold", "0.95",
             "--json", str(out))
    assert ok.exit_code == 0 and ok.stdout.startswith("VERIFIED at threshold 0.95"), ok.output
    assert "growing batches" in ok.stdout and "stopped: verified" in ok.stdout
    bad = run("verify", f"{HEQ}:SwappedEquality", "--network", NET, "--mode", "sequential")
    assert bad.exit_code == 1 and "\nreplay: " in bad.stdout, bad.output
    spent = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sequential", "--max-pairs", "200")
    assert spent.exit_code == 3 and spent.stdout.startswith("INCONCLUSIVE"), spent.output
    wrong = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample", "--max-pairs", "200")
    assert wrong.exit_code == 2 and "--mode sequential" in wrong.output
    again = run("report", str(out))
    assert again.exit_code == 0 and again.stdout.startswith("VERIFIED at threshold 0.95"), again.output
    assert load_report(out).stopping == json.loads(out.read_text())["stopping"]


def test_schema_2_reports_still_read(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample", "--threshold", "0.95",
            "--json", str(out))
    assert r.exit_code == 0, r.output
    old = {k: v for k, v in json.loads(out.read_text()).items() if k not in ("stopping", "digest")}
    old["schema"] = "causalabs.report/2"
    old["digest"] = report_digest(old)  # as a version 2 writer wrote it
    (tmp_path / "v2.json").write_text(json.dumps(old))
    text = run("report", str(tmp_path / "v2.json"))
    assert text.exit_code == 0 and text.stdout.startswith("VERIFIED at threshold 0.95"), text.output
    assert load_report(tmp_path / "v2.json").stopping is None


def test_plan_command_and_pilot(tmp_path: Path) -> None:
    p = run("plan", "--threshold", "0.95", "--iia", "0.97", "--sets", "3", "--json")
    assert p.exit_code == 0, p.output
    rows = json.loads(p.stdout)["rows"]
    assert rows[0]["iia"] == 0.97 and rows[0]["decision"] == "verify" and rows[0]["fixed_n"] > 0
    text = run("plan", "--threshold", "0.95", "--iia", "0.97")
    assert text.exit_code == 0 and "seq median" in text.stdout
    assert run("plan", "--threshold", "0.95").exit_code == 2
    pilot = tmp_path / "pilot.json"
    few = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample", "--samples", "40",
              "--threshold", "0.95", "--json", str(pilot))
    assert few.exit_code == 3 and "\nplan: about " in few.stdout, few.output  # the inconclusive verdict's plan line
    assert "more pairs per set would decide this if IIA is near 1.0000" in few.stdout
    fromfile = run("plan", "--pilot", str(pilot), "--json")
    assert fromfile.exit_code == 0 and json.loads(fromfile.stdout)["sets"] == 3, fromfile.output
