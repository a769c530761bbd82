"""`causalabs verify` and `causalabs report`: exit codes, one-line errors, byte-identical JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from causalabs.verification.report.report import report_digest
from _cli import run

ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
NET = str(ROOT / "models/heq_handbuilt.py")



def test_verified_and_refuted_exit_codes(tmp_path: Path) -> None:
    ok = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--json", str(tmp_path / "r.json"))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("VERIFIED")
    bad = run("verify", f"{HEQ}:SwappedEquality", "--network", NET)
    assert bad.exit_code == 1
    assert "counterexample (the first in input order):" in bad.stdout
    assert "replay: import causalabs as ca; print(ca.reproduce(" in bad.stdout


def test_inconclusive_exit_code() -> None:
    few = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample", "--samples", "20",
              "--threshold", "0.95")
    assert few.exit_code == 3, few.output
    assert few.stdout.startswith("INCONCLUSIVE at threshold 0.95: HierarchicalEquality")


def test_one_default_threshold_in_every_mode(tmp_path: Path) -> None:
    """Threshold 1 by default: exhaustive verifies the exact claim, sampling cannot (exit 3), never 0 vs 1."""
    exact = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--json", str(tmp_path / "e.json"))
    sampled = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample",
                  "--json", str(tmp_path / "s.json"))
    assert exact.exit_code == 0 and sampled.exit_code == 3, sampled.output
    assert sampled.stdout.startswith("INCONCLUSIVE: HierarchicalEquality on heq_handbuilt (sample)")
    assert "no failure in 6,000 pairs; IIA >= 0.9985 (95%)" in sampled.stdout
    docs = [json.loads((tmp_path / name).read_text()) for name in ("e.json", "s.json")]
    assert [d["threshold"] for d in docs] == [1.0, 1.0]
    assert docs[1]["statistics"]["interval"] == "clopper-pearson" and docs[1]["provenance"]["sampling"] == "balanced"
    at = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample", "--threshold", "0.95")
    assert at.exit_code == 0 and at.stdout.startswith("VERIFIED at threshold 0.95: HierarchicalEquality")
    twin = run("verify", f"{HEQ}:SwappedEquality", "--network", NET, "--mode", "sample")
    assert twin.exit_code == 1 and twin.stdout.startswith("REFUTED: SwappedEquality")


@pytest.mark.parametrize("value", ["0", "1.5", "nan"])
def test_a_threshold_outside_0_1_is_a_usage_error(value: str) -> None:
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--threshold", value)
    assert r.exit_code == 2, r.output
    assert f"--threshold {value}: a number in (0, 1]" in r.output and "Traceback" not in r.output


def test_falsify_and_prove_take_no_threshold_below_1() -> None:
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "falsify", "--threshold", "0.9")
    assert r.exit_code == 2 and "--mode falsify checks the exact claim (threshold 1)" in r.output


def test_same_command_twice_gives_identical_json_apart_from_timing(tmp_path: Path) -> None:
    docs = []
    for name in ("a.json", "b.json"):
        r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample",
                "--samples", "300", "--seed", "5", "--threshold", "0.95", "--json", str(tmp_path / name))
        assert r.exit_code == 0, r.output
        doc = json.loads((tmp_path / name).read_text())
        assert doc.pop("timing")
        docs.append(json.dumps(doc, sort_keys=True))
    assert docs[0] == docs[1]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_report_renders_saved_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert run("verify", f"{HEQ}:SwappedEquality", "--network", NET, "--json", str(out)).exit_code == 1
    tex = run("report", str(out), "--format", "tex")
    assert tex.exit_code == 0 and "\\toprule" in tex.stdout and "refuted" in tex.stdout
    md = run("report", str(out), "--format", "md")
    assert "**REFUTED" in md.stdout
    again = run("report", str(out), "--format", "json")
    assert json.loads(again.stdout) == json.loads(out.read_text())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("verify", f"{ROOT}/hypotheses/missing.py:H", "--network", NET), "no such file"),
        (("verify", f"{HEQ}:Nope", "--network", NET), "has no 'Nope'"),
        (("verify", f"{HEQ}:sp", "--network", NET), "is not a causalabs.Hypothesis"),
        (("verify", f"{HEQ}:HierarchicalEquality", "--network", str(ROOT / "hypotheses/addition.py")), "load()"),
        (("verify", f"{HEQ}:HierarchicalEquality", "--network", str(ROOT / "models/nope.py")), "no such network file"),
        (("verify", f"{HEQ}:LeftOnlySwapped", "--network", NET), "'right'"),
        (("report", str(ROOT / "README.md")), "not a JSON report"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.output


def test_prove_mode_exit_codes() -> None:
    ok = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "prove")
    assert ok.exit_code == 0 and ok.stdout.startswith("PROVED"), ok.output
    bad = run("verify", f"{HEQ}:SwappedEquality", "--network", NET, "--mode", "prove")
    assert bad.exit_code == 1 and bad.stdout.startswith("REFUTED") and "\nreplay: " in bad.stdout, bad.output


def test_sampled_report_round_trips_and_version_1_reports_still_read(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample", "--threshold", "0.95",
            "--json", str(out))
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["schema"] == "causalabs.report/3" and doc["stopping"] is None
    left = doc["per_variable"]["left"]
    assert left["changed"]["method"] == "clopper-pearson one-sided" and left["changed"]["hi_confidence"] > 0.99
    again = run("report", str(out), "--format", "json")
    assert json.loads(again.stdout) == doc  # every field, the strata's bounds and levels included
    # a report written before strata and statistics were recorded
    old = {k: v for k, v in doc.items() if k not in ("confidence", "statistics")}
    old["schema"] = "causalabs.report/1"
    old["per_variable"] = {k: {f: v[f] for f in ("iia", "changed", "failures")} for k, v in doc["per_variable"].items()}
    old["digest"] = report_digest(old)  # as a version 1 writer with digests wrote it
    (tmp_path / "v1.json").write_text(json.dumps(old))
    text = run("report", str(tmp_path / "v1.json"))
    assert text.exit_code == 0 and text.stdout.startswith("VERIFIED at threshold 0.95: HierarchicalEquality")
