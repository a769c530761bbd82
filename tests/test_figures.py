"""Paper figures: drawn from saved results by `causalabs plot` and in Python, byte-identical for the same JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import causalabs.figures as F
from causalabs.errors import FigureError
from tests._pages import make_results, run


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Path]:
    return make_results(tmp_path_factory.mktemp("results"))


@pytest.mark.parametrize("fmt", F.FORMATS)
@pytest.mark.parametrize("kind,key", [("iia", "refuted"), ("loss", "scrub"), ("grid", "sweep")])
def test_plot_regenerates_byte_identically(results, tmp_path, kind, key, fmt):
    a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    for out in (a, b):
        r = run("plot", str(results[key]), "--kind", kind, "--out", str(out))
        assert r.exit_code == 0, r.output
    assert a.read_bytes() == b.read_bytes()
    assert F.is_ours(a)
    data = a.read_bytes()
    assert b"CreationDate" not in data and b"<dc:date>" not in data  # no date that changes between runs
    if fmt == "pdf":
        assert data.startswith(b"%PDF")
    if fmt == "png":
        assert data.startswith(b"\x89PNG")


def test_python_api_matches_the_command_line(results, tmp_path):
    from causalabs.verification.report.figures import report_figure
    from causalabs.verification.report.io import load_report

    out = tmp_path / "cli.svg"
    assert run("plot", str(results["verified"]), "--kind", "iia", "--out", str(out)).exit_code == 0
    fig = report_figure(load_report(results["verified"]))
    assert F.to_bytes(fig, "svg") == out.read_bytes()
    F.save(fig, tmp_path / "api.pdf")
    assert F.is_ours(tmp_path / "api.pdf")


def test_sizes_are_one_and_two_columns():
    strata = {"changed": [(1.0, 0.9, 1.0)]}
    for width, inches in F.WIDTHS.items():
        fig = F.iia_intervals(["x"], strata, width=width)
        assert fig.get_size_inches()[0] == pytest.approx(inches)
    with pytest.raises(FigureError, match="width"):
        F.iia_intervals(["x"], strata, width="three")


def test_the_figure_draws_the_numbers_it_is_given():
    fig = F.iia_intervals(["a", "b"], {"changed": [(0.25, 0.2, 0.3), (math.nan,) * 3]}, threshold=0.9)
    ax = fig.axes[0]
    ys = np.concatenate([line.get_ydata() for line in ax.lines if len(line.get_ydata()) and line.get_linestyle() == "None"])
    assert 0.25 in ys and not np.isnan(ys).any()  # the NaN set is left blank, not drawn at 0
    assert any(line.get_ydata()[0] == 0.9 for line in ax.lines if line.get_linestyle() == "--")


def test_palette_is_okabe_ito_and_heatmaps_viridis():
    assert F.PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")
    fig = F.iia_grid({"x": np.eye(2)}, ["l0", "l1"], ["The", "cat"])
    assert fig.axes[0].images[0].get_cmap().name == "viridis"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["The", "cat"]


def test_token_labels_on_the_grid(results):
    import attrs

    from causalabs.align.display import read_records, sweep_figure

    sweep = read_records(results["sweep"])
    fig = sweep_figure(sweep)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["0", "2"]  # module paths as layers
    # the same records at token positions 0 and 1 of a template: columns read "position: token"
    moved = tuple(attrs.evolve(r, position=str(i % 2), module=f"block{i // 2}") for i, r in enumerate(sweep.records))
    fig = sweep_figure(attrs.evolve(sweep, records=moved), tokens=["The", "cat"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0: The", "1: cat"]


def test_training_curves_from_saved_alignments(tmp_path):
    doc = {"sites": {}, "featurizers": {}, "info": {"losses": [0.9, 0.5, 0.2]}}
    path = tmp_path / "align.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "curve.png"
    r = run("plot", str(path), "--kind", "training", "--out", str(out))
    assert r.exit_code == 0, r.output
    fig = F.training_curves({"align": [0.9, 0.5, 0.2]})
    assert list(fig.axes[0].lines[0].get_ydata()) == [0.9, 0.5, 0.2]
    assert F.to_bytes(fig, "png") == out.read_bytes()


def test_plot_refuses_bad_requests_and_foreign_files(results, tmp_path):
    foreign = tmp_path / "paper.pdf"
    foreign.write_bytes(b"%PDF-1.4 someone else's figure")
    r = run("plot", str(results["verified"]), "--kind", "iia", "--out", str(foreign))
    assert r.exit_code == 2 and "not written by causalabs" in r.output
    assert foreign.read_bytes() == b"%PDF-1.4 someone else's figure"
    r = run("plot", str(results["scrub"]), "--kind", "iia", "--out", str(tmp_path / "x.pdf"))
    assert r.exit_code == 2 and "is a scrub" in r.output and not (tmp_path / "x.pdf").exists()
    r = run("plot", str(results["verified"]), "--kind", "iia", "--out", str(tmp_path / "x.jpg"))
    assert r.exit_code == 2 and ".pdf, .svg or .png" in r.output
    r = run("plot", str(results["verified"]), "--kind", "pie", "--out", str(tmp_path / "x.pdf"))
    assert r.exit_code == 2 and "choose one of" in r.output
    r = run("plot", str(results["verified"]), "--kind", "iia", "--width", "three", "--out", str(tmp_path / "x.pdf"))
    assert r.exit_code == 2 and "width must be one of one, two" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paper.pdf"]  # nothing left behind


def test_causal_graph_layers_and_cycles():
    from causalabs.figures.graph import layers

    assert layers({"a": [], "b": [], "c": ["a", "b"], "d": ["c"]}) == [["a", "b"], ["c"], ["d"]]
    with pytest.raises(FigureError, match="cycle"):
        layers({"a": ["b"], "b": ["a"]})


def test_same_bytes_in_separate_processes_with_different_hash_seeds(results, tmp_path):
    """Two fresh interpreters (different PYTHONHASHSEED) write the same PDF, SVG and PNG for the same report."""
    import os
    import subprocess
    import sys

    outs = []
    for seed in ("1", "2"):
        folder = tmp_path / seed
        folder.mkdir()
        code = (
            "import sys, causalabs.figures as F\n"
            "from causalabs.verification.report.io import load_report\n"
            "from causalabs.verification.report.figures import report_figure\n"
            "fig = report_figure(load_report(sys.argv[1]))\n"
            "for f in F.FORMATS: F.save(fig, sys.argv[2] + '/fig.' + f)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code, str(results["refuted"]), str(folder)],
                              env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs.append({f: (folder / f"fig.{f}").read_bytes() for f in F.FORMATS})
    assert outs[0] == outs[1]
