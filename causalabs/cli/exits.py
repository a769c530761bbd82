"""Exit statuses of the command line: every exception a command lets out becomes a status and one line.

0 verified / proved / done, 1 refuted (and nothing else), 2 usage or input error, 3 inconclusive /
unknown, 4 a failure inside the user's code, 5 the environment (an output path that cannot be
written, a full disk), 70 an internal error of causalabs.  Click's own usage errors (an unknown
option, a missing argument) keep click's message and exit 2.
"""

from __future__ import annotations

import errno
import sys
import traceback
from typing import Any

import click
import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from causalabs._version import __version__
from causalabs.errors import CausalabsError, ExecutorError, OutputPathError, UserCodeError
from causalabs.usercode import blame, located, one_line, shown_path, what_happened

err = Console(stderr=True)

EXIT_OK, EXIT_REFUTED, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3
EXIT_USER_CODE, EXIT_ENVIRONMENT, EXIT_INTERNAL = 4, 5, 70

#: ``OSError`` numbers that mean the machine, not causalabs or the input: exit 5.
ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name) for name in
    ("ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "EISDIR", "ENOTDIR", "EMFILE", "ENFILE", "EIO", "EPIPE")
    if hasattr(errno, name)
)


def failure(exc: BaseException) -> tuple[int, str]:
    """The exit status and the one line of stderr for an exception that ended a command."""
    if isinstance(exc, UserCodeError):
        return EXIT_USER_CODE, f"error: {exc}"
    if isinstance(exc, (OutputPathError, ExecutorError)):  # a path that cannot be written; Ray missing or lost
        return EXIT_ENVIRONMENT, f"error: {exc}"
    if isinstance(exc, CausalabsError):
        return EXIT_USAGE, f"error: {exc}"
    if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
        what = f"{exc.filename}: " if exc.filename else ""
        return EXIT_ENVIRONMENT, f"error: {what}{exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return EXIT_ENVIRONMENT, "error: out of memory"
    owner, frame = blame(exc.__traceback__)
    if owner == "user" and frame is not None:  # user code that causalabs called without a guard
        return EXIT_USER_CODE, f"error: {located(frame, '')}: {what_happened(exc)}"
    at = f" at {shown_path(frame.filename)}:{frame.lineno}" if frame is not None else ""
    return EXIT_INTERNAL, (
        f"internal error: {what_happened(exc)}{at}: a bug in causalabs {__version__}; "
        "run again with `causalabs --traceback ...` for the full trace"
    )


def _click_outcomes() -> tuple[type[BaseException], ...]:
    """The exceptions click itself turns into an exit status: from the click package, and from the copy of
    click that typer carries (typer >= 0.24 raises its own ``typer._click`` classes, which the click
    package's ``except`` clauses do not catch)."""
    families = [click]
    try:
        from typer import _click as carried

        families.append(carried)
    except ImportError:  # a typer that uses the click package
        pass
    outcomes: list[type[BaseException]] = [typer.Exit, typer.Abort]
    for family in families:
        outcomes += [getattr(family.exceptions, name) for name in ("ClickException", "Exit", "Abort")
                     if hasattr(family.exceptions, name)]
    return tuple(outcomes)


CLICK_OUTCOMES = _click_outcomes()


class CommandGroup(TyperGroup):
    """The command group: every exception a command lets out becomes an exit status and one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CLICK_OUTCOMES:  # usage errors (exit 2), --help, typer.Exit: click prints and exits
            raise
        except (Exception, SystemExit) as exc:  # KeyboardInterrupt goes on (exit 130)
            code, line = failure(exc)
            if ctx.params.get("show_traceback"):
                traceback.print_exception(exc, file=sys.stderr)
            print_error(line, internal=code == EXIT_INTERNAL)
            raise typer.Exit(code) from None


def literal(text: str, style: str = "") -> Text:
    """``text`` as rich shows it: literally (no markup: ``[pos -1]``, ``[/]`` and backslashes stay as written)."""
    return Text(text, style=style)


def print_error(line: str, *, internal: bool = False) -> None:
    """The one line of stderr for a failure: ``error:`` styled, the message printed literally."""
    head, _, rest = one_line(line, limit=4000).partition(": ")
    style = "bold red" if not internal else "bold magenta"
    err.print(Text.assemble((f"{head}:", style), " ", rest), highlight=False, soft_wrap=True)
