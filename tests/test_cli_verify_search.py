"""`causalabs verify --search METHOD --site ...`: the alignment is found, then verified; its search is on record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from causalabs.align.find import find_alignment
from causalabs.loading import load_hypothesis
from causalabs.network.network import load_network
from causalabs.verification import verify
from _cli import run

ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
NET = str(ROOT / "models/heq_handbuilt.py")
ROT = str(ROOT / "models/heq_rotated.py")



def test_das_search_at_the_right_layer_is_verified_and_recorded(tmp_path: Path) -> None:
    out, saved = tmp_path / "r.json", tmp_path / "found.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", ROT, "--search", "das", "--site", "2",
            "--json", str(out), "--save-alignment", str(saved))
    assert r.exit_code == 0, r.output
    # the search reports its progress on stderr; stdout is the report, verdict first, the search in its claim
    assert "searched (das, seed 0): left -> 2.output<Rotation[0:1]>" in r.stderr
    assert r.stdout.startswith("VERIFIED") and "every pair agrees" in r.stdout
    assert "found by das at left=2, right=2, seed 0; training converged\n" in r.stdout
    assert f"saved to {saved}\n" in r.stdout
    found = json.loads(out.read_text())["provenance"]["alignment_search"]
    assert found["method"] == "das" and found["sites"] == {"left": "2", "right": "2"}
    assert len(found["train_digests"]) == 3  # left, right, left+right
    again = run("verify", f"{HEQ}:HierarchicalEquality", "--network", ROT, "--alignment", str(saved))
    assert again.exit_code == 0, again.output
    # the saved file records the search that found it; this command ran none, and says so
    assert "found by das at left=2, right=2, seed 0; training converged\n" in again.stdout
    assert f"(from {saved})\n" in again.stdout and "saved to" not in again.stdout
    assert again.stdout.rstrip().splitlines()[-1].startswith("no seed (every pair), ")


def test_search_then_verify_twice_gives_identical_json_apart_from_timing(tmp_path: Path) -> None:
    docs = []
    for name in ("a.json", "b.json"):
        r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--search", "das", "--site", "2",
                "--mode", "sample", "--samples", "300", "--seed", "4", "--threshold", "0.95",
                "--json", str(tmp_path / name))
        assert r.exit_code == 0, r.output
        doc = json.loads((tmp_path / name).read_text())
        assert doc.pop("timing")
        docs.append(json.dumps(doc, sort_keys=True))
    assert docs[0] == docs[1]


def test_neuron_search_on_the_rotated_network_is_refuted() -> None:
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", ROT, "--search", "neurons", "--site", "2")
    assert r.exit_code == 1, r.output
    assert r.stdout.startswith("REFUTED") and "counterexample (the first in input order):" in r.stdout
    assert "alignment=alignment))" in r.stdout and "add --save-alignment FILE" in r.stdout


def test_wrong_layer_is_refuted() -> None:
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--search", "das", "--site", "0",
            "--train-samples", "128")
    assert r.exit_code == 1, r.output
    # the search stopped for lack of held-out gain, not at its cap: its progress on stderr, the report says so too
    assert "converged" in r.stderr.splitlines()[1] and "; training converged\n" in r.stdout


def test_wrong_layer_after_a_capped_search_is_inconclusive() -> None:
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--search", "das", "--site", "0",
            "--epochs", "2", "--train-samples", "128")
    assert r.exit_code == 3, r.output
    assert "did not converge" in r.stderr.splitlines()[1] and "; training did not converge\n" in r.stdout
    assert "INCONCLUSIVE" in r.stdout and "the search did not converge; raise --epochs" in r.stdout


def test_one_site_per_variable_matches_the_library_call() -> None:
    hyp = load_hypothesis(f"{HEQ}:HierarchicalEquality")
    net = load_network(NET)
    a = find_alignment(hyp, net, {"left": "2", "right": "2"}, samples=256, seed=3)
    b = find_alignment(hyp, net, "2", samples=256, seed=3)
    for v in ("left", "right"):
        ua = a.sites[v].subspace.featurizer.basis(*a.sites[v].subspace.dims)
        ub = b.sites[v].subspace.featurizer.basis(*b.sites[v].subspace.dims)
        assert bool((ua == ub).all())  # same seed, same data: the same alignment to the bit
    assert verify(hyp, net, a).verdict == "verified"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--search", "das", "--site", "left=2", "--site", "bogus=1"), "no internal variable 'bogus'"),
        (("--search", "das", "--site", "9"), "has no module '9'"),
        (("--search", "das", "--site", "2", "--dims", "left=40"), "has width 8"),
        (("--search", "das", "--site", "2", "--dims", "left=x"), "--dims 'left=x'"),
        (("--search", "magic", "--site", "2"), "unknown search method 'magic'"),
        (("--search", "das"), "--search needs --site"),
        (("--search", "das", "--site", "2", "--site", "1"), "write VARIABLE=MODULE"),
        (("--site", "2"), "go with --search METHOD"),
        (("--search", "das", "--site", "2", "--alignment", "x.json"), "either --alignment or --search"),
        (("--search", "das", "--site", "2", "--mode", "guess"), "--mode 'guess'"),
    ],
)
def test_bad_search_input_exits_2_with_one_line(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    saved = tmp_path / "never.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, *args, "--save-alignment", str(saved))
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not saved.exists()


def test_a_bare_site_says_which_variables_it_fitted_and_verified(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--search", "das", "--site", "2",
            "--json", str(out))
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()  # the search's progress and note; stdout is the report, verdict first
    assert lines[0].startswith("searched (das, seed 0): left -> ")
    notes = [line for line in lines if line.startswith("note:")]
    assert notes == [(
        "note: --site 2 names no variable, so every internal variable of HierarchicalEquality was fitted there "
        "(left, right) and is verified; --site VARIABLE=MODULE fits only those named, for example --site left=2"
    )]
    assert r.stdout.startswith("VERIFIED")
    assert set(json.loads(out.read_text())["per_variable"]) == {"left", "right", "left+right"}


def test_site_variable_equals_module_fits_and_verifies_only_that_variable(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--search", "das", "--site", "left=2",
            "--json", str(out))
    assert r.exit_code == 0, r.output
    assert "note:" not in r.output
    doc = json.loads(out.read_text())
    assert list(doc["per_variable"]) == ["left"]
    assert doc["provenance"]["alignment_search"]["sites"] == {"left": "2"}


@pytest.mark.parametrize("given", ["left=2", "lft=2"])  # a misspelt variable gets the same pointer
def test_search_refuses_variable_equals_module_with_a_pointer(tmp_path: Path, given: str) -> None:
    r = run("search", f"{HEQ}:HierarchicalEquality", "--network", NET, "--site", given, "--out", str(tmp_path / "o"))
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == (
        f"error: --site {given}: search takes module paths and fits every internal variable of HierarchicalEquality "
        "(left, right) at each, alone and together; VARIABLE=MODULE is for verify --search"
    )
    assert not (tmp_path / "o").exists()


def test_replay_line_after_a_saved_search_loads_the_saved_alignment(tmp_path: Path) -> None:
    import subprocess
    import sys

    saved = tmp_path / "neurons.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", ROT, "--search", "neurons", "--site", "2",
            "--save-alignment", str(saved), "--json", str(tmp_path / "r.json"))
    assert r.exit_code == 1, r.output
    (line,) = [x.removeprefix("replay: ") for x in r.stdout.splitlines() if x.startswith("replay: ")]
    assert f'alignment="{saved}"' in line and f"saved to {saved}" in r.stdout
    cx = json.loads((tmp_path / "r.json").read_text())["counterexample"]
    done = subprocess.run([sys.executable, "-c", line], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"out: hypothesis {cx['expected']}, network {cx['observed']} (disagree)\n"
