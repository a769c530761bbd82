"""What an executor runs: tasks, the value they share (a network), and what each run took.

A :class:`Task` is a module-level function and its arguments, named by a
``key`` that is its identity (site, variable set, seed; a chunk of pairs):
its result must depend on the key alone, never on where or in which order
it ran, so every seed inside it is derived from the key.  A :class:`Shared`
value is what every task of a run needs first (the network): built once per
worker process by its ``factory`` (a network file loaded there) and cached
under its ``key``; in the driver's own process the value is used as given.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

#: The shared value built in this process, by key: a worker builds it once, whatever number of tasks it runs
#: (and keeps only the last one).
_BUILT: dict[str, Any] = {}


@attrs.frozen(eq=False)
class Shared:
    """A value every task of a run receives first: ``value`` in this process, ``factory()`` once per worker elsewhere.

    ``factory`` must be picklable (a module-level function or a
    ``functools.partial`` of one, such as ``load_network`` of a network
    file); with no factory, an executor that runs tasks in other processes
    ships ``value`` itself (once, through its object store).
    """

    key: str
    value: Any = None
    factory: Callable[[], Any] | None = None


@attrs.frozen(eq=False)
class Task:
    """One independent unit of work: ``fn(shared, *args)``, named by ``key`` (its identity; JSON-able parts)."""

    key: tuple[Any, ...]
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        return " ".join("+".join(map(str, k)) if isinstance(k, (tuple, list)) else str(k) for k in self.key)


@attrs.frozen
class Outcome:
    """What one task returned and what it cost, measured where it ran."""

    value: Any = attrs.field(eq=False)
    compute_s: float  # the task's own function
    load_s: float  # building the shared value, when this task was the first of its worker to need it
    loaded: bool  # this task built the shared value in its worker
    worker: str  # "host:pid" of the process that ran it


def execute(key: str, factory: Callable[[], Any] | None, value: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> Outcome:
    """Run ``fn`` on the shared value (built here once per process when ``factory`` is given); time both."""
    start = time.perf_counter()
    load_s, loaded = 0.0, False
    if factory is not None:
        if key not in _BUILT:
            _BUILT.clear()  # one network per worker at a time: a run on another network frees the last one
            _BUILT[key] = factory()
            load_s, loaded = time.perf_counter() - start, True
        value = _BUILT[key]
    t0 = time.perf_counter()
    result = fn(value, *args)
    return Outcome(result, time.perf_counter() - t0, load_s, loaded, f"{os.uname().nodename}:{os.getpid()}")


@attrs.frozen
class Failure:
    """A task that did not complete: its name, the error and how many times it was tried."""

    task: str
    error: str
    attempts: int


@attrs.frozen
class RunSummary:
    """Where the time of a run went: wall clock, the tasks' own compute, shared-value loading, the driver's
    own work on results (writing files), and the rest (scheduling, shipping arguments and results)."""

    executor: str
    tasks: int
    done: int
    failed: tuple[Failure, ...]
    workers: int
    wall_s: float
    compute_s: float
    load_s: float
    loads: int
    driver_s: float

    @property
    def idle_per_task_s(self) -> float:
        """Worker time (wall x workers) not spent computing or loading, nor by the driver writing, per task:
        scheduling, shipping arguments and results, and workers waiting for the last tasks (0 with no task)."""
        busy = self.compute_s + self.load_s
        spare = self.wall_s * max(1, self.workers) - busy - self.driver_s
        return max(0.0, spare) / max(1, self.tasks)

    def describe(self) -> str:
        fails = f", {len(self.failed)} failed" if self.failed else ""
        return (
            f"{self.executor}: {self.done} of {self.tasks} task(s) done{fails} on {self.workers} worker(s) in "
            f"{self.wall_s:.2f} s; tasks computed {self.compute_s:.2f} s, network loaded {self.loads} time(s) "
            f"({self.load_s:.2f} s), results written {self.driver_s:.2f} s, "
            f"workers idle {self.idle_per_task_s * 1000:.0f} ms per task (scheduling, transfer, waiting)"
        )

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["failed"] = [attrs.asdict(f) for f in self.failed]
        d["idle_per_task_s"] = self.idle_per_task_s
        return d


def summarise(
    executor: str, n: int, outcomes: Mapping[Any, Outcome], failed: list[Failure], wall_s: float, driver_s: float
) -> RunSummary:
    workers = {o.worker for o in outcomes.values()}
    return RunSummary(
        executor=executor, tasks=n, done=len(outcomes), failed=tuple(failed), workers=len(workers) or 1,
        wall_s=wall_s, compute_s=sum(o.compute_s for o in outcomes.values()),
        load_s=sum(o.load_s for o in outcomes.values()), loads=sum(o.loaded for o in outcomes.values()),
        driver_s=driver_s,
    )
