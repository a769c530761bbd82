"""One rich progress bar for a run: tasks done, running and failed, on stderr when it is a terminal."""

from __future__ import annotations

from typing import Any


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
