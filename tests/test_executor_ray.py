"""Sweeps, sampled and exhaustive verification and searches on a real local Ray cluster (2 CPUs, started here).

The same files and reports as the in-process executor (the records' ``elapsed_s`` timing set aside); a
worker killed mid-task is retried by Ray and the sweep completes; a driver killed mid-sweep resumes with
every finished site kept.  Skipped without Ray (``make test`` installs the ``[ray]`` extra).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

import causalabs as ca  # noqa: E402
from causalabs.align.sweep import DAS, sweep  # noqa: E402
from causalabs.executor.ray import RayExecutor  # noqa: E402
from causalabs.loading import load_attr  # noqa: E402
from causalabs.network import load_network  # noqa: E402
from _sweep_tree import sweep_tree  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HEQ_REF = f"{ROOT}/hypotheses/hierarchical_equality.py:HierarchicalEquality"
HEQ = load_attr(HEQ_REF)
NET_FILE = ROOT / "models/heq_handbuilt.py"
MODULES = ["0", "1", "2", "3"]
SETS = [["left"], ["right"], ["left", "right"]]
METHOD = DAS(dims=1, epochs=1)


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs and a small object store, shut down after this module."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, object_store_memory=100 * 1024**2, include_dashboard=False, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # this file's methods travel with the tasks
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def heq():
    net = load_network(NET_FILE)
    train = [ca.random_pairs(HEQ, v, 64, seed=i) for i, v in enumerate(SETS)]
    test = [ca.random_pairs(HEQ, v, 64, seed=10 + i) for i, v in enumerate(SETS)]
    return net, train, test


def _sweep(heq, out: Path, executor: Any = "local", method: Any = METHOD) -> Any:
    net, train, test = heq
    return sweep(net, HEQ, (MODULES, None), SETS, train, test, method=method, out_dir=out, seed=0, progress=False,
                 alignments={"note": "ray test"}, executor=executor)


@pytest.fixture(scope="module")
def local_sweep(heq, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    return _sweep(heq, out), out


def test_sweep_on_ray_writes_the_local_executors_files(cluster, heq, local_sweep, tmp_path) -> None:
    local, local_out = local_sweep
    result = _sweep(heq, tmp_path, "ray")
    assert len(result.records) == 12 and result.computed == tuple(f"{m}.output" for m in MODULES)
    assert [r.to_dict() | {"elapsed_s": 0} for r in result.records] == [
        r.to_dict() | {"elapsed_s": 0} for r in local.records
    ]
    tree = sweep_tree(tmp_path)
    assert len(tree) == 4 + 2 * 12  # site files; an alignment file and its weights per (site, set)
    assert tree == sweep_tree(local_out)
    run = result.run
    assert run is not None and run.executor == "ray" and run.done == 12 and not run.failed
    assert 1 <= run.loads <= run.workers <= 2  # the network file loaded once per worker, not once per task


class KillOnce:
    """DAS whose worker process is killed (SIGKILL) on the first attempt of one task, marked by a file."""

    name = METHOD.name
    config = METHOD.config

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def k(self, variables: tuple[str, ...]) -> int | None:
        return METHOD.k(variables)

    def __call__(self, network, location, variables, train, seed):
        if location.module == "1" and variables == ("right",) and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return METHOD(network, location, variables, train, seed)


def test_a_worker_killed_mid_task_is_retried_and_the_sweep_completes(cluster, heq, local_sweep, tmp_path) -> None:
    marker = tmp_path / "killed"
    out = tmp_path / "out"
    result = _sweep(heq, out, RayExecutor(max_retries=2), KillOnce(marker))
    assert marker.exists()  # the first attempt of 1.output/right died with its worker
    assert len(result.records) == 12 and not result.run.failed
    assert sweep_tree(out) == sweep_tree(local_sweep[1])


class AlwaysKilled(KillOnce):
    def __call__(self, network, location, variables, train, seed):
        if location.module == "2" and variables == ("left",):
            os.kill(os.getpid(), signal.SIGKILL)
        return METHOD(network, location, variables, train, seed)


def test_a_task_whose_worker_always_dies_is_reported_and_the_rest_is_written(
    cluster, heq, tmp_path, monkeypatch, capsys
) -> None:
    from causalabs.errors import ExecutorError

    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # the progress bar, as on a terminal
    monkeypatch.setenv("COLUMNS", "160")
    net, train, test = heq
    with pytest.raises(ExecutorError, match=r"task 2\.output left failed 2 time\(s\)"):
        sweep(net, HEQ, (MODULES, None), SETS, train, test, method=AlwaysKilled(tmp_path / "unused"),
              out_dir=tmp_path, seed=0, progress=True, executor=RayExecutor(max_retries=1))
    err = capsys.readouterr().err
    assert "12/12" in err and "1 failed" in err  # the failed task counted, not dropped
    written = sorted(p.name for p in tmp_path.glob("*.json"))
    assert written == ["0.output.json", "1.output.json", "3.output.json"]  # every other site is complete


DRIVER = """
import os, signal, sys
import ray
import causalabs as ca
import causalabs.align.sweep as sweep_module
from causalabs.align.sweep import DAS, sweep
from causalabs.loading import load_attr
from causalabs.network import load_network

HEQ = load_attr({heq!r})
commit = sweep_module.write_json_atomic

def commit_then_die(path, doc):  # the driver is killed right after its first site's result file
    commit(path, doc)
    os.kill(os.getpid(), signal.SIGKILL)

sweep_module.write_json_atomic = commit_then_die
ray.init(address={address!r}, log_to_driver=False)
SETS = {sets!r}
net = load_network({net!r})
train = [ca.random_pairs(HEQ, v, 64, seed=i) for i, v in enumerate(SETS)]
test = [ca.random_pairs(HEQ, v, 64, seed=10 + i) for i, v in enumerate(SETS)]
sweep(net, HEQ, ({modules!r}, None), SETS, train, test, method=DAS(dims=1, epochs=1), out_dir=sys.argv[1], seed=0,
      progress=False, alignments={{"note": "ray test"}}, executor="ray")
"""


def test_a_driver_killed_mid_sweep_resumes_with_every_finished_site(cluster, heq, local_sweep, tmp_path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER.format(heq=HEQ_REF, address=cluster, sets=SETS, net=str(NET_FILE),
                                                    modules=MODULES)))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    written = sorted(out.glob("*.json"))
    assert len(written) == 1  # the first site to complete (in whatever order the cluster finished them)
    first = written[0].read_bytes()
    result = _sweep(heq, out, "ray")
    done = written[0].stem
    assert result.resumed == (done,) and set(result.computed) == {f"{m}.output" for m in MODULES} - {done}
    assert written[0].read_bytes() == first  # kept as it was, not recomputed
    assert sweep_tree(out) == sweep_tree(local_sweep[1])


def _untimed(report: Any) -> str:
    doc = json.loads(report.to_json())
    doc.pop("timing")
    return json.dumps(doc, sort_keys=True)


def test_sample_verification_on_ray_gives_the_local_report(cluster, heq) -> None:
    net = heq[0]
    al = load_attr(f"{NET_FILE}:alignment")()
    kw = {"mode": "sample", "samples": 300, "seed": 3, "threshold": 0.9}
    local = ca.verify(HEQ, net, al, **kw)
    remote = ca.verify(HEQ, net, al, executor="ray", **kw)
    assert _untimed(remote) == _untimed(local)  # every byte of the JSON report but its timing


def test_exhaustive_chunks_on_ray_give_the_local_verdict_and_counts(cluster, heq) -> None:
    net = heq[0]
    al = load_attr(f"{NET_FILE}:alignment")()
    local = ca.verify(HEQ, net, al)
    remote = ca.verify(HEQ, net, al, executor="ray", bases_per_task=97)
    assert local.verdict == "verified" and _untimed(remote) == _untimed(local)
    swapped = ca.Alignment({"left": al.sites["right"], "right": al.sites["left"]})
    local = ca.verify(HEQ, net, swapped)
    remote = ca.verify(HEQ, net, swapped, executor="ray", bases_per_task=97)
    assert local.verdict == "refuted" and local.counterexample is not None
    assert _untimed(remote) == _untimed(local)  # the same first counterexample from merged chunks


def _cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from causalabs.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_cli_search_joins_a_cluster_by_address_and_writes_the_local_files(cluster, tmp_path) -> None:
    args = ["search", HEQ_REF, "--network", str(NET_FILE), "--site", "1,2", "--samples", "64", "--epochs", "1"]
    local = _cli(*args, "--out", str(tmp_path / "local"))
    assert local.exit_code == 0, local.output
    remote = subprocess.run(
        [str(Path(sys.executable).parent / "causalabs"), *args, "--out", str(tmp_path / "ray"), "--executor", "ray",
         "--ray-address", cluster], capture_output=True, text=True, timeout=600,
    )
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert "ray: 6 of 6 task(s) done" in remote.stderr and "network loaded" in remote.stderr
    lines = lambda p: [{**json.loads(x), "elapsed_s": None} for x in p.read_text().splitlines()]  # noqa: E731
    assert lines(tmp_path / "ray/records.jsonl") == lines(tmp_path / "local/records.jsonl")
    trees = [{k: v for k, v in sweep_tree(tmp_path / w).items() if k != "records.jsonl"} for w in ("ray", "local")]
    assert trees[0] == trees[1]


def test_cli_verify_search_on_ray_gives_the_local_report(cluster, tmp_path) -> None:
    args = ["verify", HEQ_REF, "--network", str(NET_FILE), "--search", "das", "--site", "left=1", "--site", "right=2",
            "--epochs", "1", "--train-samples", "64", "--mode", "sample", "--samples", "200"]
    local = _cli(*args, "--json", str(tmp_path / "local.json"))
    remote = _cli(*args, "--json", str(tmp_path / "ray.json"), "--executor", "ray")
    assert remote.exit_code == local.exit_code and local.exit_code in (0, 1, 3), local.output
    docs = [json.loads((tmp_path / f).read_text()) for f in ("ray.json", "local.json")]
    for d in docs:
        d.pop("timing")
    assert docs[0] == docs[1]


def test_arguments_shared_by_tasks_go_through_the_object_store_once(cluster) -> None:
    from causalabs.executor import Task
    from causalabs.executor.ray import _stored_once

    inputs = {"x": list(range(1000))}
    tasks = [Task((i,), len, (inputs, i, "name")) for i in range(4)] + [Task((9,), len, ([1, 2],))]
    stored = _stored_once(ray, tasks)
    assert list(stored) == [id(inputs)]  # once for the four tasks; scalars, strings and one-task arguments not
    assert ray.get(stored[id(inputs)]) == inputs
