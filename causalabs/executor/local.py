"""The in-process executor (the default): tasks run one after another in the driver, in the order given."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from causalabs.executor.progress import task_bar
from causalabs.executor.tasks import Outcome, RunSummary, Shared, Task, execute, summarise


class LocalExecutor:
    """Runs every task in this process on the shared value as given; a task's exception ends the run at once
    (results already handed to ``on_done`` are kept: the driver has written them)."""

    name = "local"

    def run(
        self,
        tasks: Sequence[Task],
        shared: Shared,
        on_done: Callable[[Task, Any], None],
        *,
        progress: bool = False,
        label: str = "tasks",
    ) -> RunSummary:
        start = time.perf_counter()
        outcomes: dict[int, Outcome] = {}
        driver_s = 0.0
        factory = shared.factory if shared.value is None else None
        bar, bar_task = task_bar(progress, len(tasks), label)
        with bar:
            for i, task in enumerate(tasks):
                bar.update(bar_task, running=1, description=task.name)
                outcomes[i] = execute(shared.key, factory, shared.value, task.fn, task.args)
                t0 = time.perf_counter()
                on_done(task, outcomes[i].value)
                driver_s += time.perf_counter() - t0
                bar.update(bar_task, advance=1, running=0)
        return summarise(self.name, len(tasks), outcomes, [], time.perf_counter() - start, driver_s)
