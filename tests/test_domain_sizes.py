"""Large domains are counted, not built: ``range`` domains stay lazy, exhaustive checks refuse before enumerating.

Memory is checked with tracemalloc (numpy reports its buffers to it): a
domain of thirty million values as an int64 array would take 240 MB, as
Python ints far more; the bounds below are a small fraction of that.
"""

from __future__ import annotations

import itertools
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch
from typer.testing import CliRunner

import causalabs as ca
from causalabs.cli import app
from causalabs.data.spaces import InputSpace
from causalabs.errors import DomainDefinitionError, DomainTooLargeError, ValueOutOfDomainError
from causalabs.network import Alignment, argmax_decoder, site
from causalabs.organisms import load_organism
from causalabs.scm.domains import MAX_LISTED_DOMAIN, contains, domain_key, index_of, values_at
from causalabs.scm.render import format_domain, latex_domain, render_text
from causalabs.scm.semantics import enumerate_rows
from causalabs.verification import exhaustive
from causalabs.verification.exhaustive import MAX_RUNS, count_source_classes, source_classes

ROOT = Path(__file__).resolve().parents[1]
BIG = 3 * 10**7
MB = 1 << 20


def _peak(fn):
    """Run ``fn``; return (its result or the exception it raised, peak traced bytes)."""
    tracemalloc.start()
    try:
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - returned to the caller, which asserts on it
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _big_hypothesis():
    class Big(ca.Hypothesis):
        a = ca.input("a", domain=range(BIG))
        b = ca.input("b", domain=range(0, 2 * BIG, 2))
        out = ca.output(sp.Mod(a + b, 2), domain=(0, 1))

    return Big


def test_a_large_range_domain_is_never_built():
    hyp, peak = _peak(_big_hypothesis)
    assert not isinstance(hyp, Exception), hyp
    model = ca.model_of(hyp)
    a, b = model.variables["a"].domain, model.variables["b"].domain
    assert isinstance(a, range) and isinstance(b, range)  # kept lazy
    assert len(a) == BIG and model.input_space_size == BIG * BIG  # counted arithmetically
    assert peak < 40 * MB, f"defining the hypothesis traced {peak / MB:.0f} MB"
    text, peak = _peak(lambda: render_text(hyp))
    assert "in {0..29999999}" in text and "{0, 2, ..., 59999998}" in text
    assert peak < 5 * MB


def test_large_range_domains_draw_run_and_check_without_enumerating():
    hyp = _big_hypothesis()
    model = ca.model_of(hyp)

    def work():
        rows = InputSpace(model).draw(np.random.default_rng(0), 1000)
        values = ca.run(hyp, rows)
        assert contains(model.variables["b"].domain, rows["b"]).all()
        np.testing.assert_array_equal(values["out"], (rows["a"] + rows["b"]) % 2)
        with pytest.raises(ValueOutOfDomainError, match=r"Big\.b: value 3 is outside"):
            ca.run(hyp, {"a": [0], "b": [3]})  # odd: between two values of the stepped range
        last = enumerate_rows(hyp, BIG * BIG - 2, BIG * BIG)
        assert last["a"].tolist() == [BIG - 1, BIG - 1] and last["b"].tolist() == [2 * BIG - 4, 2 * BIG - 2]
        np.testing.assert_array_equal(model.domain_index("b", last["b"]), [BIG - 2, BIG - 1])

    out, peak = _peak(work)
    assert out is None, out
    assert peak < 20 * MB


def test_an_exhaustive_enumeration_of_a_large_space_is_refused_by_counting():
    hyp = _big_hypothesis()
    out, peak = _peak(lambda: ca.enumerate_inputs(hyp))
    assert isinstance(out, DomainTooLargeError) and "900,000,000,000,000 assignments" in str(out)
    assert peak < 5 * MB


def test_a_listed_domain_is_read_up_to_a_bound():
    with pytest.raises(DomainDefinitionError, match=r"Endless\.a: .*at most 1,000,000 values.*range\(start, stop"):

        class Endless(ca.Hypothesis):
            a = ca.input("a", domain=itertools.count())  # no end: read only up to the bound
            out = ca.output(sp.Mod(a, 2), domain=(0, 1))

    class Listed(ca.Hypothesis):
        a = ca.input("a", domain=list(range(MAX_LISTED_DOMAIN)))
        out = ca.output(sp.Mod(a, 2), domain=(0, 1))

    assert ca.model_of(Listed).variables["a"].domain == tuple(range(MAX_LISTED_DOMAIN))


def test_domains_compare_by_their_values_whatever_their_form():
    assert domain_key(range(4)) == domain_key((0, 1, 2, 3))
    assert domain_key(range(0, 10**7, 5)) == domain_key(range(0, 10**7 - 4, 5))
    assert domain_key(range(3, 4)) == domain_key((3,)) == domain_key(range(3, 4, 7))
    assert domain_key((0, 2, 3)) != domain_key(range(0, 4))
    r, t = range(5, 50, 3), tuple(range(5, 50, 3))
    idx = np.array([0, 4, 14])
    np.testing.assert_array_equal(values_at(r, idx), values_at(t, idx))
    np.testing.assert_array_equal(index_of(r, values_at(r, idx)), index_of(t, values_at(t, idx)))
    probe = np.arange(0, 60)
    np.testing.assert_array_equal(contains(r, probe), contains(t, probe))
    assert format_domain(range(0, 10**8, 5)) == "{0, 5, ..., 99999995}"
    assert format_domain(tuple(range(0, 100, 3))) == "{0, 3, 6, ... (34 values) ..., 99}"
    assert latex_domain(range(0, 10**8, 5)) == r"\{0, 5, \ldots, 99999995\}"


def test_enumerate_rows_streams_the_order_of_enumerate_inputs():
    class Mixed(ca.Hypothesis):
        a = ca.input("a", domain=(0, 3, 8))
        b, c = ca.inputs("b c", domain=range(-2, 3))
        out = ca.output(a + b + c)

    full = ca.enumerate_inputs(Mixed)
    n = len(full["a"])
    parts = [enumerate_rows(Mixed, s, min(n, s + 7)) for s in range(0, n, 7)]
    for k in full:
        np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), full[k])


# --- exhaustive run counts -------------------------------------------------------------


class Heq71(ca.Hypothesis):
    """Hierarchical equality over 71 objects: 71**4 = 25,411,681 inputs."""

    w, x, y, z = ca.inputs("w x y z", domain=range(71))
    left = ca.var(sp.Eq(w, x))
    right = ca.var(sp.Eq(y, z))
    out = ca.output(sp.Eq(left, right))


def _encode(batch):
    return torch.from_numpy(np.stack([np.asarray(batch[k]) for k in "wxyz"], axis=1).astype(np.float32))


def _net71() -> ca.Network:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    return ca.Network(module, _encode, argmax_decoder((0, 1)), name="net71")


ALIGN71 = Alignment({"left": site("0", units=[0]), "right": site("0", units=[1])})


def test_an_exhaustive_check_too_large_is_refused_while_streaming(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the whole input space was enumerated")

    monkeypatch.setattr(exhaustive, "enumerate_inputs", never)
    monkeypatch.setattr("causalabs.verification.pipeline.all_inputs", never)
    net = _net71()
    out, peak = _peak(lambda: ca.verify(Heq71, net, ALIGN71, mode="exhaustive"))
    assert isinstance(out, DomainTooLargeError), out
    assert str(out).startswith("Heq71: an exhaustive check of left needs at least")
    assert f"MAX_RUNS = {MAX_RUNS:,}" in str(out) and "mode='sample'" in str(out)
    # the 25.4M inputs as four int64 columns would take 813 MB
    assert peak < 60 * MB, f"the refusal traced {peak / MB:.0f} MB"


def test_a_space_larger_than_the_run_limit_is_refused_before_the_network_runs():
    class Wide(ca.Hypothesis):
        w, x, y, z = ca.inputs("w x y z", domain=range(101))  # 104,060,401 inputs > MAX_RUNS
        left = ca.var(sp.Eq(w, x))
        out = ca.output(sp.Eq(left, sp.Eq(y, z)))

    def refuse(batch):
        raise AssertionError("the network ran")

    net = _net71()
    net = ca.Network(net.module, refuse, net.decode, name="net")
    with pytest.raises(DomainTooLargeError, match=r"Wide: an exhaustive check of left needs at least 104,060,401 runs"):
        ca.verify(Wide, net, Alignment({"left": site("0", units=[0])}), mode="exhaustive")


def test_streamed_source_classes_equal_the_classes_over_every_input():
    org = load_organism(ROOT / "models/heq_rotated.py")
    model = ca.model_of(org.hypothesis())
    al = org.alignment()
    inputs = ca.enumerate_inputs(model)
    streamed = count_source_classes(org.network, model, al.sites, [("left", "right")], batch_size=16, chunk=64)
    for v in ("left", "right"):
        whole = source_classes(org.network, model, al.sites[v], v, inputs, batch_size=16)
        np.testing.assert_array_equal(streamed[v].representative, whole.representative)
        np.testing.assert_array_equal(streamed[v].size, whole.size)
        assert streamed[v].size.sum() == 256


def test_cli_exhaustive_refusal_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "h.py").write_text(textwrap.dedent('''
        import sympy as sp
        import causalabs as ca

        class Heq71(ca.Hypothesis):
            w, x, y, z = ca.inputs("w x y z", domain=range(71))
            left = ca.var(sp.Eq(w, x))
            right = ca.var(sp.Eq(y, z))
            out = ca.output(sp.Eq(left, right))
    '''))
    (tmp_path / "net.py").write_text(textwrap.dedent('''
        import numpy as np
        import torch
        from causalabs.network import Alignment, Network, argmax_decoder, site

        def encode(batch):
            return torch.from_numpy(np.stack([np.asarray(batch[k]) for k in "wxyz"], axis=1).astype(np.float32))

        def alignment():
            return Alignment({"left": site("0", units=[0]), "right": site("0", units=[1])})

        def load():
            torch.manual_seed(0)
            module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
            return Network(module, encode, argmax_decoder((0, 1)), name="net71")
    '''))
    before = sorted(p.name for p in tmp_path.iterdir())
    r = CliRunner().invoke(app, ["verify", f"{tmp_path}/h.py:Heq71", "--network", str(tmp_path / "net.py"),
                                 "--json", str(tmp_path / "report.json")], env={"COLUMNS": "300"})
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Heq71: an exhaustive check of left needs at least" in lines[0], r.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == before


def test_cli_show_renders_a_thirty_million_value_domain_without_building_it(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text(textwrap.dedent('''
        import sympy as sp
        import causalabs as ca

        class Big(ca.Hypothesis):
            a = ca.input("a", domain=range(3 * 10**7))
            out = ca.output(sp.Mod(a, 2), domain=(0, 1))
    '''))
    r, peak = _peak(lambda: CliRunner().invoke(app, ["show", f"{tmp_path}/big.py:Big"], env={"COLUMNS": "200"}))
    assert r.exit_code == 0, r.output
    assert "in  a   in {0..29999999}" in r.output
    assert peak < 40 * MB, f"show traced {peak / MB:.0f} MB"  # the domain as a list: over 1 GB


def test_falsify_draws_from_a_large_range_without_building_it():
    """falsify draws each input as a position in its domain and maps positions to values arithmetically."""
    from causalabs.verification.falsification import falsify

    class Parity(ca.Hypothesis):
        a = ca.input("a", domain=range(BIG))
        b = ca.input("b", domain=range(2))
        odd = ca.var(sp.Mod(a, 2), domain=range(2))
        out = ca.output(sp.Eq(odd, b))

    def encode(batch):
        return torch.from_numpy(np.stack([np.asarray(batch["a"]) % 2, np.asarray(batch["b"])], 1).astype(np.float32))

    torch.manual_seed(0)
    net = ca.Network(torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 2)), encode,
                     argmax_decoder((0, 1)), name="parity")
    result, peak = _peak(lambda: falsify(Parity, net, Alignment({"odd": site("0", units=[0])}), seed=0, max_examples=5))
    assert not isinstance(result, Exception), result
    assert peak < 60 * MB, f"falsify traced {peak / MB:.0f} MB (the domain as an array is {BIG * 8 / MB:.0f} MB)"
