"""The executor seam without Ray: the local executor, the choice of executor and its options, exhaustive checks
split into base spans (merged to the unsplit result), and a missing Ray reported in one line (exit 5)."""

from __future__ import annotations

import builtins
import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import causalabs as ca
from causalabs.cli import app
from causalabs.errors import CausalabsError, ExecutorError
from causalabs.executor import LocalExecutor, Shared, Task, make_executor
from causalabs.executor import tasks as task_mod
from causalabs.loading import load_attr
from causalabs.network import load_network
from causalabs.network.network import shared_network, source_file

ROOT = Path(__file__).resolve().parents[1]
HEQ_REF = f"{ROOT}/hypotheses/hierarchical_equality.py:HierarchicalEquality"
NET = str(ROOT / "models/heq_handbuilt.py")


def _double(shared: int, x: int) -> int:
    return shared * x


def _boom(shared: int, x: int) -> int:
    raise ValueError(f"task {x} failed")


def test_local_executor_runs_in_order_and_hands_every_result_to_the_driver() -> None:
    seen: list[tuple[tuple, int]] = []
    summary = LocalExecutor().run([Task((i,), _double, (i,)) for i in range(5)], Shared("k", value=3),
                                  lambda t, v: seen.append((t.key, v)))
    assert seen == [((i,), 3 * i) for i in range(5)]
    assert (summary.executor, summary.tasks, summary.done, summary.failed, summary.loads) == ("local", 5, 5, (), 0)
    assert "5 of 5 task(s) done" in summary.describe() and summary.to_dict()["idle_per_task_s"] >= 0


def test_progress_is_one_bar_of_tasks_done_running_and_failed(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # as on a terminal
    monkeypatch.setenv("COLUMNS", "160")
    LocalExecutor().run([Task((i,), _double, (i,)) for i in range(3)], Shared("k", value=1), lambda t, v: None,
                        progress=True, label="sweep")
    err = capsys.readouterr().err
    assert "sweep" in err and "3/3" in err and "0 running, 0 failed" in err


def test_a_failing_local_task_ends_the_run_after_the_results_before_it() -> None:
    seen: list[int] = []
    tasks = [Task((0,), _double, (1,)), Task((1,), _boom, (2,)), Task((2,), _double, (3,))]
    with pytest.raises(ValueError, match="task 2 failed"):
        LocalExecutor().run(tasks, Shared("k", value=1), lambda t, v: seen.append(v))
    assert seen == [1]


def test_a_shared_factory_is_built_once_per_process(monkeypatch) -> None:
    monkeypatch.setattr(task_mod, "_BUILT", {})
    built: list[int] = []

    def factory() -> int:
        built.append(1)
        return 7

    outcomes = [task_mod.execute("net", factory, None, _double, (i,)) for i in range(3)]
    assert [o.value for o in outcomes] == [0, 7, 14] and built == [1]
    assert [o.loaded for o in outcomes] == [True, False, False]
    other = task_mod.execute("other", factory, None, _double, (1,))
    assert other.loaded and list(task_mod._BUILT) == ["other"]  # the last network only


def test_a_network_loaded_from_its_file_is_shared_by_its_file() -> None:
    net = load_network(NET)
    assert source_file(net) == Path(NET).resolve()
    shared = shared_network(net, "abc")
    assert shared.value is net and shared.factory is not None and "heq_handbuilt.py" in shared.key
    again = shared.factory()  # what a worker does: load the file again
    assert again is not net and again.name == net.name
    built = ca.Network(net.module, net.encode, net.decode)
    assert source_file(built) == Path(NET).resolve()  # the same module object: the same file
    assert shared_network(ca.Network(torch.nn.Linear(2, 2), net.encode, net.decode), "x").factory is None  # shipped


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"executor": "spark"}, "unknown executor 'spark'"),
        ({"ray_address": "auto"}, "settings of executor 'ray'"),
        ({"gpus_per_task": 1}, "settings of executor 'ray'"),
    ],
)
def test_make_executor_refuses_what_would_do_nothing(kwargs, message) -> None:
    with pytest.raises(ExecutorError, match=message):
        make_executor(**kwargs)


def test_ray_missing_is_one_executor_error(monkeypatch) -> None:
    from causalabs.executor.ray import RayExecutor

    real_import = builtins.__import__

    def no_ray(name, *a, **k):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *a, **k)

    monkeypatch.delitem(sys.modules, "ray", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ExecutorError, match=r"pip install 'causalabs\[ray\]'"):
        RayExecutor().run([Task((0,), _double, (1,))], Shared("k", value=1), lambda t, v: None)
    with pytest.raises(ExecutorError, match="some CPUs or GPUs"):
        RayExecutor(cpus_per_task=0)


def test_exhaustive_base_spans_merge_to_the_unsplit_report() -> None:
    hyp = load_attr(HEQ_REF)
    net = load_network(NET)
    al = load_attr(f"{NET}:alignment")()
    swapped = ca.Alignment({"left": al.sites["right"], "right": al.sites["left"]})
    for alignment in (al, swapped):
        whole = ca.verify(hyp, net, alignment)
        split = ca.verify(hyp, net, alignment, bases_per_task=37)
        assert (split.verdict, split.iia, split.per_variable, split.counterexample) == (
            whole.verdict, whole.iia, whole.per_variable, whole.counterexample)
    assert whole.verdict == "refuted" and whole.counterexample is not None


def test_sequential_mode_refuses_another_executor() -> None:
    hyp = load_attr(HEQ_REF)
    net = load_network(NET)
    with pytest.raises(CausalabsError, match="sequential mode runs in this process"):
        ca.verify(hyp, net, load_attr(f"{NET}:alignment")(), mode="sequential", executor="ray")


runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", HEQ_REF, "--network", NET, "--site", "2", "--executor", "spark"), "--executor 'spark'"),
        (("search", HEQ_REF, "--network", NET, "--site", "2", "--ray-address", "auto"), "go with --executor ray"),
        (("verify", HEQ_REF, "--network", NET, "--gpus-per-task", "1"), "go with --executor ray"),
        (("verify", HEQ_REF, "--network", NET, "--executor", "ray", "--cpus-per-task", "0"), "some CPUs or GPUs"),
        (("verify", HEQ_REF, "--network", NET, "--executor", "ray", "--mode", "falsify"), "--mode falsify runs in this"),
        (("verify", HEQ_REF, "--network", NET, "--executor", "ray", "--mode", "sequential"), "--mode sequential runs in"),
    ],
)
def test_bad_executor_options_exit_2_with_one_line(args, message, monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())  # as if Ray were installed
    r = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.output


def test_executor_ray_without_ray_exits_5_naming_the_extra(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    r = runner.invoke(app, ["verify", HEQ_REF, "--network", NET, "--executor", "ray"], env={"COLUMNS": "200"})
    assert r.exit_code == 5, r.output
    assert r.output.strip() == "error: --executor ray needs Ray: pip install 'causalabs[ray]'"
