"""The command line on a tiny LM with a text template: sites by name, run options, literal error text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import _lm_tiny as tiny
from _cli import run
from causalabs.cli.exits import print_error
from causalabs.engine.collect import rows_per_pass_at_most

@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    folder = tmp_path_factory.mktemp("lm")
    hyp, net = tiny.write_files(folder)
    return hyp, net, folder


def test_search_at_named_positions_saves_alignments_that_verify(files: tuple[str, str, Path]) -> None:
    hyp, net, folder = files
    out = folder / "search"
    r = run("search", hyp, "--network", net, "--site", "model.layers.1[pos last],model.layers.0[pos slot:s]",
            "--samples", "32", "--epochs", "2", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "model.layers.1.output[pos last]" in r.stdout and "model.layers.0.output[pos slot:s]" in r.stdout
    saved = out / "alignments" / "model.layers.1.output_pos_last__io.json"
    assert json.loads(saved.read_text())["sites"]["io"]["positions"] == "last"
    v = run("verify", hyp, "--network", net, "--alignment", str(saved), "--mode", "sample", "--samples", "32")
    assert v.exit_code in (1, 3), v.output  # a random network: refuted or inconclusive, but it ran
    assert "model.layers.1.output[pos last]" in v.stdout


def test_a_head_is_refused_as_a_search_site_with_the_reason(files: tuple[str, str, Path]) -> None:
    hyp, net, folder = files
    r = run("search", hyp, "--network", net, "--site", "model.layers.1[head 1]", "--out", str(folder / "h"))
    assert r.exit_code == 2 and "a head is an interchange of fixed units" in r.stderr


def test_the_error_line_shows_the_site_with_its_brackets(files: tuple[str, str, Path]) -> None:
    hyp, net, folder = files
    r = run("search", hyp, "--network", net, "--site", "model.layers.9[pos -1]", "--out", str(folder / "x"))
    assert r.exit_code == 2
    assert "site 'model.layers.9[pos -1]'" in r.stderr and "no module 'model.layers.9'" in r.stderr


def test_the_error_printer_prints_markup_and_backslashes_literally(capsys: pytest.CaptureFixture[str]) -> None:
    print_error(r"error: site 'a[pos -1]' [bold]b[/] [/] c:\tmp\ and \[x] end\\")
    assert capsys.readouterr().err.strip() == r"error: site 'a[pos -1]' [bold]b[/] [/] c:\tmp\ and \[x] end\\"


@pytest.mark.parametrize("args,match", [
    (("--threads", "0"), "--threads 0"),
    (("--batch-size", "0"), "--batch-size 0"),
    (("--dtype", "int8"), "--dtype 'int8'"),
    (("--device", "nonsense"), "--device 'nonsense'"),
])
@pytest.mark.parametrize("command", ["verify", "search", "scrub"])
def test_bad_run_options_exit_2_naming_the_option(files: tuple[str, str, Path], command: str, args: tuple[str, ...],
                                                    match: str) -> None:
    hyp, net, folder = files
    extra = ("--site", "model.layers.1[pos last]", "--out", str(folder / "y")) if command == "search" else ()
    r = run(command, hyp, "--network", net, *extra, *args)
    assert r.exit_code == 2 and match in r.stderr, r.output


def test_batch_size_and_threads_change_the_pace_not_the_report(files: tuple[str, str, Path]) -> None:
    hyp, net, folder = files
    common = (hyp, "--network", net, "--mode", "sample", "--samples", "48", "--seed", "3")
    threads = torch.get_num_threads()
    a = run("verify", *common, "--json", str(folder / "a.json"))
    b = run("verify", *common, "--batch-size", "5", "--threads", "1", "--json", str(folder / "b.json"))
    assert a.exit_code == b.exit_code and a.exit_code in (1, 3), a.output
    assert torch.get_num_threads() == threads  # restored
    ra, rb = (json.loads((folder / f).read_text()) for f in ("a.json", "b.json"))
    for key in ("verdict", "iia", "per_variable", "counterexample", "statistics"):
        assert ra[key] == rb[key], key


def test_rows_per_pass_caps_every_forward_and_keeps_the_results() -> None:
    from causalabs.data import random_pairs
    from causalabs.engine import evaluate_pairs
    from causalabs.loading import load_module
    from causalabs.network import Alignment
    from causalabs.network.site_names import parse_site

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        hyp_ref, net_path = tiny.write_files(d)
        hyp = getattr(load_module(hyp_ref.split(":")[0]), "TinyIOI")
        net = load_module(net_path).load()
    al = Alignment({"io": parse_site("model.layers.1[pos last]", net)})
    ds = random_pairs(hyp, ["io"], 40, seed=1)
    sizes: list[int] = []
    h = net.module.register_forward_pre_hook(lambda m, a, k: sizes.append(int(k["input_ids"].shape[0])),
                                             with_kwargs=True)
    try:
        free = evaluate_pairs(net, al, ds)
        sizes.clear()
        with rows_per_pass_at_most(6):
            capped = evaluate_pairs(net, al, ds)
    finally:
        h.remove()
    assert sizes and max(sizes) <= 6
    assert np.array_equal(free.predicted, capped.predicted)
    np.testing.assert_allclose(free.prob_expected, capped.prob_expected, atol=1e-6)


def test_device_and_dtype_move_the_network(files: tuple[str, str, Path]) -> None:
    from causalabs.cli.run_options import load_network, run_options

    _, net, _ = files
    with run_options(device="cpu", dtype="float64"):
        loaded = load_network(net)
    assert next(loaded.module.parameters()).dtype == torch.float64 and loaded.device.type == "cpu"


def test_an_exhaustive_check_over_budget_is_refused_with_its_estimate(files: tuple[str, str, Path]) -> None:
    hyp, net, folder = files
    out = folder / "refused.json"
    r = run("verify", hyp, "--network", net, "--budget-seconds", "0.001", "--json", str(out))
    assert r.exit_code == 2, r.output
    err = r.stderr
    assert "exhaustive check of TinyIOI on tiny_lm" in err and "96 recording passes over 96 inputs" in err
    assert "patched passes" in err and "ms per input row (measured)" in err and "--budget-seconds 0.001" in err
    assert not out.exists() and r.stdout == ""


def test_a_sample_check_over_budget_suggests_the_samples_that_fit(files: tuple[str, str, Path]) -> None:
    hyp, net, _ = files
    r = run("verify", hyp, "--network", net, "--mode", "sample", "--samples", "100000", "--budget-seconds", "2")
    assert r.exit_code == 2 and "200,000 passes" in r.stderr and "--mode sample --samples" in r.stderr, r.output


def test_within_budget_the_check_runs(files: tuple[str, str, Path]) -> None:
    hyp, net, _ = files
    r = run("verify", hyp, "--network", net, "--mode", "sample", "--samples", "16", "--budget-seconds", "inf")
    assert r.exit_code in (1, 3) and "TinyIOI on tiny_lm" in r.stdout
    assert run("verify", hyp, "--network", net, "--budget-seconds", "0").exit_code == 2


def test_source_classes_are_estimated_from_a_sample(files: tuple[str, str, Path]) -> None:
    from causalabs.cli.budget import estimated_classes, sample_cost
    from causalabs.loading import load_module
    from causalabs.network.site_names import parse_site
    from causalabs.scm.semantics import model_of

    hyp_ref, net_path, _ = files
    model = model_of(getattr(load_module(hyp_ref.split(":")[0]), "TinyIOI"))
    net = load_module(net_path).load()
    # the first token is "When" in every prompt: one vector (up to the last bits, which padding moves), so the
    # classes are about io's 4 values, not the 96 inputs
    assert 4 <= estimated_classes(net, model, parse_site("model.layers.0[pos 0]", net), "io", 96) <= 12
    assert estimated_classes(net, model, parse_site("model.layers.1[pos last]", net), "io", 96) == 96
    cost = sample_cost(100, [("a",), ("b",), ("a", "b")], 0.01)
    assert cost.rows == 600 and abs(cost.seconds - 6.0) < 1e-9


def test_a_layer_by_position_grid_names_the_tokens_of_an_example(files: tuple[str, str, Path]) -> None:
    hyp, net, folder = files
    out = folder / "grid"
    r = run("search", hyp, "--network", net, "--layers", "0-1", "--positions", "last,slot:s", "--samples", "16",
            "--epochs", "1", "--out", str(out))
    assert r.exit_code == 0, r.output
    for layer in (0, 1):
        for p in ("last", "slot:s"):
            assert f"model.layers.{layer}.output[pos {p}]" in r.stdout
    assert "positions on the example prompt 'When " in r.stdout and "last = ' to'" in r.stdout
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("text,count,want", [
    ("20-23", 30, [20, 21, 22, 23]), ("0,12,24", 30, [0, 12, 24]), ("all", 3, [0, 1, 2]), ("-2--1", 30, [28, 29]),
])
def test_layer_ranges_parse(text: str, count: int, want: list[int]) -> None:
    from causalabs.cli.lm_sweep import parse_layers

    assert parse_layers(text, count) == want


@pytest.mark.parametrize("text", ["20-40", "x", ""])
def test_bad_layer_ranges_are_refused(text: str) -> None:
    from causalabs.cli.lm_sweep import parse_layers
    from causalabs.errors import LoadError

    with pytest.raises(LoadError, match="--layers"):
        parse_layers(text, 30)


def test_positions_need_layers(files: tuple[str, str, Path]) -> None:
    hyp, net, folder = files
    r = run("search", hyp, "--network", net, "--positions", "last", "--out", str(folder / "z"))
    assert r.exit_code == 2 and "--positions goes with --layers" in r.stderr


def test_scrub_resolves_position_names_of_the_network_files_alignment(files: tuple[str, str, Path]) -> None:
    hyp, net, _ = files
    r = run("scrub", hyp, "--network", net, "--n", "16", "--threads", "1")
    assert r.exit_code == 0, r.output
    assert "causal scrubbing of TinyIOI on tiny_lm" in r.stdout


@pytest.mark.parametrize("value,ok", [("last", True), ("slot:s:last", True), ("middle", False), ("3", False)])
def test_alignment_files_take_position_names_and_refuse_others(tmp_path: Path, value: str, ok: bool) -> None:
    from causalabs.align.store import load_alignment, save_alignment
    from causalabs.errors import AlignmentFileError
    from causalabs.network import Alignment, site

    path = tmp_path / "a.json"
    save_alignment(Alignment({"io": site("model.layers.1", positions="last")}), path)
    doc = json.loads(path.read_text())
    assert doc["sites"]["io"]["positions"] == "last"
    doc["sites"]["io"]["positions"] = value
    path.write_text(json.dumps(doc))
    if ok:
        assert load_alignment(path).sites["io"].positions.__name__ == value
    else:
        with pytest.raises(AlignmentFileError, match="positions"):
            load_alignment(path)
