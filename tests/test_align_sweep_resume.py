"""A killed sweep resumes to the same files as an uninterrupted one: complete metadata, no temporary files.

Two kinds of kill: an exception raised from inside the sweep after some
sites (cleanup code runs), and a SIGKILL in a child process while a file is
half written (no cleanup can run; the temporary file stays until the
resumed sweep removes it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest

import causalabs as ca
from causalabs.align.store import load_alignment, save_alignment
from causalabs.align.sweep import DAS, alignment_path, sweep
from causalabs.errors import AlignmentFileError
from causalabs.loading import load_attr
from causalabs.network import load_network
from _sweep_tree import sweep_tree

ROOT = Path(__file__).resolve().parent.parent
HEQ = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
MODULES = ["0", "1", "2", "3"]
SETS = ["left", "right"]
INFO = {"hypothesis": "heq", "note": "test"}


@pytest.fixture(scope="module")
def heq():
    net = load_network(ROOT / "models/heq_handbuilt.py")
    train = [ca.random_pairs(HEQ, v, 128, seed=i) for i, v in enumerate(SETS)]
    test = [ca.random_pairs(HEQ, v, 128, seed=10 + i) for i, v in enumerate(SETS)]
    return net, train, test


class Dying:
    """DAS that raises on its n-th fit, as a kill from inside the sweep would."""

    name = "das"
    config: ClassVar[dict[str, Any]] = DAS(dims=1, epochs=1).config

    def __init__(self, fail_at: int | None = None) -> None:
        self.inner, self.calls, self.fail_at = DAS(dims=1, epochs=1), 0, fail_at

    def k(self, variables: tuple[str, ...]) -> int | None:
        return self.inner.k(variables)

    def __call__(self, network, location, variables, train, seed):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt
        return self.inner(network, location, variables, train, seed)


def _run(heq, out: Path, method: Any) -> Any:
    net, train, test = heq
    return sweep(net, HEQ, (MODULES, None), SETS, train, test, method=method, out_dir=out, seed=0,
                 progress=False, alignments=INFO)


def _alignment_infos(out: Path) -> dict[str, dict]:
    return {p.name: dict(load_alignment(p).info) for p in sorted((out / "alignments").glob("*.json"))}


def test_a_killed_and_resumed_sweep_writes_what_an_uninterrupted_one_writes(heq, tmp_path):
    clean = tmp_path / "clean"
    _run(heq, clean, Dying())
    expected = sweep_tree(clean)
    infos = _alignment_infos(clean)
    assert len(infos) == len(MODULES) * len(SETS)
    assert all(i["heldout_iia"]["n"] == 128 and "heldout_iia_changed" in i for i in infos.values())
    assert all(i["note"] == "test" and i["method"] == "das" for i in infos.values())

    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        _run(heq, out, Dying(fail_at=6))  # sites "0" and "1" done, "2" half fitted
    done = sweep_tree(out)
    assert sorted(n for n in done if not n.startswith("alignments/")) == ["0.output.json", "1.output.json"]
    assert not [n for n in done if n.endswith(".tmp")]
    again = Dying()
    res = _run(heq, out, again)
    assert res.resumed == ("0.output", "1.output") and again.calls == 4
    assert sweep_tree(out) == expected  # same names, same bytes: metadata complete, nothing left over


def test_resumed_sites_alignment_files_get_their_heldout_iia(heq, tmp_path):
    out = tmp_path / "run"
    _run(heq, out, Dying())
    complete = sweep_tree(out)
    # alignment files as an earlier causalabs left them: saved at fit time, without the held-out IIA
    for p in sorted((out / "alignments").glob("*.json")):
        al = load_alignment(p)
        info = {k: v for k, v in al.info.items() if not k.startswith("heldout_iia")}
        save_alignment(type(al)(al.sites, info=info), p)
    assert all("heldout_iia" not in i for i in _alignment_infos(out).values())
    stranger = alignment_path(out, "3.output", ("left",))  # from another run: another seed
    al = load_alignment(stranger)
    save_alignment(type(al)(al.sites, info={**{k: v for k, v in al.info.items() if not k.startswith("heldout")},
                                             "seed": 99}), stranger)
    before = stranger.read_bytes()
    again = Dying()
    res = _run(heq, out, again)
    assert again.calls == 0 and len(res.resumed) == len(MODULES)
    after = sweep_tree(out)
    assert stranger.read_bytes() == before  # not this run's file: left as it is
    changed = {n for n in complete if after.get(n) != complete[n]}
    assert changed == {str(stranger.relative_to(out))}


def test_a_hard_kill_mid_write_leaves_a_temp_file_that_the_resumed_sweep_removes(heq, tmp_path):
    out = tmp_path / "run"
    child = textwrap.dedent(f'''
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import causalabs.atomic as atomic
        import test_align_sweep_resume as t

        writes = []
        real = os.fsync

        def fsync(fd):
            writes.append(fd)
            if len(writes) == 7:  # the 7th file is in its temporary file, not yet in place
                os.kill(os.getpid(), signal.SIGKILL)
            real(fd)

        atomic.os.fsync = fsync
        net = t.load_network(t.ROOT / "models/heq_handbuilt.py")
        train = [t.ca.random_pairs(t.HEQ, v, 128, seed=i) for i, v in enumerate(t.SETS)]
        test = [t.ca.random_pairs(t.HEQ, v, 128, seed=10 + i) for i, v in enumerate(t.SETS)]
        t._run((net, train, test), __import__("pathlib").Path({str(out)!r}), t.Dying())
    ''')
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    temps = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert len(temps) == 1, sorted(p.name for p in out.rglob("*"))
    _run(heq, out, Dying())
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    clean = tmp_path / "clean"
    _run(heq, clean, Dying())
    assert sweep_tree(out) == sweep_tree(clean)


def test_a_foreign_file_at_an_alignment_path_stops_the_site_and_survives(heq, tmp_path):
    out = tmp_path / "run"
    (out / "alignments").mkdir(parents=True)
    foreign = alignment_path(out, "1.output", ("right",))
    foreign.write_text('{"mine": true}\n')
    with pytest.raises(AlignmentFileError, match=r"1\.output__right\.json: exists and is not an alignment file"):
        _run(heq, out, Dying())
    assert foreign.read_text() == '{"mine": true}\n'
    assert (out / "0.output.json").exists() and not (out / "1.output.json").exists()  # the site is not committed
    assert json.loads((out / "0.output.json").read_text())["records"]


def test_cli_search_killed_after_a_site_resumes_with_complete_alignment_files(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import causalabs.align.sweep as sweep_mod
    from causalabs.cli import app

    args = ["search", f"{ROOT}/hypotheses/hierarchical_equality.py:HierarchicalEquality", "--network",
            str(ROOT / "models/heq_handbuilt.py"), "--site", "2,0", "--samples", "128", "--epochs", "1",
            "--out", str(tmp_path)]
    real, calls = sweep_mod.fit_task, []

    def killed(*a, **k):
        calls.append(1)
        if len(calls) == 4:  # site "2" done (3 variable sets), site "0" started
            raise KeyboardInterrupt
        return real(*a, **k)

    with monkeypatch.context() as m:
        m.setattr(sweep_mod, "fit_task", killed)
        r = CliRunner().invoke(app, args)
    assert r.exit_code != 0 and len(calls) == 4  # click turns the interrupt into "Aborted!"
    assert sorted(p.name for p in (tmp_path / "alignments").iterdir() if p.suffix == ".json") == [
        "2.output__left+right.json", "2.output__left.json", "2.output__right.json"]
    r = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "1 site(s) fitted, 1 resumed" in r.stdout and "note:" not in r.stdout
    infos = _alignment_infos(tmp_path)
    assert len(infos) == 6 and all("heldout_iia" in i and "heldout_iia_changed" in i for i in infos.values())
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
