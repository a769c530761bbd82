"""The clock of one :func:`causalabs.verification.prove` call: its timeout and its progress display.

:class:`Watch` holds the deadline (``timeout`` seconds from the start, or
none) and raises :class:`ProofTimeout` from :meth:`Watch.check` once it has
passed; the long loops of the proof call :meth:`Watch.advance` often, and
z3 gets the time that is left as its own limit.

The progress display is a ``rich`` progress line on stderr: the current
stage (which variable set, which method), a count where there is one, and
the elapsed time.  It appears only once a proof has run for
``DELAY_S`` seconds, so quick proofs print nothing, is removed when the
proof ends, and is shown by default only when stderr is a terminal
(``progress=False`` turns it off, ``progress=True`` forces it).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

__all__ = ["DELAY_S", "ProofTimeout", "Watch"]

#: A proof shows progress once it has run this long.
DELAY_S = 1.0


class ProofTimeout(Exception):
    """The proof's ``timeout`` passed during ``stage``."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


class Watch:
    """Deadline and progress of one proof; use as a context manager."""

    def __init__(self, timeout: float | None, progress: bool | None) -> None:
        self.start = time.perf_counter()
        self.timeout = timeout
        self.deadline = None if timeout is None else self.start + timeout
        self.stage_text = "preparing"
        self._lock = threading.Lock()
        self._closed = False
        self._bar = None
        self._task = None
        self._timer: threading.Timer | None = None
        if self._wanted(progress):
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                SpinnerColumn(), TextColumn("prove: {task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True,
            )
            self._task = self._bar.add_task(self.stage_text, total=None)
            self._timer = threading.Timer(DELAY_S, self._show)
            self._timer.daemon = True
            self._timer.start()

    @staticmethod
    def _wanted(progress: bool | None) -> bool:
        if progress is not None:
            return bool(progress)
        from rich.console import Console

        return Console(stderr=True).is_terminal

    def _show(self) -> None:
        with self._lock:
            if not self._closed and self._bar is not None:
                self._bar.start()

    @property
    def shown(self) -> bool:
        """True once the progress display has appeared."""
        return self._bar is not None and self._bar.live.is_started

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float | None:
        """Seconds left before the deadline (None without a timeout)."""
        return None if self.deadline is None else self.deadline - time.perf_counter()

    def check(self) -> None:
        """Raise :class:`ProofTimeout` once the deadline has passed."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise ProofTimeout(self.stage_text)

    def stage(self, text: str, total: int | None = None) -> None:
        """A new stage of the proof (``total`` steps, or an open count)."""
        self.stage_text = text
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=text, total=total, completed=0)
        self.check()

    def advance(self, steps: int = 1) -> None:
        """``steps`` more of the current stage done; then :meth:`check`."""
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, steps)
        self.check()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._bar is not None and self._bar.live.is_started:
                self._bar.stop()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
