"""The Ray executor: every task a Ray task, the shared value built once per worker, results handed to the driver.

``RayExecutor(address=None)`` joins the cluster at ``address`` (``"auto"``: the
one ``ray start --head`` started on this machine) or, with none, starts a
local one; a Ray session that is already up is used as it is.  Each task asks
for ``cpus_per_task`` CPUs and ``gpus_per_task`` GPUs; a task whose worker
dies (killed, out of memory, a lost node) is retried by Ray up to
``max_retries`` times; a task whose own code raised is not retried (the same
key gives the same error) but reported.  Every other task still runs and is
handed to the driver, then the first failure is raised: its own exception
when the task's code raised, else :class:`~causalabs.errors.ExecutorError`
naming the task.

What travels: the task's function and arguments (pickled; the code of
user files loaded by causalabs, ``_causalabs_file_*`` modules, travels by
value; an argument several tasks share, such as the inputs of an exhaustive
check, goes through Ray's object store once), and the shared value: its factory (a network file's path, loaded
on the worker: the file must exist at that path there) or, without one, the
value itself through Ray's object store, once.  causalabs, torch and the
user's other imports must be installed on every worker.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from causalabs.errors import ExecutorError
from causalabs.executor.progress import task_bar
from causalabs.executor.tasks import Failure, Outcome, RunSummary, Shared, Task, execute, summarise

#: Retries of a task whose worker died (Ray's ``max_retries``).
MAX_RETRIES = 3
#: Prefix of the modules :func:`causalabs.loading.load_module` gives user files.
USER_MODULE_PREFIX = "_causalabs_file_"


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError(
            "executor 'ray' needs Ray: pip install 'causalabs[ray]' (or choose executor 'local')"
        ) from exc
    return ray


def _from_store(refs: list[Any]) -> Any:
    import ray

    return ray.get(refs[0])


def _execute(key: str, factory: Callable[[], Any], fn: Callable[..., Any], *args: Any) -> Outcome:
    """A Ray task: its arguments come one by one, so Ray resolves those put in its object store."""
    return execute(key, factory, None, fn, args)


def _stored_once(ray: Any, tasks: Sequence[Task]) -> dict[int, Any]:
    """Arguments that several tasks share (the same object: the inputs of an exhaustive check, a method), put
    into the object store once instead of being shipped with every task."""
    seen: dict[int, int] = {}
    for t in tasks:
        for a in t.args:
            if not isinstance(a, (str, bytes, int, float, bool, type(None))):
                seen[id(a)] = seen.get(id(a), 0) + 1
    refs: dict[int, Any] = {}
    for t in tasks:
        for a in t.args:
            if seen.get(id(a), 0) > 1 and id(a) not in refs:
                refs[id(a)] = ray.put(a)
    return refs


class RayExecutor:
    """Runs tasks as Ray tasks (see the module's text); ``init`` holds extra ``ray.init`` keywords for a local start."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        cpus_per_task: float = 1,
        gpus_per_task: float = 0,
        max_retries: int = MAX_RETRIES,
        init: dict[str, Any] | None = None,
    ) -> None:
        if not cpus_per_task >= 0 or not gpus_per_task >= 0 or (cpus_per_task == 0 and gpus_per_task == 0):
            raise ExecutorError(
                f"executor 'ray': a task needs some CPUs or GPUs (cpus_per_task={cpus_per_task}, "
                f"gpus_per_task={gpus_per_task})"
            )
        if max_retries < 0:
            raise ExecutorError(f"executor 'ray': max_retries must be at least 0, got {max_retries}")
        self.address = address
        self.cpus_per_task = cpus_per_task
        self.gpus_per_task = gpus_per_task
        self.max_retries = max_retries
        self.init = dict(init or {})

    def _connect(self) -> Any:
        ray = _ray()
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False, **self.init)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = self.address or "a new local cluster"
                raise ExecutorError(f"executor 'ray': cannot start or join {where}: {exc}") from exc
        for name, module in list(sys.modules.items()):  # user files travel by value: workers cannot import them
            if name.startswith(USER_MODULE_PREFIX):
                ray.cloudpickle.register_pickle_by_value(module)
        return ray

    def run(
        self,
        tasks: Sequence[Task],
        shared: Shared,
        on_done: Callable[[Task, Any], None],
        *,
        progress: bool = False,
        label: str = "tasks",
    ) -> RunSummary:
        ray = self._connect()
        start = time.perf_counter()
        factory = shared.factory
        if factory is None:
            factory = functools.partial(_from_store, [ray.put(shared.value)])
        remote = ray.remote(_execute).options(
            num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task, max_retries=self.max_retries,
            retry_exceptions=False,
        )
        stored = _stored_once(ray, tasks)
        pending = {
            remote.remote(shared.key, factory, t.fn, *(stored.get(id(a), a) for a in t.args)): (i, t)
            for i, t in enumerate(tasks)
        }
        outcomes: dict[int, Outcome] = {}
        failed: list[Failure] = []
        first_error: BaseException | None = None
        driver_s = 0.0
        slots = max(1, int(ray.cluster_resources().get("CPU", 1) // max(self.cpus_per_task, 1e-9))) \
            if self.cpus_per_task else len(tasks)
        bar, bar_task = task_bar(progress, len(tasks), label)
        with bar:
            while pending:
                bar.update(bar_task, running=min(len(pending), slots))
                done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for ref in done:
                    i, task = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the task's own code raised: not retried
                        cause = getattr(exc, "cause", None) or exc
                        failed.append(Failure(task.name, f"{type(cause).__name__}: {cause}", 1))
                        first_error = first_error or cause
                    except ray.exceptions.RayError as exc:  # its worker died on every attempt
                        failed.append(Failure(task.name, f"{type(exc).__name__}: {exc}", self.max_retries + 1))
                        first_error = first_error or ExecutorError(
                            f"executor 'ray': task {task.name} failed {self.max_retries + 1} time(s): "
                            f"{type(exc).__name__}"
                        )
                    else:
                        outcomes[i] = outcome
                        t0 = time.perf_counter()
                        on_done(task, outcome.value)
                        driver_s += time.perf_counter() - t0
                        bar.update(bar_task, advance=1)
                        continue
                    bar.update(bar_task, advance=1, failed=len(failed))
        summary = summarise(self.name, len(tasks), outcomes, failed, time.perf_counter() - start, driver_s)
        if first_error is not None:
            raise first_error
        return summary
