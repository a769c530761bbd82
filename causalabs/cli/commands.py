"""The ``causalabs`` command line (typer): one function per command, each calling the library.

Exit status: 0 verified / proved / done, 1 refuted (and nothing else), 2 usage or input error,
3 inconclusive / unknown, 4 a failure inside the user's code, 5 the environment (an output path
that cannot be written), 70 an internal error of causalabs.
"""

from __future__ import annotations

import errno
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from causalabs._version import __version__
from causalabs.align.settings import DAS_SETTINGS
from causalabs.errors import CausalabsError, LoadError, OutputPathError, UserCodeError
from causalabs.loading import hypothesis_classes, load_hypothesis, load_module, split_ref
from causalabs.scm.render import render_latex, render_text
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
    if isinstance(exc, OutputPathError):
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


class _Commands(TyperGroup):
    """The command group: every exception a command lets out becomes an exit status and one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except (Exception, SystemExit) as exc:  # KeyboardInterrupt goes on (exit 130)
            code, line = failure(exc)
            if ctx.params.get("show_traceback"):
                traceback.print_exception(exc, file=sys.stderr)
            head, _, rest = one_line(line, limit=4000).partition(": ")
            style = "bold red" if code != EXIT_INTERNAL else "bold magenta"
            err.print(f"[{style}]{escape(head)}:[/] {escape(rest)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None


app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, cls=_Commands)


@app.callback()
def _root(
    show_traceback: Annotated[
        bool,
        typer.Option(
            "--traceback", envvar="CAUSALABS_TRACEBACK",
            help="on an error, print the full Python trace before the one-line message",
        ),
    ] = False,
) -> None:
    """causalabs: state a causal-abstraction claim, check it, get a verdict."""


def _list_hypotheses(path: str) -> None:
    module = load_module(path)
    classes = hypothesis_classes(module)
    if not classes:
        raise LoadError(f"{path}: defines no causalabs.Hypothesis subclass")
    typer.echo(f"{path} defines {len(classes)} hypothesis class{'es' if len(classes) > 1 else ''}:")
    for cls in classes:
        doc = (cls.__doc__ or "").strip().splitlines()
        typer.echo(f"  {path}:{cls.__name__}" + (f"  {doc[0]}" if doc else ""))


@app.command()
def show(
    hypothesis: str = typer.Argument(..., help="path/file.py:ClassName, or path/file.py to list its classes"),
    latex: bool = typer.Option(False, "--latex", help="print LaTeX instead of text"),
) -> None:
    """Print a hypothesis' variables, domains, mechanisms and graph (or list the classes of a file)."""
    if split_ref(hypothesis)[1] is None:
        _list_hypotheses(hypothesis)
        return
    hyp = load_hypothesis(hypothesis)
    typer.echo(render_latex(hyp) if latex else render_text(hyp))


DEFAULT_ORGANISMS = Path("models")


@app.command()
def models(
    folder: Annotated[
        Path, typer.Argument(metavar="FOLDER", help="folder of organism files (network files with TASK and metadata)")
    ] = DEFAULT_ORGANISMS,
    measure: Annotated[
        bool, typer.Option("--measure", help="recompute each accuracy over the hypothesis' whole input domain")
    ] = False,
) -> None:
    """List the model organisms in FOLDER: task, size, accuracy, hypotheses and known alignment."""
    from rich.table import Table

    from causalabs.organisms import find_organisms, task_accuracy

    catalogue = find_organisms(folder)
    for path, reason in catalogue.skipped:
        err.print(f"[dim]skipped {path}: {reason}[/]", highlight=False, soft_wrap=True)
    if not catalogue.organisms:
        err.print(f"no organisms in {folder}", highlight=False, soft_wrap=True)
        return
    table = Table(title=f"organisms in {folder}", show_lines=True)
    for column in ("organism", "task", "params", "accuracy", "hypothesis", "wrong", "alignment"):
        table.add_column(column, justify="right" if column == "params" else "left", overflow="fold")
    for org in catalogue.organisms:
        info = org.info
        accuracy = "-" if info.accuracy is None else f"{info.accuracy:.4f}"
        if measure:
            try:
                est = task_accuracy(org.network, org.hypothesis())
                accuracy = f"{est.value:.4f} ({est.successes}/{est.n})"
            except CausalabsError as exc:
                accuracy = "?"
                err.print(f"[yellow]{org.name}: accuracy not measured: {exc}[/]", highlight=False, soft_wrap=True)
        hypothesis = _class_name(info.hypothesis)
        if info.also_correct:
            hypothesis += " (also " + ", ".join(map(_class_name, info.also_correct)) + ")"
        cells = (
            org.name,
            info.task,
            f"{org.parameters:,}",
            accuracy,
            hypothesis,
            ", ".join(map(_class_name, info.wrong)) or "-",
            "\n".join(f"{v} -> {s}" for v, s in info.alignment.items()) or "-",
        )
        table.add_row(*map(escape, cells))  # site names hold brackets, not markup
    Console().print(table)


def _class_name(ref: str) -> str:
    return ref.rpartition(":")[2]


@app.command()
def verify(
    hypothesis: str = typer.Argument(..., help="path/file.py:ClassName"),
    network: str = typer.Option(..., "--network", help="network file (path/file.py with load())"),
    alignment: str = typer.Option(
        None, "--alignment", help="alignment file (.json), or path/file.py:function; default: the network file's alignment()"
    ),
    mode: str = typer.Option("exhaustive", "--mode", help="exhaustive | sample | falsify | prove"),
    threshold: float = typer.Option(
        1.0, "--threshold",
        help="IIA each variable set must reach on changed and on unchanged pairs (default 1: an exact abstraction)",
    ),
    seed: int = typer.Option(0, "--seed", help="seed for sampling and search"),
    samples: int = typer.Option(2000, "--samples", help="pairs per variable set in sample mode"),
    sampling: str = typer.Option(
        "balanced", "--sampling",
        help="sample mode: balanced (half changed, half unchanged pairs) | random (uniform pairs)",
    ),
    json_out: Path = typer.Option(None, "--json", help="also write the report as JSON here"),
    search_method: str = typer.Option(
        None, "--search", help="find the alignment first: das | boundless | neurons | pca (instead of --alignment)"
    ),
    site: list[str] = typer.Option(
        None, "--site", help="with --search: a module path for every variable, or VARIABLE=MODULE (repeat)"
    ),
    dims: list[str] = typer.Option(None, "--dims", help="with --search: VARIABLE=K coordinates (default 1 each)"),
    epochs: int = typer.Option(
        DAS_SETTINGS.epochs, "--epochs", help="with --search: the cap on training epochs (das, boundless)"
    ),
    lr: float = typer.Option(DAS_SETTINGS.lr, "--lr", help="with --search: learning rate (das, boundless)"),
    patience: int = typer.Option(
        DAS_SETTINGS.patience, "--patience", help="with --search: stop after this many epochs without held-out gain"
    ),
    train_samples: int = typer.Option(512, "--train-samples", help="with --search: training pairs per variable set"),
    save_alignment: Path = typer.Option(None, "--save-alignment", help="with --search: save the found alignment here"),
    timeout: float = typer.Option(None, "--timeout", help="prove: give up after SECONDS, answering unknown (exit 3)"),
    no_progress: bool = typer.Option(False, "--no-progress", help="prove: no progress line on stderr"),
) -> None:
    """Check that NETWORK implements HYPOTHESIS under the alignment: exit 0 verified, 1 refuted, 3 inconclusive.

    The alignment is a saved file or function (--alignment), the network file's alignment(), or found here by
    --search METHOD at --site (trained on pairs drawn away from the verifier's seeds).
    """
    from causalabs.cli.verify import SearchRequest, run_verify

    if search_method is None and (site or dims or save_alignment is not None):
        raise LoadError("--site, --dims and --save-alignment go with --search METHOD")
    request = None
    if search_method is not None:
        request = SearchRequest(search_method, tuple(site or ()), tuple(dims or ()), epochs, train_samples,
                                save_alignment, lr, patience)
    code = run_verify(hypothesis, network, alignment, mode, threshold, seed, samples, json_out, request, sampling,
                      timeout=timeout, progress=False if no_progress else None)
    raise typer.Exit(code)


@app.command()
def report(
    result: Path = typer.Argument(..., help="a JSON report written by `causalabs verify --json`"),
    fmt: str = typer.Option("txt", "--format", help="txt | md | tex | json"),
) -> None:
    """Render a saved report as text, Markdown, a LaTeX (booktabs) table, or JSON."""
    from causalabs.cli.verify import run_report

    typer.echo(run_report(result, fmt), nl=False)


@app.command()
def search(
    hypothesis: str = typer.Argument(..., help="path/file.py:ClassName"),
    network: str = typer.Option(..., "--network", help="network file (path/file.py with load())"),
    site: list[str] = typer.Option(..., "--site", help="module path to search (repeat, or comma-separate: --site 2,0)"),
    method: str = typer.Option("das", "--method", help="das | boundless | neurons | pca"),
    dims: list[str] = typer.Option(None, "--dims", help="VAR=K coordinates per variable (repeat; default 1 each)"),
    out: Path = typer.Option(None, "--out", help="output folder (default runs/search-<network>-<hypothesis>)"),
    seed: int = typer.Option(0, "--seed", help="seed for the datasets and the fits"),
    samples: int = typer.Option(512, "--samples", help="pairs per variable set, in each of train and test"),
    epochs: int = typer.Option(DAS_SETTINGS.epochs, "--epochs", help="the cap on training epochs (das, boundless)"),
    lr: float = typer.Option(DAS_SETTINGS.lr, "--lr", help="learning rate (das, boundless)"),
    patience: int = typer.Option(
        DAS_SETTINGS.patience, "--patience", help="stop training after this many epochs without held-out gain"
    ),
    data: str = typer.Option("balanced", "--data", help="balanced | random counterfactual pairs"),
) -> None:
    """Search for each internal variable at each SITE: held-out IIA table, heatmap and saved alignments in --out."""
    from causalabs.cli.search import run_search

    code = run_search(hypothesis, network, site, method, dims, out, seed, samples, epochs, data, lr, patience)
    raise typer.Exit(code)


@app.command()
def scrub(
    hypothesis: str = typer.Argument(..., help="path/file.py:ClassName"),
    network: str = typer.Option(..., "--network", help="network file (path/file.py with load())"),
    alignment: str = typer.Option(
        None, "--alignment", help="alignment file (.json), or path/file.py:function; default: the network file's alignment()"
    ),
    json_out: Path = typer.Option(None, "--json", help="also write the result as JSON here"),
    n: int = typer.Option(1000, "--n", help="number of reference inputs"),
    seed: int = typer.Option(0, "--seed", help="seed for references and resampling"),
    references: str = typer.Option(
        "auto", "--references",
        help="auto | balanced | uniform: auto balances the references over the output when one value holds >= 90%",
    ),
    threshold: float = typer.Option(
        None, "--threshold", help="give a verdict: verified iff loss recovered's lower bound >= T, refuted iff upper < T"
    ),
) -> None:
    """Causal-scrub HYPOTHESIS on NETWORK under the alignment: loss recovered and accuracy with intervals.

    Without --threshold exit 0; with it, exit 0 verified, 1 refuted, 3 inconclusive.
    """
    from causalabs.cli.search import run_scrub

    code = run_scrub(hypothesis, network, alignment, json_out, n, seed, references, threshold)
    raise typer.Exit(code)


def main() -> None:
    """The ``causalabs`` program: the app, with every failure mapped to its exit status (see :func:`failure`)."""
    app()


if __name__ == "__main__":
    main()
