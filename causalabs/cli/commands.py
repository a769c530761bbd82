"""The ``causalabs`` command line (typer): one function per command, each calling the library.

Exit status: 0 success/verified, 1 refuted, 3 inconclusive, 2 usage or input error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from causalabs.align.settings import DAS_SETTINGS
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

    try:
        catalogue = find_organisms(folder)
    except CausalabsError as exc:
        fail(str(exc))
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

    try:
        if search_method is None and (site or dims or save_alignment is not None):
            raise CausalabsError("--site, --dims and --save-alignment go with --search METHOD")
        request = None
        if search_method is not None:
            request = SearchRequest(search_method, tuple(site or ()), tuple(dims or ()), epochs, train_samples,
                                    save_alignment, lr, patience)
        code = run_verify(hypothesis, network, alignment, mode, threshold, seed, samples, json_out, request, sampling,
                          timeout=timeout, progress=False if no_progress else None)
    except CausalabsError as exc:
        fail(str(exc))
    raise typer.Exit(code)


@app.command()
def report(
    result: Path = typer.Argument(..., help="a JSON report written by `causalabs verify --json`"),
    fmt: str = typer.Option("txt", "--format", help="txt | md | tex | json"),
) -> None:
    """Render a saved report as text, Markdown, a LaTeX (booktabs) table, or JSON."""
    from causalabs.cli.verify import run_report

    try:
        typer.echo(run_report(result, fmt), nl=False)
    except CausalabsError as exc:
        fail(str(exc))


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

    try:
        code = run_search(hypothesis, network, site, method, dims, out, seed, samples, epochs, data, lr, patience)
    except CausalabsError as exc:
        fail(str(exc))
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

    try:
        code = run_scrub(hypothesis, network, alignment, json_out, n, seed, references, threshold)
    except CausalabsError as exc:
        fail(str(exc))
    raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except CausalabsError as exc:  # last line of defence: no tracebacks for input errors
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
