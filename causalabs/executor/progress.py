"""Rich progress bars on stderr, shown only when it is a terminal: a run's tasks, and the pairs a check runs.

``task_bar``: tasks done, running and failed.  :class:`PairBar`: pairs done of
a known total, pairs per second and the time left, started only once the work
has run ``delay`` seconds (short checks print nothing).  The engine counts
pairs through :func:`count_pairs`, once per batch; :func:`counting` routes
those counts to a bar (or any callable) for the work inside it.  Counts are
made in this process: tasks run elsewhere (``--executor ray``) count nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: Where :func:`count_pairs` sends its counts (None: nowhere).
_sink: Callable[[int], None] | None = None
#: :class:`PairBar` keywords while pair bars are on (:func:`pair_bars`); None: off (the API's default).
_bars: dict[str, Any] | None = None
#: Seconds of work before a :class:`PairBar` appears.
DELAY = 2.0


def count_pairs(n: int) -> None:
    """Report ``n`` more pairs run (the engine calls this once per batch)."""
    if _sink is not None:
        _sink(n)


@contextmanager
def counting(sink: Callable[[int], None] | None) -> Iterator[None]:
    """Send :func:`count_pairs`' counts to ``sink`` inside the block (None: nowhere), then restore the previous sink."""
    global _sink
    before, _sink = _sink, sink
    try:
        yield
    finally:
        _sink = before


def task_bar(enabled: bool, total: int, label: str) -> tuple[Any, Any]:
    """A started-on-enter rich ``Progress`` with one task of ``total`` steps, and that task's id."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(
        TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[running]} running, {task.fields[failed]} failed"), TimeElapsedColumn(),
        console=console, disable=not (enabled and console.is_terminal), transient=False,
    )
    return bar, bar.add_task(label, total=total, running=0, failed=0)


@contextmanager
def pair_bars(enabled: bool = True, **bar: Any) -> Iterator[None]:
    """Inside the block, :func:`pair_progress` shows a :class:`PairBar` (made with ``bar``'s keywords); the CLI
    turns this on, ``enabled=False`` (``--no-progress``) keeps it off."""
    global _bars
    before, _bars = _bars, (dict(bar) if enabled else None)
    try:
        yield
    finally:
        _bars = before


@contextmanager
def pair_progress(total: int, label: str) -> Iterator[None]:
    """Count the pairs the engine runs inside the block on a :class:`PairBar` of ``total`` pairs, when
    :func:`pair_bars` is on and no outer block already counts; otherwise nothing happens."""
    if _bars is None or _sink is not None:
        yield
        return
    with PairBar(total, label, **_bars) as bar, counting(bar.advance):
        yield


def _pace(task: Any) -> float | None:
    """Pairs per second: rich's estimate over its recent counts, else (a single count so far) the mean since the start."""
    speed = task.finished_speed or task.speed
    if speed is None and task.completed and task.elapsed:
        speed = task.completed / task.elapsed
    return speed


def _clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    m, s = divmod(int(math.ceil(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


class PairBar:
    """Pairs done / total, pairs per second, time left and elapsed, on stderr when it is a terminal.

    The bar appears only once ``delay`` seconds (default :data:`DELAY`) have
    passed since the block began (a timer, so a first batch slower than that
    shows the bar at 0 pairs), so work shorter than that prints nothing;
    ``enabled=False`` or a console that is not a terminal prints nothing ever.
    The bar never takes over stdout or stderr (a print of the user's code
    stays where it was going).  ``console`` and ``clock`` are for tests (a
    forced-terminal console, a fake clock); ``auto_refresh=False`` starts no
    thread: the bar is drawn only at counts (at most every 0.1 s of ``clock``)
    and appears at the first count after ``delay``.  Use as a context manager;
    :meth:`advance` is the sink for :func:`counting`.
    """

    def __init__(
        self, total: int, label: str = "pairs", *, enabled: bool = True, delay: float | None = None,
        console: Any = None, clock: Callable[[], float] | None = None, auto_refresh: bool = True,
    ) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Any:
                pace = _pace(task)
                return Text("? pairs/s" if pace is None else f"{pace:,.0f} pairs/s", style="progress.data.speed")

        class Left(ProgressColumn):
            def render(self, task: Any) -> Any:
                pace = _pace(task)
                left = None if not pace or task.total is None else max(0.0, task.total - task.completed) / pace
                return Text(_clock_text(left), style="progress.remaining")

        self.console = Console(stderr=True) if console is None else console
        self.clock = time.monotonic if clock is None else clock
        self.delay, self.auto_refresh = DELAY if delay is None else delay, auto_refresh
        self.enabled = enabled and self.console.is_terminal
        self.progress = Progress(
            TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("pairs"), Rate(),
            TextColumn("left"), Left(), TextColumn("elapsed"), TimeElapsedColumn(),
            console=self.console, get_time=self.clock, auto_refresh=auto_refresh, transient=False,
            redirect_stdout=False, redirect_stderr=False,
        )
        self.task = self.progress.add_task(label, total=total)
        self.started_at = self.clock()
        self.shown = self.closed = False
        self._drawn = -1.0
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def _show(self) -> None:
        with self._lock:
            if not (self.shown or self.closed):
                self.progress.start()
                self.shown = True

    def advance(self, n: int) -> None:
        """Count ``n`` more pairs; show the bar once the work has run ``delay`` seconds."""
        self.progress.update(self.task, advance=n)
        if not self.enabled:
            return
        now = self.clock()
        if not self.shown and now - self.started_at >= self.delay:
            self._show()
        if self.shown and not self.auto_refresh and now - self._drawn >= 0.1:
            self.progress.refresh()
            self._drawn = now

    def __enter__(self) -> PairBar:
        if self.enabled and self.auto_refresh:
            self._timer = threading.Timer(self.delay, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self.closed = True
            if self.shown:
                self.progress.stop()  # the last frame stays on the terminal
