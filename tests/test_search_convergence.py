"""A searched alignment is evidence too: a search that stops short is never read as a refutation of the claim.

The case (issue 12): ``models/and_or_trained.py``, a trained MLP for
``out = (a AND b) OR (c AND d)``.  A DAS search at layer "1" with the old
fixed recipe (5 epochs, lr 5e-2, every pair trained on) reaches an alignment
that fails 13 of 4,608 pairs, and ``verify --search`` refuted the claim; 30
epochs verify it.  Now the search trains until held-out IIA stops
improving: the default verifies, and a search cut short by ``--epochs``
says inconclusive (exit 3), never refuted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from causalabs.align.find import find_alignment
from causalabs.loading import load_hypothesis
from causalabs.network import Alignment, load_network
from causalabs.scm import model_of
from causalabs.verification import verify
from _cli import run

ROOT = Path(__file__).resolve().parents[1]
HYP = f"{ROOT / 'hypotheses/and_or.py'}:AndOr"
NET = str(ROOT / "models/and_or_trained.py")
HEQ = f"{ROOT / 'hypotheses/hierarchical_equality.py'}:HierarchicalEquality"
HANDBUILT = str(ROOT / "models/heq_handbuilt.py")



@pytest.fixture(scope="module")
def and_or():
    return load_hypothesis(HYP), load_network(NET)


def test_the_old_fixed_recipe_reaches_an_alignment_that_refutes(and_or) -> None:
    hyp, net = and_or
    old = find_alignment(hyp, net, "1", epochs=5, lr=5e-2, patience=None, seed=0)
    assert old.info["converged"] is None  # a fixed run says nothing about convergence
    r = verify(hyp, net, old)
    assert r.verdict == "refuted"
    assert (r.iia.successes, r.iia.n) == (4_595, 4_608)  # measured: 1 of 256 g2 pairs, 12 of 4,096 g1+g2 pairs
    longer = find_alignment(hyp, net, "1", epochs=30, lr=5e-2, patience=None, seed=0)
    assert verify(hyp, net, longer).verdict == "verified"


def test_the_default_search_verifies_and_says_how_it_trained(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run("verify", HYP, "--network", NET, "--search", "das", "--site", "1", "--json", str(out))
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()  # the search's progress; stdout is the report, verdict first
    assert lines[0].startswith("searched (das, seed 0): g1 -> 1.output<Rotation[0:1]>")
    assert lines[1].startswith("  training at 1 (g1+g2): ") and "converged" in lines[1]
    assert "held-out IIA g1 1.0000, g2 1.0000, g1+g2 1.0000" in lines[1]
    assert lines[2].startswith("note: --site 1 names no variable, so every internal variable")  # g1 and g2
    assert r.stdout.startswith("VERIFIED") and "4,608 pairs" in r.stdout and "; training converged\n" in r.stdout
    found = json.loads(out.read_text())["provenance"]["alignment_search"]
    assert found["converged"] is True
    (fit,) = found["training"]
    assert fit["site"] == "1" and fit["variables"] == ["g1", "g2"] and fit["stopped"] == "patience"
    assert fit["epochs"] < fit["cap"] and fit["heldout_iia"] == 1.0


def test_a_search_cut_short_is_inconclusive_not_refuted(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run("verify", HYP, "--network", NET, "--search", "das", "--site", "1", "--epochs", "5", "--json", str(out))
    assert r.exit_code == 3, r.output
    assert "did not converge" in r.stderr.splitlines()[1]
    assert r.stdout.startswith("INCONCLUSIVE") and "REFUTED" not in r.stdout
    assert "the search did not converge; raise --epochs" in r.stdout
    doc = json.loads(out.read_text())
    assert doc["verdict"] == "inconclusive"
    assert doc["provenance"]["alignment_search"]["converged"] is False
    assert doc["provenance"]["alignment_search"]["training"][0]["stopped"] == "cap"


def test_sample_mode_after_a_capped_search_is_inconclusive_too(and_or) -> None:
    hyp, net = and_or
    capped = find_alignment(hyp, net, "1", epochs=5, seed=0)
    assert capped.info["converged"] is False
    r = verify(hyp, net, capped, mode="sample", threshold=1.0, samples=4_000, sampling="balanced", seed=1)
    assert r.verdict == "inconclusive" and r.reason.startswith("the search did not converge; raise --epochs")
    assert r.counterexample is not None  # the alignment it reached does fail: the evidence stays in the report


@pytest.mark.parametrize("mode", ["falsify", "prove"])
def test_falsify_and_prove_after_a_capped_search_are_inconclusive_too(and_or, mode) -> None:
    """Every mode reads the search's record the same way: a refutation of what a capped search reached is exit 3."""
    from causalabs.verification.falsification import falsify
    from causalabs.verification.prove import prove
    from causalabs.verification.report.modes import falsify_report, proof_report

    hyp, net = and_or
    model = model_of(hyp)
    capped = find_alignment(hyp, net, "1", epochs=5, seed=0)
    assert capped.info["converged"] is False
    if mode == "falsify":
        result = falsify(hyp, net, capped, seed=0)
        report = falsify_report(result, model, net, capped)
    else:
        result = prove(hyp, net, capped, progress=False)
        report = proof_report(result, model, net, capped)
    assert result.counterexample is not None  # the alignment the capped search reached does fail
    assert report.verdict == "inconclusive" and report.reason.startswith("the search did not converge; raise --epochs")
    uncapped = Alignment(capped.sites)  # the same sites with no search record: judged as given
    again = falsify_report(falsify(hyp, net, uncapped, seed=0), model, net, uncapped) if mode == "falsify" else \
        proof_report(prove(hyp, net, uncapped, progress=False), model, net, uncapped)
    assert again.verdict == "refuted"


def test_a_converged_search_that_fails_is_still_refuted() -> None:
    hyp, net = load_hypothesis(HEQ), load_network(HANDBUILT)
    found = find_alignment(hyp, net, "0", samples=128, seed=0)
    assert found.info["converged"] is True
    assert verify(hyp, net, found).verdict == "refuted"
    # the same alignment without its search record is judged as given
    assert verify(hyp, net, Alignment(found.sites)).verdict == "refuted"


def test_causalabs_search_prints_each_fit_s_training_and_names_those_that_did_not_converge(tmp_path: Path) -> None:
    r = run("search", HEQ, "--network", HANDBUILT, "--site", "2", "--samples", "128", "--out", str(tmp_path / "a"))
    assert r.exit_code == 0, r.output
    lines = [x for x in r.stdout.splitlines() if x.startswith("  training at 2.output")]
    assert len(lines) == 3 and all(", converged; training loss" in x for x in lines), r.stdout
    assert "did not converge" not in r.stdout
    saved = json.loads((tmp_path / "a" / "alignments" / "2.output__left.json").read_text())["info"]
    assert saved["training"]["converged"] is True and saved["config"]["patience"] == 5
    capped = run("search", HEQ, "--network", HANDBUILT, "--site", "2", "--samples", "128", "--epochs", "2",
                 "--out", str(tmp_path / "b"))
    assert capped.exit_code == 0, capped.output
    assert "3 of 3 fit(s) did not converge (2.output (left), 2.output (right), 2.output (left+right)); raise --epochs" \
        in capped.stdout
