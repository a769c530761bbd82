"""``causalabs models [FOLDER]``: lists the organisms found, and what discovery skips and why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causalabs.cli import app
from causalabs.organisms import find_organisms

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
HANDBUILT = {
    # name: (parameters, correct hypothesis, a wrong one, a site of the known alignment)
    "heq_handbuilt": ("232", "HierarchicalEquality", "SwappedEquality", "left -> 2.output<units [0]>"),
    "heq_rotated": ("232", "HierarchicalEquality", "SwappedEquality", "left -> 2.output<Rotation[0:1]>"),
    "boolean_circuit": ("71", "BooleanCircuit", "SwappedGates", "g2 -> 2.output<units [1]>"),
    "boolean_circuit_rotated": ("71", "BooleanCircuit", "SwappedGates", "g2 -> 2.output<Rotation[1:2]>"),
    "addition_handbuilt": ("2,004", "TwoDigitAddition", "TensCarryAddition", "carry -> 2.output<units [0]>"),
    "addition_rotated": ("2,004", "TwoDigitAddition", "TensCarryAddition", "carry -> 2.output<Rotation[0:1]>"),
}
runner = CliRunner()
WIDE = {"COLUMNS": "400"}  # one table row per organism line, nothing folded


def rows(output: str) -> dict[str, str]:
    """Table rows by organism name (the first cell); a row's text spans its wrapped lines."""
    out: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        if not line.startswith("│"):
            current = None
            continue
        first = line.split("│")[1].strip()
        if first:
            current = first
            out[current] = line
        elif current is not None:
            out[current] += "\n" + line
    return {k: v for k, v in out.items() if k in HANDBUILT}


def test_lists_every_handbuilt_organism_with_size_accuracy_and_hypotheses() -> None:
    result = runner.invoke(app, ["models", str(MODELS)], env=WIDE)
    assert result.exit_code == 0, result.output
    found = rows(result.stdout)
    assert set(HANDBUILT) <= set(found)
    for name, (params, correct, wrong, aligned) in HANDBUILT.items():
        line = found[name]
        cells = [c.strip() for c in line.splitlines()[0].strip("│ ").split("│")]
        assert params in cells, line
        assert "1.0000" in cells, line
        assert correct in line and wrong in line, line
        assert aligned in line, line


def test_default_folder_is_models_in_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["models"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert set(HANDBUILT) <= set(rows(result.stdout))


def two_organisms(tmp_path: Path) -> Path:
    """A folder with two small organisms (boolean_circuit, heq_handbuilt) and their weights."""
    folder = tmp_path / "organisms"
    (folder / "weights").mkdir(parents=True)
    for name in ("_organism", "boolean_circuit", "heq_handbuilt"):
        shutil.copy(MODELS / f"{name}.py", folder)
    for name in ("boolean_circuit", "heq_handbuilt"):
        shutil.copy(MODELS / "weights" / f"{name}.safetensors", folder / "weights")
    return folder


def test_measure_recomputes_accuracy_over_the_whole_domain(tmp_path: Path) -> None:
    folder = two_organisms(tmp_path)
    result = runner.invoke(app, ["models", str(folder), "--measure"], env=WIDE)
    assert result.exit_code == 0, result.output
    found = rows(result.stdout)
    assert set(found) == {"boolean_circuit", "heq_handbuilt"}
    assert "1.0000 (16/16)" in found["boolean_circuit"]
    assert "1.0000 (256/256)" in found["heq_handbuilt"], result.stderr


def test_json_lists_the_same_catalogue_for_machines(tmp_path: Path) -> None:
    import json

    folder = two_organisms(tmp_path)
    result = runner.invoke(app, ["models", str(folder), "--json", "--measure"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    entries = {e["organism"]: e for e in json.loads(result.stdout)}  # the whole stdout is JSON, at any width
    assert set(entries) == {"boolean_circuit", "heq_handbuilt"}
    heq = entries["heq_handbuilt"]
    assert heq["parameters"] == 232 and heq["accuracy"] == 1.0
    assert heq["measured_accuracy"] == {"value": 1.0, "successes": 256, "n": 256}
    assert heq["hypothesis"].endswith(":HierarchicalEquality") and heq["wrong"][0].endswith(":SwappedEquality")
    assert heq["alignment"]["left"] == "2.output<units [0]>"


def test_a_missing_folder_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["models", str(missing)], env=WIDE)
    assert result.exit_code == 2
    assert "nowhere" in result.stderr and "no such folder" in result.stderr
    assert result.stdout == ""


NOT_AN_ORGANISM = '''
from causalabs.network import Network
def load():
    raise RuntimeError("must not be called: no TASK")
'''
BROKEN = "TASK = 'x'\ndef load(:\n"
NO_METADATA = '''
import torch
from causalabs.network import Network, argmax_decoder
TASK = "identity"
def load():
    return Network(torch.nn.Linear(2, 2), lambda b: torch.zeros(len(b["a"]), 2), argmax_decoder())
'''
BAD_METADATA = '''
import torch
from causalabs.network import Network, argmax_decoder
TASK = "identity"
def load():
    info = {"task": TASK, "hypothesis": "hypotheses/boolean_circuit.py:BooleanCircuit", "accuracy": 2}
    return Network(torch.nn.Linear(2, 2), lambda b: torch.zeros(len(b["a"]), 2), argmax_decoder(), info=info)
'''


def write_folder(folder: Path) -> None:
    folder.mkdir()
    (folder / "plain_network.py").write_text(NOT_AN_ORGANISM)
    (folder / "broken.py").write_text(BROKEN)
    (folder / "no_metadata.py").write_text(NO_METADATA)
    (folder / "bad_metadata.py").write_text(BAD_METADATA)
    (folder / "notes.py").write_text("X = 1\n")
    (folder / "_helper.py").write_text("raise RuntimeError('helpers are never imported')\n")


def test_discovery_skips_non_organisms_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write_folder(folder)
    catalogue = find_organisms(folder)
    assert catalogue.organisms == ()
    reasons = {p.name: r for p, r in catalogue.skipped}
    assert set(reasons) == {"plain_network.py", "broken.py", "no_metadata.py", "bad_metadata.py", "notes.py"}
    assert "TASK" in reasons["plain_network.py"]
    assert "cannot be parsed" in reasons["broken.py"]
    assert "without organism metadata" in reasons["no_metadata.py"]
    assert "accuracy" in reasons["bad_metadata.py"]
    assert "no load()" in reasons["notes.py"]


def test_a_folder_without_organisms_says_so_and_lists_what_it_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write_folder(folder)
    result = runner.invoke(app, ["models", str(folder)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"no organisms in {folder}" in result.stderr
    assert "skipped" in result.stderr and "broken.py" in result.stderr
    assert "_helper.py" not in result.stderr


def test_models_lists_subfolders_and_keeps_bracketed_site_names() -> None:
    result = runner.invoke(app, ["models", str(MODELS)], env=WIDE)
    assert result.exit_code == 0, result.output
    first_cells = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│")}
    assert {"tracr_reverse", "tracr_sort", "heq_trained"} <= set(first_cells)
    # tracr sites carry positions, written "[pos 1,2,3,4]": shown as text, not eaten as markup
    assert "[pos 1,2,3,4]" in first_cells["tracr_reverse"]


def test_at_80_columns_each_organism_is_a_block_with_whole_words() -> None:
    """A pipe or a narrow terminal: one block per organism, nothing cut or broken inside a word."""
    result = runner.invoke(app, ["models", str(MODELS)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout and "│" not in result.stdout
    catalogue = find_organisms(MODELS)
    words = result.stdout.split()

    def whole(phrase: str) -> bool:  # wrapped at spaces only: its words appear whole and in order
        parts = phrase.split()
        return any(words[i : i + len(parts)] == parts for i, w in enumerate(words) if w == parts[0])

    for org in catalogue.organisms:
        assert any(line.startswith(f"{org.name}  (") for line in lines), org.name
        assert whole(org.info.task), org.info.task
        for v, s in org.info.alignment.items():
            assert whole(f"{v} -> {s}"), (v, s)
    assert len(lines) < 12 * len(catalogue.organisms)
