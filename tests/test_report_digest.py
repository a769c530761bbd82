"""Saved reports carry a digest: an edited verdict is refused by `causalabs report`; a rerun gives the same bytes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causalabs.cli import app
from causalabs.errors import LoadError, ReportIntegrityError
from causalabs.verification.report.io import load_report
from causalabs.verification.report.report import report_digest

ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
NET = str(ROOT / "models/heq_handbuilt.py")


def run(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})


@pytest.fixture(scope="module")
def refuted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports") / "swapped.json"
    r = run("verify", f"{HEQ}:SwappedEquality", "--network", NET, "--json", str(out))
    assert r.exit_code == 1, r.output
    return out


def _without_timing(text: str) -> str:
    return re.sub(r'"timing": \{[^}]*\}', '"timing": {}', text)


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_a_saved_report_holds_the_digest_of_its_content(refuted):
    doc = json.loads(refuted.read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", doc["digest"]) and doc["digest"] == report_digest(doc)
    report = load_report(refuted)
    assert report.verdict == "refuted" and report.counterexample is not None
    assert json.loads(report.to_json())["digest"] == doc["digest"]  # read back, written again: same digest
    assert run("report", str(refuted)).exit_code == 0


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(verdict="verified"),
        lambda d: d.update(reason="every pair agrees"),
        lambda d: d["iia"].update(value=1.0),
        lambda d: d["per_variable"]["left"].update(failures=0),
        lambda d: d.update(counterexample=None),
        lambda d: d["provenance"].update(seed=7),
        lambda d: d.update(threshold=0.5),
    ],
    ids=["verdict", "reason", "iia", "failures", "counterexample", "provenance", "threshold"],
)
def test_an_edited_report_is_refused_with_exit_2_and_one_line(refuted, tmp_path, edit):
    doc = json.loads(refuted.read_text())
    edit(doc)
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc, sort_keys=True, indent=2))
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ReportIntegrityError, match=r"edited\.json: the report was changed after it was written"):
        load_report(edited)
    for fmt in ("txt", "json", "md", "tex"):
        r = run("report", str(edited), "--format", fmt)
        assert r.exit_code == 2, r.output
        line = _one_error_line(r.output)
        assert "edited.json" in line and "changed after it was written" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_a_report_without_its_digest_is_refused(refuted, tmp_path):
    doc = json.loads(refuted.read_text())
    del doc["digest"]
    doc["verdict"] = "verified"
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(doc))
    r = run("report", str(bare))
    assert r.exit_code == 2 and "bare.json: the report has no digest" in _one_error_line(r.output)


def test_timing_is_outside_the_digest(refuted, tmp_path):
    doc = json.loads(refuted.read_text())
    doc["timing"] = {"seconds": 12345.0}
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps(doc))
    assert load_report(slow).timing == {"seconds": 12345.0}


def test_the_same_command_twice_writes_the_same_bytes_apart_from_timing(tmp_path):
    texts = []
    for name in ("a.json", "b.json"):
        r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--json", str(tmp_path / name))
        assert r.exit_code == 0, r.output
        texts.append((tmp_path / name).read_text())
    assert _without_timing(texts[0]) == _without_timing(texts[1])
    assert json.loads(texts[0])["digest"] == json.loads(texts[1])["digest"]


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"\xff\xfe", "not UTF-8"), (b"[" * 100_000, "not a JSON report"), (b"[1]", "not a causalabs report")],
    ids=["not-utf8", "deep", "list"],
)
def test_a_file_that_is_not_a_report_is_named(tmp_path, content, says):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(LoadError, match=rf"bad\.json: .*{says}"):
        load_report(bad)
    r = run("report", str(bad))
    assert r.exit_code == 2 and "bad.json" in _one_error_line(r.output)
    with pytest.raises(LoadError, match="is a directory"):
        load_report(tmp_path)
