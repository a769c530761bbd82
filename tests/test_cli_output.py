"""What `causalabs verify` prints: one shape in every mode, `--json` in every mode, replay lines that run as pasted.

Every mode prints the verdict first, then the claim, the evidence, the
counterexample with ONE replay line when a pair refutes the claim, and a
footer with the seed and the versions; `causalabs report` prints the same
text from the JSON.  Each mode's replay line is pasted into a fresh
interpreter and must print the disagreement the report shows.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causalabs.cli import app
from causalabs.verification.report.io import report_from_dict
from causalabs.verification.report.render import to_text

ROOT = Path(__file__).resolve().parents[1]
HYP = "hypotheses/hierarchical_equality.py"
NET = "models/heq_handbuilt.py"
MODES = ("exhaustive", "sample", "falsify", "prove")
WORDS = {"exhaustive": {"VERIFIED", "REFUTED"}, "sample": {"VERIFIED", "REFUTED", "INCONCLUSIVE"},
         "falsify": {"REFUTED", "INCONCLUSIVE"}, "prove": {"PROVED", "REFUTED", "UNKNOWN"}}
FOOTER = re.compile(r"^(seed \d+|no seed \([a-z ]+\)), causalabs \S+, torch \S+, device \S+$")
runner = CliRunner()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[int, str, Path]]:
    """(mode, hypothesis) -> (exit code, stdout, JSON report), run from the checkout with relative paths."""
    folder = tmp_path_factory.mktemp("reports")
    out: dict[tuple[str, str], tuple[int, str, Path]] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        for mode in MODES:
            for hyp in ("HierarchicalEquality", "SwappedEquality"):
                path = folder / f"{mode}-{hyp}.json"
                r = runner.invoke(app, ["verify", f"{HYP}:{hyp}", "--network", NET, "--mode", mode,
                                        "--samples", "500", "--json", str(path)], env={"COLUMNS": "80"})
                out[(mode, hyp)] = (r.exit_code, r.stdout, path)
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("hyp", ["HierarchicalEquality", "SwappedEquality"])
def test_every_mode_prints_one_shape(outputs, mode: str, hyp: str) -> None:
    code, text, _ = outputs[(mode, hyp)]
    lines = text.rstrip("\n").splitlines()
    word = lines[0].split(":")[0].split(" at threshold")[0]
    assert word in WORDS[mode], lines[0]
    assert lines[0].endswith(f"{hyp} on heq_handbuilt ({mode})")
    assert code == {"VERIFIED": 0, "PROVED": 0, "REFUTED": 1}.get(word, 3)
    assert "\nclaim\n  hypothesis  hypotheses/hierarchical_equality.py:" + hyp in text
    assert "  network     models/heq_handbuilt.py" in text and "  threshold   " in text
    assert "\nevidence" in text
    assert FOOTER.match(lines[-1]), lines[-1]
    replays = [line for line in lines if line.startswith("replay: ")]
    assert len(replays) == (1 if "\ncounterexample (" in text else 0)
    if hyp == "SwappedEquality":  # every mode refutes the twin with a pair
        assert word == "REFUTED" and len(replays) == 1
    # every line fits 80 columns, except the reason (one sentence, as in the JSON) and the replay line
    assert [line for line in lines[2:] if len(line) > 80 and not line.startswith("replay: ")] == []


def test_seed_is_named_where_it_is_used(outputs) -> None:
    assert outputs[("exhaustive", "SwappedEquality")][1].rstrip().splitlines()[-1].startswith("no seed (every pair),")
    assert outputs[("prove", "SwappedEquality")][1].rstrip().splitlines()[-1].startswith("no seed (exact),")
    for mode in ("sample", "falsify"):
        assert outputs[(mode, "SwappedEquality")][1].rstrip().splitlines()[-1].startswith("seed 0,")


@pytest.mark.parametrize("mode", MODES)
def test_json_in_every_mode_same_schema_and_report_prints_the_same_text(outputs, mode: str) -> None:
    keys = None
    for hyp in ("HierarchicalEquality", "SwappedEquality"):
        code, text, path = outputs[(mode, hyp)]
        doc = json.loads(path.read_text())
        exhaustive = json.loads(outputs[("exhaustive", hyp)][2].read_text())
        assert set(doc) == set(exhaustive) and doc["schema"] == exhaustive["schema"]
        assert doc["mode"] == mode and doc["hypothesis"] == hyp
        assert {"verified": 0, "refuted": 1, "inconclusive": 3}[doc["verdict"]] == code
        assert doc["provenance"]["replay"] == {"hypothesis": f"{HYP}:{hyp}", "network": NET, "alignment": None,
                                               "searched": False}
        keys = set(doc) if keys is None else keys
        assert set(doc) == keys
        # the saved report reads back into the same value, and renders the text that was printed
        assert to_text(report_from_dict(doc)) + "\n" == text
        again = runner.invoke(app, ["report", str(path)])
        assert again.exit_code == 0 and again.stdout == text


@pytest.mark.parametrize("mode", MODES)
def test_latex_and_markdown_show_each_mode_s_evidence(outputs, mode: str) -> None:
    """A table for a paper in every mode: named columns that every row fills, the counterexample in the caption."""
    _, _, path = outputs[(mode, "SwappedEquality")]
    tex = runner.invoke(app, ["report", str(path), "--format", "tex"])
    assert tex.exit_code == 0, tex.output
    spec = re.search(r"\\begin\{tabular\}\{(\w+)\}", tex.stdout).group(1)
    body = tex.stdout.split("\\midrule\n", 1)[1].split("\\bottomrule", 1)[0]
    rows = [line for line in body.splitlines() if line.endswith("\\\\")]
    head = tex.stdout.split("\\toprule\n", 1)[1].splitlines()[0]
    assert rows, tex.stdout
    for line in [head, *rows]:  # as many cells as columns, every cell filled
        cells = [c.strip() for c in line.removesuffix("\\\\").split("&")]
        assert len(cells) == len(spec) and all(cells[:1]), line
    assert "Counterexample: base w=" in tex.stdout
    md = runner.invoke(app, ["report", str(path), "--format", "md"]).stdout
    if mode in ("exhaustive", "sample"):
        assert "| unchanged pairs |" in md and re.search(r"\d,\d{3}", md)


def test_falsify_and_prove_fill_their_details(outputs) -> None:
    falsified = json.loads(outputs[("falsify", "SwappedEquality")][2].read_text())
    assert falsified["details"]["stop_reason"] == "counterexample" and falsified["details"]["examples_run"] >= 1
    assert falsified["counterexample"]["found_by"] == "falsify" and falsified["provenance"]["seed"] == 0
    nothing = json.loads(outputs[("falsify", "HierarchicalEquality")][2].read_text())
    assert nothing["verdict"] == "inconclusive" and nothing["counterexample"] is None
    assert nothing["details"]["max_examples"] == 300 and "not a proof" in nothing["reason"]
    proved = json.loads(outputs[("prove", "HierarchicalEquality")][2].read_text())
    assert proved["verdict"] == "verified" and [s["answer"] for s in proved["details"]["sets"]] == ["proved"] * 3
    refuted = json.loads(outputs[("prove", "SwappedEquality")][2].read_text())
    first = refuted["details"]["sets"][0]
    assert (first["variables"], first["answer"]) == ("left", "refuted") and first["method"] in ("z3", "enumeration")
    assert [s["answer"] for s in refuted["details"]["sets"][1:]] == ["not checked", "not checked"]
    # the printed counterexample names the method that found it
    assert f"counterexample (found by {first['method']}, replayed by the engine):" in outputs[("prove", "SwappedEquality")][1]


def _paste(line: str) -> subprocess.Popen[str]:
    """The replay line in a fresh interpreter, in the checkout (where its relative paths point)."""
    return subprocess.Popen([sys.executable, "-c", line], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_replay_line_of_every_mode_reproduces_its_disagreement_in_a_fresh_interpreter(outputs) -> None:
    runs = {}
    for mode in MODES:
        _, text, path = outputs[(mode, "SwappedEquality")]
        (line,) = [x.removeprefix("replay: ") for x in text.splitlines() if x.startswith("replay: ")]
        runs[mode] = (_paste(line), json.loads(path.read_text())["counterexample"])
    for mode, (proc, cx) in runs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, (mode, stderr)
        assert cx["expected"] != cx["observed"]
        # both sides print plain ints, the ones the report holds
        assert stdout == f"out: hypothesis {cx['expected']}, network {cx['observed']} (disagree)\n", mode


def test_report_renders_without_importing_torch(outputs) -> None:
    path = outputs[("exhaustive", "SwappedEquality")][2]
    code = (
        "import sys\nfrom causalabs.cli import app\n"
        f"try:\n    app(['report', {str(path)!r}])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print('torch imported:', 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("REFUTED: SwappedEquality")
    assert done.stdout.rstrip().endswith("torch imported: False")


def test_help_is_written_for_users() -> None:
    for command in ([], ["verify"], ["report"], ["models"], ["search"], ["scrub"], ["show"]):
        r = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
        assert r.exit_code == 0, r.output
        assert "<bool>" not in r.stdout and "``" not in r.stdout, r.stdout
        assert max(len(line) for line in r.stdout.splitlines()) <= 80
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "80"}).stdout
    assert "Exit status:" in top and "  1  refuted, and nothing else" in top
    verify = runner.invoke(app, ["verify", "--help"], env={"COLUMNS": "80"}).stdout
    assert re.search(r"--json FILE\s+also write the report here as JSON", verify)
    assert re.search(r"--seed N\s", verify)


@pytest.mark.parametrize("mode", ["falsify", "prove"])
def test_a_threshold_below_1_is_refused_where_a_mode_checks_only_the_exact_claim(mode: str) -> None:
    r = runner.invoke(app, ["verify", f"{ROOT}/{HYP}:SwappedEquality", "--network", f"{ROOT}/{NET}", "--mode", mode,
                            "--threshold", "0.9"], env={"COLUMNS": "200"})
    assert r.exit_code == 2 and r.stdout == ""
    assert f"--mode {mode} checks the exact claim (threshold 1)" in r.output
