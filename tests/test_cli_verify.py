"""`causalabs verify` and `causalabs report`: exit codes, one-line errors, byte-identical JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causalabs.cli import app

ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
NET = str(ROOT / "models/heq_handbuilt.py")
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_verified_and_refuted_exit_codes(tmp_path: Path) -> None:
    ok = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--json", str(tmp_path / "r.json"))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("VERIFIED")
    bad = run("verify", f"{HEQ}:SwappedEquality", "--network", NET)
    assert bad.exit_code == 1
    assert "counterexample:" in bad.stdout and "replay: causalabs.interchange(SwappedEquality" in bad.stdout


def test_inconclusive_exit_code() -> None:
    few = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample", "--samples", "20")
    assert few.exit_code == 3, few.output


def test_same_command_twice_gives_identical_json_apart_from_timing(tmp_path: Path) -> None:
    docs = []
    for name in ("a.json", "b.json"):
        r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample",
                "--samples", "300", "--seed", "5", "--json", str(tmp_path / name))
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
    assert bad.exit_code == 1 and bad.stdout.startswith("REFUTED") and "replay:" in bad.stdout, bad.output
