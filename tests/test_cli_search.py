"""`causalabs search` and `causalabs scrub`: heatmap, saved alignments that verify, scrubbing numbers, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import run


ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
NET = str(ROOT / "models/heq_handbuilt.py")



@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("search")
    r = run("search", f"{HEQ}:HierarchicalEquality", "--network", NET, "--site", "2", "--site", "0",
            "--method", "das", "--samples", "256", "--out", str(out))
    return out, r


def _records(out: Path, site: str) -> dict[tuple[str, ...], dict]:
    doc = json.loads((out / f"{site}.output.json").read_text())
    return {tuple(r["variables"]): r for r in doc["records"]}


def test_search_writes_heatmap_alignments_and_finds_layer_2(searched) -> None:
    out, r = searched
    assert r.exit_code == 0, r.output
    assert "held-out IIA" in r.stdout and "2.output" in r.stdout and "0.output" in r.stdout
    assert (out / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for vs in ("left", "right", "left+right"):
        for site in ("2.output", "0.output"):
            assert (out / "alignments" / f"{site}__{vs}.json").is_file()
    at2 = _records(out, "2")
    assert at2[("left",)]["overall"]["value"] >= 0.99
    assert at2[("right",)]["overall"]["value"] >= 0.99
    assert at2[("left", "right")]["overall"]["value"] >= 0.99
    at0 = _records(out, "0")
    assert at0[("left", "right")]["overall"]["value"] < 0.9  # layer "0" does not hold the variables
    info = json.loads((out / "alignments" / "2.output__left.json").read_text())["info"]
    assert info["method"] == "das" and info["heldout_iia"]["value"] >= 0.99 and info["network"] == "heq_handbuilt"


def test_search_again_resumes(searched) -> None:
    out, _ = searched
    r = run("search", f"{HEQ}:HierarchicalEquality", "--network", NET, "--site", "2,0",
            "--method", "das", "--samples", "256", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "0 site(s) fitted, 2 resumed" in r.stdout


@pytest.mark.parametrize("vs", ["left", "left+right"])
def test_saved_alignment_verifies(searched, vs: str) -> None:
    out, _ = searched
    saved = out / "alignments" / f"2.output__{vs}.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--alignment", str(saved))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("VERIFIED")


def test_search_neurons_baseline(tmp_path: Path) -> None:
    r = run("search", f"{HEQ}:HierarchicalEquality", "--network", NET, "--site", "2",
            "--method", "neurons", "--samples", "128", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    rec = _records(tmp_path, "2")
    assert rec[("left",)]["overall"]["value"] == 1.0 and rec[("right",)]["overall"]["value"] == 1.0
    units = json.loads((tmp_path / "alignments" / "2.output__left.json").read_text())["sites"]["left"]["subspace"]
    assert units == {"kind": "units", "units": [0]}


def test_scrub_correct_and_swapped(tmp_path: Path) -> None:
    out = tmp_path / "scrub.json"
    good = run("scrub", f"{HEQ}:HierarchicalEquality", "--network", NET, "--json", str(out), "--n", "500")
    assert good.exit_code == 0, good.output
    assert "loss recovered 1.0000" in good.stdout and "accuracy under scrubbing" in good.stdout
    doc = json.loads(out.read_text())
    assert doc["loss_recovered"]["value"] >= 0.99 and doc["accuracy"]["value"] >= 0.99 and doc["n"] == 500
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    bad = run("scrub", f"{HEQ}:SwappedEquality", "--network", NET, "--json", str(out), "--n", "500")
    assert bad.exit_code == 0, bad.output
    assert json.loads(out.read_text())["loss_recovered"]["value"] <= 0.2


def test_scrub_with_saved_alignment(searched) -> None:
    out, _ = searched
    saved = out / "alignments" / "2.output__left+right.json"
    r = run("scrub", f"{HEQ}:HierarchicalEquality", "--network", NET, "--alignment", str(saved), "--n", "300")
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if "loss recovered" in x)
    assert float(line.split()[2]) >= 0.99


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", f"{ROOT}/hypotheses/missing.py:H", "--network", NET, "--site", "2"), "no such file"),
        (("search", f"{HEQ}:Nope", "--network", NET, "--site", "2"), "has no 'Nope'"),
        (("search", f"{HEQ}:sp", "--network", NET, "--site", "2"), "is not a causalabs.Hypothesis"),
        (("search", f"{HEQ}:HierarchicalEquality", "--network", str(ROOT / "hypotheses/addition.py"), "--site", "2"), "load()"),
        (("search", f"{HEQ}:HierarchicalEquality", "--network", str(ROOT / "models/nope.py"), "--site", "2"), "no such network file"),
        (("search", f"{HEQ}:HierarchicalEquality", "--network", NET, "--site", "9"), "no module '9'"),
        (("search", f"{HEQ}:HierarchicalEquality", "--network", NET, "--site", "2", "--dims", "foo=1"), "'foo'"),
        (("search", f"{HEQ}:HierarchicalEquality", "--network", NET, "--site", "2", "--method", "magic"), "--method"),
        (("scrub", f"{ROOT}/hypotheses/missing.py:H", "--network", NET), "no such file"),
        (("scrub", f"{HEQ}:Nope", "--network", NET), "has no 'Nope'"),
        (("scrub", f"{HEQ}:HierarchicalEquality", "--network", str(ROOT / "hypotheses/addition.py")), "load()"),
        (("scrub", f"{HEQ}:HierarchicalEquality", "--network", str(ROOT / "models/nope.py")), "no such network file"),
        (("scrub", f"{HEQ}:LeftOnly", "--network", NET), "'right'"),
        (("scrub", f"{HEQ}:HierarchicalEquality", "--network", NET, "--alignment", str(ROOT / "README.md")), "not an alignment file"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.output
