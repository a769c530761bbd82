"""docs/examples/study.ipynb runs as written (nbclient, a fresh kernel) and shows what it says it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs/examples/study.ipynb"

nbformat = pytest.importorskip("nbformat", reason="the docs extra (pip install -e '.[docs]')")
nbclient = pytest.importorskip("nbclient", reason="the docs extra (pip install -e '.[docs]')")


def _outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts += [str(data.get(k, "")) for k in ("text/html", "text/plain", "image/svg+xml")]
    return "\n".join(parts)


@pytest.mark.slow
def test_the_study_notebook_runs_and_shows_its_results(tmp_path, monkeypatch):
    monkeypatch.setenv("CAUSALABS_STUDY_OUT", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")  # committed without outputs
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()  # raises on any cell's error
    shown = "\n".join(_outputs(c) for c in nb.cells if c.cell_type == "code")
    assert "hypothesis HierarchicalEquality" in shown  # the graph display of the hypothesis
    assert ">VERIFIED</span> HierarchicalEquality on heq_rotated" in shown
    assert "<th>source (left)</th>" in shown  # the twin's counterexample as a table
    assert "<SweepResult das for HierarchicalEquality" in shown and "causal scrubbing of HierarchicalEquality" in shown
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"{k}.{f}" for k in ("iia", "twin_iia", "sweep", "loss_recovered", "training")
                           for f in ("pdf", "png"))
