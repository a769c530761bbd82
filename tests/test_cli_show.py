"""``causalabs show path.py:Class``: prints the hypothesis (``show path.py`` lists the file's classes);
input errors exit 2 with one line, naming the classes the file has."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causalabs.cli import app

ROOT = Path(__file__).resolve().parents[1]
HE_FILE = ROOT / "hypotheses" / "hierarchical_equality.py"
runner = CliRunner()


def show(*args: str):
    return runner.invoke(app, ["show", *args])


def test_show_prints_graph_domains_and_mechanisms():
    result = show(f"{HE_FILE}:HierarchicalEquality")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("hypothesis HierarchicalEquality\n")
    for expected in (
        "in  w     in {0, 1, 2, 3} := input",
        "var left  in {0, 1}     := Eq(w, x)",
        "var right in {0, 1}     := Eq(y, z)",
        "out out   in {0, 1}     := Eq(left, right)",
        "graph:",
        "w, x -> left",
        "y, z -> right",
        "left, right -> out",
    ):
        assert expected in out
    assert result.stderr == ""


def test_show_latex():
    result = show(f"{HE_FILE}:LeftOnly", "--latex")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("\\begin{align*}")
    assert r"left &:= \left[w = x\right] && left \in \{0, 1\}" in result.stdout


@pytest.mark.parametrize(
    "name",
    ["addition.py:TwoDigitAddition", "addition.py:TensCarryAddition", "boolean_circuit.py:SwappedGates"],
)
def test_show_every_example_file(name):
    result = show(str(ROOT / "hypotheses" / name))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"hypothesis {name.split(':')[1]}\n")


def _one_error_line(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0]
    return lines[0]


def test_a_missing_file_is_one_error_line(tmp_path):
    missing = tmp_path / "nowhere.py"
    _one_error_line(show(f"{missing}:Thing"), "nowhere.py", "no such file")


HE_CLASSES = ("HierarchicalEquality", "LeftOnly", "CrossedEquality", "SwappedEquality", "LeftOnlySwapped")


def test_a_missing_class_is_one_error_line_listing_the_classes():
    line = _one_error_line(show(f"{HE_FILE}:NoSuchClass"), "hierarchical_equality.py", "NoSuchClass")
    assert line.endswith("(its hypothesis classes: " + ", ".join(HE_CLASSES) + ")")


def test_an_object_that_is_not_a_hypothesis_is_one_error_line():
    line = _one_error_line(show(f"{HE_FILE}:sp"), "not a causalabs.Hypothesis")
    assert "its hypothesis classes: HierarchicalEquality," in line


def test_a_file_without_a_class_name_lists_its_classes():
    result = show(str(HE_FILE))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{HE_FILE} defines 5 hypothesis classes:"
    assert [line.split()[0] for line in lines[1:]] == [f"{HE_FILE}:{c}" for c in HE_CLASSES]
    assert "out = (w == x) == (y == z)" in lines[1]  # the first line of the class' docstring


def test_a_file_with_no_hypothesis_class_is_one_error_line(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("import causalabs as ca\nX = 1\n")
    _one_error_line(show(str(plain)), "plain.py", "defines no causalabs.Hypothesis subclass")


def test_verify_with_a_file_but_no_class_lists_the_classes():
    r = runner.invoke(app, ["verify", str(HE_FILE), "--network", str(ROOT / "models/heq_handbuilt.py")])
    line = _one_error_line(r, "name the class as")
    assert "its hypothesis classes: " + ", ".join(HE_CLASSES) in line


def test_a_file_whose_hypothesis_is_malformed_is_one_error_line(tmp_path):
    bad = tmp_path / "bad_hyp.py"
    bad.write_text(
        "import causalabs as ca\n"
        "class Bad(ca.Hypothesis):\n"
        "    a = ca.input('a', domain=range(2))\n"
        "    out = ca.output(a + 5, domain=range(2))\n"
    )
    _one_error_line(show(f"{bad}:Bad"), "bad_hyp.py", "Bad.out", "produces [5, 6] outside the declared domain {0, 1}")


def test_the_installed_command():
    exe = shutil.which("causalabs") or str(Path(sys.executable).with_name("causalabs"))
    if not Path(exe).exists():
        pytest.skip("the causalabs command is not installed")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    ok = subprocess.run(
        [exe, "show", f"{HE_FILE}:HierarchicalEquality"],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )
    assert ok.returncode == 0, ok.stderr
    assert "var left  in {0, 1}     := Eq(w, x)" in ok.stdout
    assert "left, right -> out" in ok.stdout
    bad = subprocess.run(
        [exe, "show", "hypotheses/hierarchical_equality.py:Missing"],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.strip() == (
        "error: hypotheses/hierarchical_equality.py: has no 'Missing' (its hypothesis classes: "
        + ", ".join(HE_CLASSES) + ")"
    )
