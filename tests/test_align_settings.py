"""One default per training setting: every entry point of DAS and Boundless DAS reads causalabs.align.settings."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import attrs
import typer

from causalabs.align.boundless import fit_boundless
from causalabs.align.das import fit_das
from causalabs.align.find import Baseline, find_alignment, search_method
from causalabs.align.settings import BOUNDARY_LR, DAS_SETTINGS
from causalabs.align.sweep import DAS
from causalabs.cli import app
from causalabs.cli.search import run_search
from causalabs.cli.verify import SearchRequest

ROOT = Path(__file__).resolve().parent.parent
#: The settings a caller can choose, and where DAS_SETTINGS holds each.
KNOBS = {"lr": "lr", "epochs": "epochs", "patience": "patience", "batch_size": "batch_size", "holdout": "holdout",
         "min_delta": "min_delta"}


def _defaults(fn) -> dict[str, object]:
    params = inspect.signature(fn).parameters.items()
    return {k: p.default for k, p in params if k in KNOBS and p.default is not inspect.Parameter.empty}


def test_every_function_signature_takes_its_defaults_from_the_settings() -> None:
    expected = attrs.asdict(DAS_SETTINGS)
    seen = {
        "fit_das": _defaults(fit_das),
        "fit_boundless": _defaults(fit_boundless),
        "find_alignment": _defaults(find_alignment),
        "search_method": _defaults(search_method),
        "Baseline": _defaults(Baseline.__init__),
        "run_search": _defaults(run_search),
    }
    assert set(seen["fit_das"]) == set(KNOBS) and set(seen["fit_boundless"]) == set(KNOBS)
    for where, got in seen.items():
        assert got, where
        for k, v in got.items():
            assert v == expected[KNOBS[k]], (where, k, v)
    assert inspect.signature(fit_boundless).parameters["boundary_lr"].default == BOUNDARY_LR
    sweep_das = {f.name: f.default for f in attrs.fields(DAS) if f.name in KNOBS}
    request = {f.name: f.default for f in attrs.fields(SearchRequest) if f.name in KNOBS}
    for where, got in (("sweep DAS", sweep_das), ("SearchRequest", request)):
        assert set(got) == {"lr", "epochs", "patience"} | ({"batch_size"} if where == "sweep DAS" else set())
        assert all(v == expected[k] for k, v in got.items()), (where, got)


def test_the_command_line_options_default_to_the_settings() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in ("verify", "search"):
        options = {p.name: p.default for p in commands[name].params}
        assert options["epochs"] == DAS_SETTINGS.epochs, name
        assert options["lr"] == DAS_SETTINGS.lr, name
        assert options["patience"] == DAS_SETTINGS.patience, name


def test_no_module_spells_a_training_default_of_its_own() -> None:
    """In causalabs/align and causalabs/cli, a default for lr, epochs, patience, holdout or min_delta is a name, never a literal."""
    offenders = []
    files = [*(ROOT / "causalabs/align").glob("*.py"), *(ROOT / "causalabs/cli").glob("*.py")]
    for path in files:
        if path.name == "settings.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            pairs: list[tuple[str, ast.AST]] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                positional = args.posonlyargs + args.args
                pairs += zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults)
                pairs += [(a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                pairs.append((node.target.id, node.value))  # attrs fields
            for name, default in pairs:
                if name in ("lr", "epochs", "patience", "holdout", "min_delta", "boundary_lr"):
                    if isinstance(default, ast.Constant) and default.value is not None:
                        offenders.append(f"{path.name}:{default.lineno} {name}={default.value!r}")
                    if isinstance(default, ast.Call) and ast.unparse(default).startswith("typer.Option("):
                        first = default.args[0] if default.args else None
                        if isinstance(first, ast.Constant):
                            offenders.append(f"{path.name}:{default.lineno} {name} option default {first.value!r}")
    assert offenders == []


def test_the_settings_load_without_torch() -> None:
    code = "import sys, causalabs.align.settings, causalabs.cli.commands; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
