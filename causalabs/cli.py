"""The ``causalabs`` command line (typer).  Thin: every command calls a library function.

Exit status: 0 success/verified, 1 refuted, 3 inconclusive, 2 usage or input error.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

from causalabs.errors import CausalabsError
from causalabs.loading import load_hypothesis
from causalabs.scm.render import render_latex, render_text

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
err = Console(stderr=True)

EXIT_OK, EXIT_REFUTED, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3


@app.callback()
def _root() -> None:
    """causalabs: state a causal-abstraction claim, check it, get a verdict."""


def fail(message: str) -> NoReturn:
    """Print one clear line on stderr and exit 2 (usage or input error)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


@app.command()
def show(
    hypothesis: str = typer.Argument(..., help="path/file.py:ClassName"),
    latex: bool = typer.Option(False, "--latex", help="print LaTeX instead of text"),
) -> None:
    """Print a hypothesis' variables, domains, mechanisms and graph."""
    try:
        hyp = load_hypothesis(hypothesis)
    except CausalabsError as exc:
        fail(str(exc))
    typer.echo(render_latex(hyp) if latex else render_text(hyp))


def main() -> None:
    try:
        app()
    except CausalabsError as exc:  # last line of defence: no tracebacks for input errors
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
