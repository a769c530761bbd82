"""Saved results for the figure and page tests: a verified claim, its refuted twin, a scrub result, a sweep."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from causalabs.cli import app

ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
NET = str(ROOT / "models/heq_handbuilt.py")


def run(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})


def make_results(folder: Path) -> dict[str, Path]:
    """Write ``verified.json``, ``refuted.json``, ``scrub.json`` and a sweep folder ``search/`` into ``folder``."""
    out = {k: folder / f"{k}.json" for k in ("verified", "refuted", "scrub")}
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--json", str(out["verified"]))
    assert r.exit_code == 0, r.output
    r = run("verify", f"{HEQ}:SwappedEquality", "--network", NET, "--json", str(out["refuted"]))
    assert r.exit_code == 1, r.output
    r = run("scrub", f"{HEQ}:HierarchicalEquality", "--network", NET, "--n", "200", "--threshold", "0.9",
            "--json", str(out["scrub"]))
    assert r.exit_code == 0, r.output
    out["sweep"] = folder / "search"
    r = run("search", f"{HEQ}:HierarchicalEquality", "--network", NET, "--site", "0", "--site", "2",
            "--method", "pca", "--samples", "64", "--out", str(out["sweep"]))
    assert r.exit_code == 0, r.output
    return out
