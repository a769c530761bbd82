"""``--metric`` on ``verify`` and ``search``: printed, in the JSON and the rendered reports, never the verdict; the
default output unchanged; a decode() without logits refused naming the network file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import _lm_tiny as tiny
from _cli import run

ROOT = Path(__file__).resolve().parents[1]
HEQ = str(ROOT / "hypotheses/hierarchical_equality.py")
NET = str(ROOT / "models/heq_handbuilt.py")
TESTS = str(Path(__file__).resolve().parent)

NO_LOGITS = f'''
import sys

sys.path.insert(0, {TESTS!r})
from _nets import heq_encode, heq_module

from causalabs.network import Alignment, Network, site
from causalabs.network.decoded import Decoded


def alignment():
    return Alignment({{"left": site("2", units=[0]), "right": site("2", units=[1])}})


def load():
    return Network(heq_module(), heq_encode, lambda out: Decoded(out.argmax(-1)), name="no_logits")
'''


def _without_metric_lines(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("metric "))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("  "))
    return "\n".join(lines[: start - 1] + lines[end:]) + "\n"  # the blank line before the section too


@pytest.mark.parametrize("mode", ["sample", "exhaustive"])
def test_verify_prints_the_metric_beside_an_unchanged_verdict(tmp_path: Path, mode: str) -> None:
    args = ("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", mode, "--samples", "60")
    plain = run(*args, "--json", str(tmp_path / "plain.json"))
    with_metric = run(*args, "--metric", "logit-diff", "--json", str(tmp_path / "m.json"))
    assert plain.exit_code == with_metric.exit_code and plain.exit_code in (0, 3), plain.output
    assert "\nmetric logit-diff" in with_metric.stdout and "\nmetric " not in plain.stdout
    assert "  left: patched " in with_metric.stdout and "unpatched " in with_metric.stdout
    assert _without_metric_lines(with_metric.stdout) == plain.stdout
    doc, base = (json.loads((tmp_path / f).read_text()) for f in ("m.json", "plain.json"))
    assert "metrics" not in base and doc["schema"] == base["schema"] == "causalabs.report/3"
    section = doc["metrics"]
    assert section["metric"] == "logit-diff" and section["order"] == ["left", "right", "left+right"]
    left = section["per_variable"]["left"]
    assert left["patched"]["n"] + left["excluded"] == left["pairs"] and left["patched"]["lo"] <= left["patched"]["value"]
    assert ("sample mode checked" in section["pairs"]) == (mode == "sample")
    for key in ("verdict", "iia", "per_variable", "counterexample"):
        assert doc[key] == base[key]


def test_the_metric_section_renders_in_markdown_and_html(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, "--mode", "sample", "--samples", "40",
            "--metric", "prob", "--json", str(out))
    assert r.exit_code == 3, r.output
    md = run("report", str(out), "--format", "md")
    assert md.exit_code == 0 and "Metric prob: probability of the expected answer" in md.stdout
    assert "| variables | prob patched | unpatched | shift | pairs |" in md.stdout
    page = run("report", str(out), "--format", "html")
    assert page.exit_code == 0 and "<h2>Metric: prob</h2>" in page.stdout
    text = run("report", str(out))
    assert text.exit_code == 0 and "metric prob" in text.stdout


def test_a_decode_without_logits_is_refused_naming_the_network_file_and_the_metric(tmp_path: Path) -> None:
    net = tmp_path / "no_logits.py"
    net.write_text(NO_LOGITS)
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", str(net), "--mode", "sample", "--samples", "20",
            "--metric", "logit-diff", "--json", str(tmp_path / "r.json"))
    assert r.exit_code == 2, r.output
    assert str(net) in r.stderr and "--metric logit-diff" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()
    plain = run("verify", f"{HEQ}:HierarchicalEquality", "--network", str(net), "--mode", "sample", "--samples", "20")
    assert plain.exit_code == 3, plain.output  # the default needs no logits


@pytest.mark.parametrize("args,match", [
    (("--metric", "kl"), "--metric 'kl'"),
    (("--metric", "prob", "--mode", "falsify"), "not falsify"),
])
def test_bad_metric_options_are_usage_errors(args: tuple[str, ...], match: str) -> None:
    r = run("verify", f"{HEQ}:HierarchicalEquality", "--network", NET, *args)
    assert r.exit_code == 2 and match in r.stderr


def test_search_ranks_and_draws_the_heatmap_by_the_metric(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    titles: list[str] = []
    original = Figure.suptitle

    def record(self: Any, t: str, **kw: Any) -> Any:
        titles.append(t)
        return original(self, t, **kw)

    monkeypatch.setattr(Figure, "suptitle", record)
    hyp, net = tiny.write_files(tmp_path, family="gpt2")
    out = tmp_path / "s"
    r = run("search", hyp, "--network", net, "--site", "transformer.h.1[pos last],transformer.h.0[pos last]",
            "--samples", "24", "--epochs", "2", "--metric", "logit-diff", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "held-out logit-diff, best first: TinyIOI on tiny_lm" in r.stdout
    assert titles and "logit-diff" in titles[-1]
    lines = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert [x["site"] for x in lines] == ["transformer.h.1.output[pos last]", "transformer.h.0.output[pos last]"]
    assert all(x["metric"]["metric"] == "logit-diff" and x["metric"]["patched"]["n"] > 0 for x in lines)
    table = r.stdout[r.stdout.index("best first"):].splitlines()
    rows = [next(line for line in table if s in line) for s in ("h.1.output", "h.0.output")]
    values = {x["site"]: x["metric"]["patched"]["value"] for x in lines}
    first = max(values, key=values.__getitem__)  # ranked best first
    assert table.index(rows[0] if "h.1" in first else rows[1]) < table.index(rows[1] if "h.1" in first else rows[0])
    assert (out / "heatmap.png").is_file()
    again = run("search", hyp, "--network", net, "--site", "transformer.h.1[pos last],transformer.h.0[pos last]",
                "--samples", "24", "--epochs", "2", "--metric", "logit-diff", "--out", str(out))
    assert again.exit_code == 0 and "0 site(s) fitted, 2 resumed" in again.stdout  # the metric is resumed too
    assert [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()] == lines
    plain = run("search", hyp, "--network", net, "--site", "transformer.h.1[pos last]", "--samples", "24",
                "--epochs", "2", "--out", str(out))  # without --metric: a new fingerprint, no metric in the records
    assert plain.exit_code == 0 and "1 site(s) fitted" in plain.stdout and "logit-diff" not in plain.stdout
    assert all("metric" not in json.loads(x) for x in (out / "records.jsonl").read_text().splitlines())
