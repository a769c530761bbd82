"""`causalabs report --format html`: one self-contained page per result; notebook displays of the values users hold."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests._pages import HEQ, make_results, run


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Path]:
    return make_results(tmp_path_factory.mktemp("results"))


def _page(results, key: str, tmp_path: Path) -> str:
    out = tmp_path / f"{key}.html"
    r = run("report", str(results[key]), "--format", "html", "--out", str(out))
    assert r.exit_code == 0, r.output
    return out.read_text()


def _self_contained(html: str) -> None:
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["'](https?:|//)""", html)  # nothing fetched from the network
    for uri in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html):
        svg = base64.b64decode(uri)
        assert svg.lstrip().startswith(b"<?xml") and b"</svg>" in svg


def test_verified_page(results, tmp_path):
    html = _page(results, "verified", tmp_path)
    _self_contained(html)
    assert ">VERIFIED</span> HierarchicalEquality on heq_handbuilt (exhaustive)" in html
    assert "threshold   1: every pair must agree" in html
    assert html.count("data:image/svg+xml;base64,") == 1
    assert "<td>left</td><td>changed</td><td class=\"num\">1.0000</td><td>exact</td>" in html
    assert "Counterexample" not in html


def test_refuted_twin_page_has_the_counterexample_and_replay(results, tmp_path):
    html = _page(results, "refuted", tmp_path)
    _self_contained(html)
    assert ">REFUTED</span> SwappedEquality" in html
    assert "<h2>Counterexample</h2>" in html and "ca.reproduce(" in html
    assert "output: hypothesis <b>0</b>, network <b>1</b>" in html


def test_scrub_and_sweep_pages(results, tmp_path):
    html = _page(results, "scrub", tmp_path)
    _self_contained(html)
    assert "VERIFIED at threshold 0.9" in html and "loss recovered" in html
    html = _page(results, "sweep", tmp_path)
    _self_contained(html)
    assert "alignment sweep: pca" in html and "<td>2.output</td>" in html


def test_html_to_stdout_and_out_only_for_html(results, tmp_path):
    r = run("report", str(results["verified"]), "--format", "html")
    assert r.exit_code == 0 and r.output.startswith("<!DOCTYPE html>")
    out = tmp_path / "r.md"
    r = run("report", str(results["verified"]), "--format", "md", "--out", str(out))
    assert r.exit_code == 2 and "--out goes with --format html" in r.output and not out.exists()


def test_the_page_is_written_only_over_its_own_files(results, tmp_path):
    out = tmp_path / "notes.html"
    out.write_text("<p>my notes</p>")
    r = run("report", str(results["verified"]), "--format", "html", "--out", str(out))
    assert r.exit_code == 2 and "not written by causalabs" in r.output
    assert out.read_text() == "<p>my notes</p>"
    r = run("report", str(results["verified"]), "--format", "html", "--out", str(results["verified"]))
    assert r.exit_code == 2 and "is the result file" in r.output
    page = tmp_path / "page.html"
    for key in ("verified", "refuted"):  # a page causalabs wrote is replaced
        assert run("report", str(results[key]), "--format", "html", "--out", str(page)).exit_code == 0
    assert "REFUTED" in page.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.html", "page.html"]  # no temporary left


def test_an_edited_report_gets_no_page(results, tmp_path):
    edited = tmp_path / "edited.json"
    edited.write_text(results["refuted"].read_text().replace('"refuted"', '"verified"', 1))
    r = run("report", str(edited), "--format", "html", "--out", str(tmp_path / "x.html"))
    assert r.exit_code == 2 and "changed after it was written" in r.output
    assert not (tmp_path / "x.html").exists()


def test_notebook_displays(results):
    import causalabs as ca
    from causalabs.align.display import read_records
    from causalabs.loading import load_hypothesis
    from causalabs.verification.report.io import load_report

    refuted = load_report(results["refuted"])
    assert repr(refuted) == (
        "<Report refuted: SwappedEquality on heq_handbuilt (exhaustive); " + refuted.reason + ">"
    )
    html = refuted._repr_html_()
    assert html.startswith('<div class="causalabs-fragment">') and "REFUTED" in html and "<h3>" in html
    assert "w=0, x=0, y=0, z=1" in refuted.counterexample._repr_html_()
    sweep = read_records(results["sweep"])
    assert repr(sweep).startswith("<SweepResult pca: 6 records; best IIA")
    assert "data:image/svg+xml" in sweep._repr_html_()
    model = ca.model_of(load_hypothesis(f"{HEQ}:HierarchicalEquality"))
    html = model._repr_html_()
    assert "hypothesis HierarchicalEquality" in html and "data:image/svg+xml" in html and "<td>internal</td>" in html


def test_scrub_result_display():
    import numpy as np

    from causalabs.scrub.result import summarize

    rng = np.random.default_rng(0)
    ok = np.ones(50, dtype=bool)
    r = summarize(hypothesis="H", correspondence="H: a -> m", seed=0,
                  scrubbed=(rng.random(50) * 0.1, ok), original=(rng.random(50) * 0.1, ok),
                  random=(1 + rng.random(50), ok), passes=1, dropped=0, confidence=0.95, bootstrap=200)
    assert repr(r).startswith("<ScrubResult H: loss recovered ") and repr(r).endswith("n=50, seed=0>")
    html = r._repr_html_()
    assert "causal scrubbing of H" in html and f"{r.loss_recovered.value:.4f}" in html


def test_falsify_report_page_has_no_iia_figure_but_its_search(tmp_path):
    from tests._pages import NET

    rep = tmp_path / "falsify.json"
    r = run("verify", f"{HEQ}:SwappedEquality", "--network", NET, "--mode", "falsify", "--json", str(rep))
    assert r.exit_code == 1, r.output
    out = tmp_path / "falsify.html"
    assert run("report", str(rep), "--format", "html", "--out", str(out)).exit_code == 0
    html = out.read_text()
    _self_contained(html)
    assert "data:image" not in html and "a seeded search for one disagreeing pair" in html
    assert "<h2>Counterexample</h2>" in html and "shrunk" in html
    r = run("plot", str(rep), "--kind", "iia", "--out", str(tmp_path / "x.pdf"))
    assert r.exit_code == 2 and "has no IIA per variable set" in r.output


def test_results_that_are_none_of_ours_are_refused(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    r = run("report", str(other), "--format", "html")
    assert r.exit_code == 2 and "not a causalabs result" in r.output
    r = run("report", str(tmp_path / "missing.json"), "--format", "html")
    assert r.exit_code == 2 and "no such result file" in r.output


def test_sample_report_page_shows_its_bounds_and_stays_inconclusive(tmp_path):
    from tests._pages import NET

    rep = tmp_path / "sample.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample", "--samples", "200",
            "--json", str(rep))
    assert r.exit_code == 3, r.output
    out = tmp_path / "sample.html"
    assert run("report", str(rep), "--format", "html", "--out", str(out)).exit_code == 0
    html = out.read_text()
    assert ">INCONCLUSIVE</span> HierarchicalEquality" in html and "VERIFIED" not in html
    assert "bounds on each stratum: lower at 95%" in html
    assert re.search(r"<td>changed</td><td class=\"num\">1\.0000</td><td>\[0\.\d{4}, 1\.0000\]</td>", html)
