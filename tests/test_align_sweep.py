"""Alignment sweeps: grid records, resume after a kill, heatmaps, determinism, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import pytest

import causalabs as ca
from causalabs import atomic as atomic_mod
from causalabs.align.heatmap import iia_matrix, plot_heatmap
from causalabs.align.sweep import DAS, FullSite, SweepRecord, grid, sweep, variable_sets
from causalabs.errors import CausalabsError, SweepError
from causalabs.loading import load_attr
from causalabs.network import Site, load_network

ROOT = Path(__file__).resolve().parent.parent
HEQ = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
IND = load_attr(str(ROOT / "hypotheses/induction.py:Induction"))
MODULES = ["blocks.0", "blocks.1.attn.pattern"]
POSITIONS = (6, 7, 8)


@pytest.fixture(scope="module")
def induction():
    net = load_network(ROOT / "models/induction_trained.py")
    train = [ca.random_pairs(IND, ["prev"], 64, seed=1)]
    test = [ca.random_pairs(IND, ["prev"], 200, seed=2)]
    return net, train, test


@pytest.fixture(scope="module")
def heq():
    net = load_network(ROOT / "models/heq_handbuilt.py")
    train = [ca.random_pairs(HEQ, v, 384, seed=i) for i, v in enumerate(["left", "right", ["left", "right"]])]
    test = [ca.random_pairs(HEQ, v, 256, seed=10 + i) for i, v in enumerate(["left", "right", ["left", "right"]])]
    return net, train, test


def canon(result: Any) -> list[str]:
    """Records as JSON text without the timing (NaN-safe equality)."""
    return [json.dumps({**r.to_dict(), "elapsed_s": None}, sort_keys=True) for r in result.records]


class Counting:
    """Full-site patching that counts its fits and can fail on the n-th one (a simulated kill)."""

    name = "full"
    config: ClassVar[dict[str, Any]] = {}

    def __init__(self, fail_at: int | None = None, exc: BaseException | None = None) -> None:
        self.calls: list[str] = []
        self.fail_at, self.exc = fail_at, exc

    def k(self, variables: tuple[str, ...]) -> None:
        return None

    def __call__(self, network, location, variables, train, seed):
        self.calls.append(location.name)
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise self.exc or KeyboardInterrupt()
        return FullSite()(network, location, variables, train, seed)


def test_grid_is_module_major_and_variable_sets_normalise():
    sites = grid(["a", "b"], [0, (1, 2)])
    assert [s.name for s in sites] == ["a.output[pos 0]", "a.output[pos 1,2]", "b.output[pos 0]", "b.output[pos 1,2]"]
    assert [s.name for s in grid(["0", "1"])] == ["0.output", "1.output"]
    assert variable_sets("left") == [("left",)]
    assert variable_sets(["left", ["left", HEQ.right]]) == [("left",), ("left", "right")]
    with pytest.raises(SweepError, match="positions is empty"):
        grid(["a"], [])


def test_full_site_sweep_finds_the_induction_site(induction):
    net, train, test = induction
    res = sweep(net, IND, (MODULES, POSITIONS), "prev", train, test, method=FullSite(), progress=False)
    assert len(res.records) == len(MODULES) * len(POSITIONS)
    assert [(r.module, r.position) for r in res.records] == [(m, str(p)) for m in MODULES for p in POSITIONS]
    by_site = {r.site: r for r in res.records}
    # the known alignment (layer-1 pattern at the query) is exact; the other cells are near chance
    assert by_site["blocks.1.attn.pattern.output[pos 8]"].iia == 1.0
    assert max(r.iia for r in res.records if r.site != "blocks.1.attn.pattern.output[pos 8]") < 0.5
    for r in res.records:
        assert r.method == "full" and r.k is None and r.variables == ("prev",)
        assert r.overall.n == 200 and not r.overall.exact and r.overall.lo <= r.iia <= r.overall.hi
        assert r.changed.n == int(test[0].changed.sum())
        assert r.test_digests == (test[0].digest,) and r.train_digests == (train[0].digest,)
        assert r.elapsed_s >= 0
    assert res.computed == tuple(by_site) and res.resumed == ()


def test_mlp_sweep_has_one_record_per_layer_and_variable(heq):
    net, train, test = heq
    res = sweep(net, HEQ, ([str(i) for i in range(6)], None), ["left", "right"], train, test,
                method=FullSite(), progress=False)
    assert [(r.module, r.variables) for r in res.records] == [
        (str(i), (v,)) for i in range(6) for v in ("left", "right")
    ]
    assert all(r.position is None for r in res.records)
    # each variable set is scored only on its own test data
    assert res.records[0].test_digests == (test[0].digest,) and res.records[1].test_digests == (test[1].digest,)
    m = iia_matrix(res, "left")
    assert m.positions == (None,) and m.values.shape == (6, 1)


def test_kill_and_resume_recomputes_only_missing_sites(induction, tmp_path):
    net, train, test = induction
    args = (net, IND, (MODULES, POSITIONS), "prev", train, test)
    full = sweep(*args, method=Counting(), out_dir=tmp_path / "clean", seed=3, progress=False)

    out = tmp_path / "killed"
    flaky = Counting(fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        sweep(*args, method=flaky, out_dir=out, seed=3, progress=False)
    files = sorted(p.name for p in out.iterdir())
    assert files == ["blocks.0.output_pos_6.json", "blocks.0.output_pos_7.json"]  # no temp file left
    for name in files:
        assert json.loads((out / name).read_text())["records"]  # complete JSON

    again = Counting()
    res = sweep(*args, method=again, out_dir=out, seed=3, progress=False)
    assert again.calls == [s.name for s in grid(MODULES, POSITIONS)][2:]
    assert res.resumed == ("blocks.0.output[pos 6]", "blocks.0.output[pos 7]")
    assert canon(res) == canon(full)
    # a third run computes nothing
    idle = Counting()
    assert canon(sweep(*args, method=idle, out_dir=out, seed=3, progress=False)) == canon(full)
    assert idle.calls == []


def test_stale_or_broken_files_are_recomputed(induction, tmp_path):
    net, train, test = induction
    args = (net, IND, (MODULES[:1], (7, 8)), "prev", train, test)
    sweep(*args, method=Counting(), out_dir=tmp_path, seed=0, progress=False)
    other_seed = Counting()
    sweep(*args, method=other_seed, out_dir=tmp_path, seed=1, progress=False)
    assert len(other_seed.calls) == 2
    other = (*args[:5], [ca.random_pairs(IND, ["prev"], 50, seed=9)])
    other_test = Counting()
    sweep(*other, method=other_test, out_dir=tmp_path, seed=1, progress=False)
    assert len(other_test.calls) == 2
    (tmp_path / "blocks.0.output_pos_7.json").write_text('{"format": "causalabs.sweep/1", "fing')  # half a file
    broken = Counting()
    sweep(*other, method=broken, out_dir=tmp_path, seed=1, progress=False)
    assert broken.calls == ["blocks.0.output[pos 7]"]


def _make_position(offset: int):
    def last(base):  # the same name and code for every offset: only the closure differs
        return [8 - offset] * len(next(iter(base.values())))

    return last


def test_changed_weights_or_position_function_are_recomputed(induction, tmp_path):
    import torch

    net, train, test = induction
    first = Counting()
    sweep(net, IND, [Site(MODULES[0], positions=_make_position(0))], "prev", train, test, method=first,
          out_dir=tmp_path, seed=0, progress=False)
    same = Counting()
    sweep(net, IND, [Site(MODULES[0], positions=_make_position(0))], "prev", train, test, method=same,
          out_dir=tmp_path, seed=0, progress=False)
    assert len(first.calls) == 1 and same.calls == []  # an equal function resumes
    edited = Counting()
    sweep(net, IND, [Site(MODULES[0], positions=_make_position(1))], "prev", train, test, method=edited,
          out_dir=tmp_path, seed=0, progress=False)
    assert len(edited.calls) == 1  # same name, other closure: recomputed
    module = __import__("copy").deepcopy(net.module)
    with torch.no_grad():
        next(module.parameters()).add_(1e-3)
    retrained = Counting()
    sweep(ca.Network(module, net.encode, net.decode, name=net.name, call=net.call), IND,
          [Site(MODULES[0], positions=_make_position(1))], "prev", train, test, method=retrained,
          out_dir=tmp_path, seed=0, progress=False)
    assert len(retrained.calls) == 1  # same network name, other weights: recomputed


def test_interrupted_write_leaves_no_file(induction, tmp_path, monkeypatch):
    net, train, test = induction

    def killed(fd):  # the temporary file holds the data, not yet in place
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_mod.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        sweep(net, IND, (MODULES[:1], (8,)), "prev", train, test, method=FullSite(), out_dir=tmp_path,
              progress=False)
    assert list(tmp_path.iterdir()) == []


def test_heatmap_matrix_matches_records_and_png_is_written(induction, tmp_path):
    net, train, test = induction
    sites = [Site(m, positions=p) for m in MODULES for p in POSITIONS][:-1]  # one cell left unswept
    res = sweep(net, IND, sites, "prev", train, test, method=FullSite(), progress=False)
    m = iia_matrix(res, ("prev",))
    assert m.modules == tuple(MODULES) and m.positions == tuple(map(str, POSITIONS))
    for r in res.records:
        assert m.values[m.modules.index(r.module), m.positions.index(r.position)] == r.iia
    assert math.isnan(m.values[1, 2])
    changed = iia_matrix(res, "prev", value="changed")
    assert changed.values[0, 0] == res.records[0].changed.value
    path = plot_heatmap(res, tmp_path / "iia.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert [p.name for p in tmp_path.iterdir()] == ["iia.png"]
    with pytest.raises(SweepError, match="no records for left"):
        iia_matrix(res, "left")


def test_das_sweep_is_deterministic_and_finds_the_planted_layer(heq):
    net, train, test = heq
    method = DAS(dims=1, epochs=2)
    a = sweep(net, HEQ, (["2"], None), [["left", "right"]], train, test, method=method, seed=0, progress=False)
    b = sweep(net, HEQ, (["2"], None), [["left", "right"]], train, test, method=method, seed=0, progress=False)
    assert canon(a) == canon(b)
    (rec,) = a.records
    assert rec.method == "das" and rec.k == 2 and rec.variables == ("left", "right")
    assert rec.iia == 1.0 and rec.changed.value == 1.0
    assert rec.train_digests == tuple(ds.digest for ds in train)  # every set within left+right
    assert rec.overall.n == sum(len(ds) for ds in test)
    assert SweepRecord.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec


def test_refusals_are_sweep_errors(heq, induction):
    net, train, test = heq
    with pytest.raises(SweepError, match="one variable"):
        sweep(net, HEQ, (["2"], None), [["left", "right"]], train, test, method=FullSite(), progress=False)
    with pytest.raises(SweepError, match="no test dataset intervenes within left"):
        sweep(net, HEQ, (["2"], None), "left", train, test[1:2], method=FullSite(), progress=False)
    with pytest.raises(SweepError, match="no variable 'middle'"):
        sweep(net, HEQ, (["2"], None), "middle", train, test, method=FullSite(), progress=False)
    with pytest.raises(SweepError, match="appears twice"):
        sweep(net, HEQ, [Site("2"), Site("2")], "left", train, test, method=FullSite(), progress=False)
    with pytest.raises(SweepError, match="neither Site objects"):
        sweep(net, HEQ, ("0", "2"), "left", train, test, method=FullSite(), progress=False)
    with pytest.raises(SweepError, match="must be causalabs Site objects"):
        sweep(net, HEQ, ["0", "2"], "left", train, test, method=FullSite(), progress=False)
    with pytest.raises(SweepError, match="has the file name of x y.output"):
        sweep(net, HEQ, [Site("x y"), Site("x_y")], "left", train, test, method=FullSite(), progress=False)
    _, itrain, _ = induction
    with pytest.raises(SweepError, match="made for 'Induction'"):
        sweep(net, HEQ, (["2"], None), "left", itrain, test, method=FullSite(), progress=False)
    with pytest.raises(SweepError, match="'right' has no dims"):
        sweep(net, HEQ, (["2"], None), "right", train, test, method=DAS(dims={"left": 1}), progress=False)
    assert issubclass(SweepError, CausalabsError) and issubclass(SweepError, ValueError)


def test_progress_bar_is_silent_off_a_terminal(heq, capsys):
    net, train, test = heq
    sweep(net, HEQ, (["0", "2"], None), "left", train, test, method=FullSite(), progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_shows_on_a_terminal(heq, capsys, monkeypatch):
    from rich.console import Console

    net, train, test = heq
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    sweep(net, HEQ, (["0", "2"], None), "left", train, test, method=FullSite(), progress=True)
    assert "2/2" in capsys.readouterr().err
    sweep(net, HEQ, (["0", "2"], None), "left", train, test, method=FullSite(), progress=False)
    assert capsys.readouterr().err == ""
