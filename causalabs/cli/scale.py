"""``--executor``, ``--ray-address``, ``--cpus-per-task``, ``--gpus-per-task``: where ``verify`` and ``search`` run
their tasks (see docs/scale.md), checked before any work."""

from __future__ import annotations

import importlib.util
import math
from typing import Annotated, Any

import attrs
import typer

from causalabs.errors import ExecutorError, LoadError

EXECUTORS = ("local", "ray")

ExecutorOption = Annotated[
    str, typer.Option("--executor", metavar="WHERE", help="where tasks run: local (this process) or ray (a Ray cluster)")
]
RayAddressOption = Annotated[
    "str | None",
    typer.Option("--ray-address", metavar="ADDRESS", help="with --executor ray: the cluster to join (auto: the one "
                 "`ray start --head` started here; default: a new local one)"),
]
CpusOption = Annotated[float, typer.Option("--cpus-per-task", metavar="N", help="with --executor ray: CPUs per task")]
GpusOption = Annotated[float, typer.Option("--gpus-per-task", metavar="N", help="with --executor ray: GPUs per task")]


@attrs.frozen
class Scale:
    """The executor options of one command, as given."""

    executor: str = "local"
    ray_address: str | None = None
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0

    @property
    def local(self) -> bool:
        return self.executor == "local"

    def check(self) -> None:
        """Refuse a bad combination in the options' names (exit 2), or a missing Ray (exit 5), before any work."""
        if self.executor not in EXECUTORS:
            raise LoadError(f"--executor {self.executor!r}: choose local or ray")
        if self.local and (self.ray_address is not None or self.cpus_per_task != 1 or self.gpus_per_task != 0):
            raise LoadError("--ray-address, --cpus-per-task and --gpus-per-task go with --executor ray")
        for name, v in (("--cpus-per-task", self.cpus_per_task), ("--gpus-per-task", self.gpus_per_task)):
            if not (math.isfinite(v) and v >= 0):
                raise LoadError(f"{name} {v:g}: a number of at least 0")
        if self.cpus_per_task == 0 and self.gpus_per_task == 0:
            raise LoadError("--cpus-per-task 0 and --gpus-per-task 0: a task needs some CPUs or GPUs")
        if not self.local and importlib.util.find_spec("ray") is None:
            raise ExecutorError("--executor ray needs Ray: pip install 'causalabs[ray]'")

    def kwargs(self) -> dict[str, Any]:
        """The keywords of ``sweep``, ``verify`` and ``find_alignment`` that choose the executor."""
        return {"executor": self.executor, "ray_address": self.ray_address, "cpus_per_task": self.cpus_per_task,
                "gpus_per_task": self.gpus_per_task}


__all__ = ["CpusOption", "EXECUTORS", "ExecutorOption", "GpusOption", "RayAddressOption", "Scale"]
