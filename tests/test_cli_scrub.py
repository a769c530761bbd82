"""`causalabs scrub` under the verifier's discipline: its data stated, references balanced where uniform inputs
barely exercise the hypothesis, a warning when the network does not compute the hypothesis' output, and a
verdict on loss recovered with --threshold (exit 0 verified, 1 refuted, 3 inconclusive)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from causalabs.errors import ScrubError
from causalabs.loading import load_hypothesis
from causalabs.scm.semantics import enumerate_inputs, model_of, run
from causalabs.scrub import agreement_warning, draw_references, judge
from causalabs.scrub.result import summarize
from _cli import run as run_cli

ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
POOL = str(ROOT / "hypotheses/heq_pool.py")
NET = str(ROOT / "models/heq_handbuilt.py")
TRAINED = str(ROOT / "models/heq_trained.py")


def test_balanced_references_split_evenly_over_the_output_and_auto_balances_only_a_lopsided_output() -> None:
    pool_h = load_hypothesis(f"{POOL}:HierarchicalEqualityPool")
    rng = np.random.default_rng(0)
    inputs = {k: rng.integers(0, 100, 20_000) for k in "wxyz"}
    refs = draw_references(pool_h, inputs, 1_001, seed=3)
    assert refs.kind == "balanced" and refs.shares[1] > 0.95
    assert refs.counts == {0: 501, 1: 500}
    out = run(model_of(pool_h), refs.batch)["out"]
    assert int((out == 0).sum()) == 501  # the batch is what the counts say
    again = draw_references(pool_h, inputs, 1_001, seed=3)
    assert all(np.array_equal(refs.batch[k], again.batch[k]) for k in "wxyz")
    uniform = draw_references(pool_h, inputs, 1_000, seed=3, how="uniform")
    assert uniform.kind == "uniform" and uniform.counts[0] < 60
    heq = load_hypothesis(f"{HEQ}:HierarchicalEquality")  # out = 1 on 62.5% of the 256 inputs: left uniform
    assert draw_references(heq, enumerate_inputs(model_of(heq)), 500, seed=0).kind == "uniform"
    with pytest.raises(ScrubError, match="references must be one of"):
        draw_references(heq, enumerate_inputs(model_of(heq)), 10, seed=0, how="stratified")  # type: ignore[arg-type]


def test_scrub_states_its_data_and_a_balanced_default_on_heq_trained(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    r = run_cli("scrub", f"{POOL}:HierarchicalEqualityPool", "--network", TRAINED, "--json", str(out))
    assert r.exit_code == 0, r.output
    data = r.stdout.splitlines()[1]
    assert data.startswith("  data: resampled from 100,000 distinct inputs sampled from 100,000,000; ")
    assert "1,000 references balanced over the output (0: 500, 1: 500; " in data and "seed 0" in data
    doc = json.loads(out.read_text())
    assert doc["references"]["kind"] == "balanced" and doc["references"]["per_output"] == {"0": 500, "1": 500}
    assert doc["loss_recovered"]["lo"] >= 0.95  # measured 0.9929 [0.9889, 0.9961]
    assert doc["warnings"] == [] and "verdict" not in doc
    uniform = run_cli("scrub", f"{POOL}:HierarchicalEqualityPool", "--network", TRAINED, "--references", "uniform",
                      "--json", str(out))
    assert uniform.exit_code == 0, uniform.output
    assert "1,000 references drawn uniformly from the inputs (most common output 98.0%), seed 0" in uniform.stdout
    doc = json.loads(out.read_text())
    assert doc["references"]["kind"] == "uniform"
    assert doc["loss_recovered"]["lo"] < 0.9  # measured 0.8688 [0.7408, 0.9533]: uniform references barely test it


@pytest.mark.parametrize(
    ("hypothesis", "threshold", "code", "headline"),
    [
        ("HierarchicalEquality", "0.95", 0, "VERIFIED"),
        ("SwappedEquality", "0.95", 1, "REFUTED"),
        ("SwappedEquality", "0.05", 3, "INCONCLUSIVE"),  # measured -0.018 [-0.169, 0.117] at n = 500
    ],
)
def test_threshold_gives_a_verdict_with_verify_s_exit_codes(tmp_path: Path, hypothesis, threshold, code, headline):
    out = tmp_path / "s.json"
    r = run_cli("scrub", f"{HEQ}:{hypothesis}", "--network", NET, "--n", "500", "--threshold", threshold,
                "--json", str(out))
    assert r.exit_code == code, r.output
    assert f"{headline}: loss recovered of {hypothesis} on heq_handbuilt at threshold {threshold}" in r.stdout
    doc = json.loads(out.read_text())
    assert doc["verdict"] == headline.lower() and doc["threshold"] == float(threshold)
    lo, hi = doc["loss_recovered"]["lo"], doc["loss_recovered"]["hi"]
    assert (lo >= float(threshold)) == (code == 0) and (hi < float(threshold)) == (code == 1)


def test_without_a_threshold_scrub_reports_and_exits_0() -> None:
    r = run_cli("scrub", f"{HEQ}:SwappedEquality", "--network", NET, "--n", "300")
    assert r.exit_code == 0, r.output
    assert "loss recovered" in r.stdout and "VERIFIED" not in r.stdout and "REFUTED" not in r.stdout


def test_a_network_that_does_not_compute_the_hypothesis_is_warned_about(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    r = run_cli("scrub", f"{HEQ}:CrossedEquality", "--network", NET, "--n", "500", "--json", str(out))
    assert r.exit_code == 0, r.output
    (line,) = [x for x in r.stdout.splitlines() if "warning:" in x]
    assert "gives CrossedEquality's output on only 62.0% of the references (190 of 500 disagree" in line
    assert json.loads(out.read_text())["warnings"] == [line.split("warning: ", 1)[1]]
    fine = run_cli("scrub", f"{HEQ}:HierarchicalEquality", "--network", NET, "--n", "300")
    assert "warning" not in fine.stdout


def _result(accuracy_original: float, recovered_lo_high: bool = True):
    n = 400
    rng = np.random.default_rng(0)
    ls = rng.normal(0.01, 0.001, n) if recovered_lo_high else rng.normal(1.0, 0.1, n)
    lo, lr = rng.normal(0.0, 0.001, n), rng.normal(2.0, 0.1, n)
    correct = np.arange(n) < int(round(accuracy_original * n))
    return summarize(hypothesis="H", correspondence="H: v -> s", seed=0, scrubbed=(ls, correct), original=(lo, correct),
                     random=(lr, correct), passes=2, dropped=0, confidence=0.95, bootstrap=500)


def test_a_high_loss_recovered_on_a_network_that_disagrees_is_not_verified() -> None:
    good = _result(1.0)
    assert good.loss_recovered.lo > 0.99 and agreement_warning(good) is None
    assert judge(good, 0.95)[0] == "verified"
    bad = _result(0.57)
    assert bad.loss_recovered.lo > 0.99
    verdict, reason = judge(bad, 0.95)
    assert verdict == "inconclusive" and "57.0%" in reason
    assert "57.0%" in str(agreement_warning(bad))
    assert judge(_result(0.57, recovered_lo_high=False), 0.95)[0] == "refuted"  # a low score refutes regardless
    with pytest.raises(ScrubError, match="threshold"):
        judge(good, 1.5)


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--references", "stratified"), "--references 'stratified'"), (("--threshold", "0"), "--threshold must be")],
)
def test_bad_scrub_options_exit_2_with_one_line(tmp_path: Path, args, message) -> None:
    out = tmp_path / "never.json"
    r = run_cli("scrub", f"{HEQ}:HierarchicalEquality", "--network", NET, *args, "--json", str(out))
    assert r.exit_code == 2, r.output
    assert message in r.output and len(r.output.strip().splitlines()) == 1
    assert not out.exists()
