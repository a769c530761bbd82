"""Executors: independent tasks run in this process (``local``, the default) or on a Ray cluster (``ray``).

A run is a list of :class:`Task` (a function, its arguments, and its
identity, from which every seed inside it derives) and one :class:`Shared`
value every task receives (the network).  The executor hands each result
to the driver's ``on_done`` as it arrives; only the driver writes files.
See ``docs/scale.md``.
"""

from __future__ import annotations

from typing import Any, Protocol

from causalabs.errors import ExecutorError
from causalabs.executor.local import LocalExecutor
from causalabs.executor.tasks import Failure, Outcome, RunSummary, Shared, Task

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs tasks and hands each result to ``on_done(task, value)`` in the driver (see :class:`LocalExecutor`)."""

    name: str

    def run(self, tasks: Any, shared: Shared, on_done: Any, *, progress: bool = False, label: str = "tasks") -> RunSummary: ...


def make_executor(
    executor: str | Executor | None = "local",
    *,
    ray_address: str | None = None,
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
) -> Executor:
    """The executor named ``executor`` (``"local"`` or ``"ray"``), or ``executor`` itself when it is one.

    ``ray_address``, ``cpus_per_task`` and ``gpus_per_task`` go to Ray; given
    with the local executor they are refused (they would silently do nothing).
    """
    if executor is None or executor == "local":
        if ray_address is not None or gpus_per_task != 0 or cpus_per_task != 1:
            raise ExecutorError(
                "ray_address, cpus_per_task and gpus_per_task are settings of executor 'ray' "
                "(--executor ray); the local executor runs in this process"
            )
        return LocalExecutor()
    if executor == "ray":
        from causalabs.executor.ray import RayExecutor

        return RayExecutor(ray_address, cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task)
    if isinstance(executor, str):
        raise ExecutorError(f"unknown executor {executor!r}; choose {' or '.join(EXECUTORS)}")
    return executor


__all__ = ["EXECUTORS", "Executor", "Failure", "LocalExecutor", "Outcome", "RunSummary", "Shared", "Task", "make_executor"]
