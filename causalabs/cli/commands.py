"""The ``causalabs`` command line (typer): one function per command, each calling the library.

Exit status: 0 verified / proved / done, 1 refuted (and nothing else), 2 usage or input error,
3 inconclusive / unknown, 4 a failure inside the user's code, 5 the environment (an output path
that cannot be written), 70 an internal error of causalabs.
The text users see in ``--help`` is :data:`HELP` and each command's docstring.

Long on purpose: it holds one idea, the declaration of every command and its options (their logic
lives in the modules each command calls: verify, search, run_options, budget, lm_sweep...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from causalabs.align.settings import DAS_SETTINGS
from causalabs.cli import results as _results  # plan, report, plot: registered below in the help's order
from causalabs.cli.exits import CommandGroup, err, literal
from causalabs.cli.run_options import (
    BatchSizeOption, BudgetOption, DeviceOption, DtypeOption, LayersOption, PositionsOption, ThreadsOption, run_options,
)
from causalabs.cli.metric import MetricOption
from causalabs.cli.scale import CpusOption, ExecutorOption, GpusOption, RayAddressOption, Scale
from causalabs.errors import CausalabsError, LoadError
from causalabs.executor.progress import pair_bars
from causalabs.loading import hypothesis_classes, load_hypothesis, load_module, split_ref
from causalabs.scm.render import render_latex, render_text

HELP = """Check a causal-abstraction claim about a neural network.

A claim names a hypothesis (a Python class whose variables have sympy
mechanisms), a network file (whose load() returns a causalabs.Network) and an
alignment (which part of the network holds each hypothesis variable).
`causalabs verify` checks it and prints the verdict, the evidence and, when
it fails, a counterexample with one line that replays it in Python.

\b
Exit status:
  0  verified (or proved)
  1  refuted, and nothing else
  2  usage or input error
  3  inconclusive (or unknown; falsify found nothing)
  4  an error inside your code (network file, encode, decode, alignment)
  5  the environment (an output file that cannot be written)
  70 an internal error of causalabs (a bug: please report it)
"""

# Plain help (click's): flags print without a type, values with their metavar, at any width.
app = typer.Typer(add_completion=False, no_args_is_help=True, help=HELP, cls=CommandGroup, rich_markup_mode=None)


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
    """Check a causal-abstraction claim about a neural network."""


def _list_hypotheses(path: str) -> None:
    module = load_module(path)
    classes = hypothesis_classes(module)
    if not classes:
        raise LoadError(f"{path}: defines no causalabs.Hypothesis subclass")
    typer.echo(f"{path} defines {len(classes)} hypothesis class{'es' if len(classes) > 1 else ''}:")
    for cls in classes:
        doc = (cls.__doc__ or "").strip().splitlines()
        typer.echo(f"  {path}:{cls.__name__}" + (f"  {doc[0]}" if doc else ""))


@app.command(short_help="Print a hypothesis: variables, domains, mechanisms, graph.")
def show(
    hypothesis: str = typer.Argument(
        ..., metavar="FILE.py[:CLASS]", help="the hypothesis: a file and the class in it, or a file to list its classes"
    ),
    latex: bool = typer.Option(False, "--latex", help="print LaTeX instead of text"),
) -> None:
    """Print a hypothesis: its variables with their domains, its mechanisms and its causal graph (or list the
    hypothesis classes of a file)."""
    if split_ref(hypothesis)[1] is None:
        _list_hypotheses(hypothesis)
        return
    hyp = load_hypothesis(hypothesis)
    typer.echo(render_latex(hyp) if latex else render_text(hyp))


@app.command(short_help="List rival hypotheses: the same outputs, another mechanism inside.")
def rivals(
    hypothesis: str = typer.Argument(..., metavar="FILE.py:CLASS", help="the hypothesis"),
    limit: int = typer.Option(None, "--max", metavar="N", help="stop after N rivals"),
    budget: float = typer.Option(300.0, "--budget", metavar="SECONDS",
                                 help="wall-clock safety stop (a run it stops is reported as incomplete)"),
    work: int = typer.Option(30_000, "--work", metavar="STEPS", help="work budget in steps (deterministic)"),
    out: Path = typer.Option(None, "--out", metavar="FILE.py", help="also write the rivals as a hypothesis file"),
) -> None:
    """Print the rivals of a hypothesis (see docs/rivals.md), each rendered as `causalabs show` does."""
    from causalabs.cli.rivals import run_rivals

    raise typer.Exit(run_rivals(hypothesis, limit, budget, out, work))


DEFAULT_ORGANISMS = Path("models")


@app.command(short_help="List the model organisms (networks whose mechanism is known).")
def models(
    folder: Annotated[
        Path, typer.Argument(metavar="FOLDER", help="folder of organism files (default: models)", show_default=False)
    ] = DEFAULT_ORGANISMS,
    measure: Annotated[
        bool, typer.Option("--measure", help="recompute each accuracy over the hypothesis' whole input domain")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the catalogue as JSON (for machines)")] = False,
) -> None:
    """List the model organisms in FOLDER: networks whose mechanism is known.

    For each: its task, size, accuracy, the hypothesis it implements, wrong
    twins it does not implement, and its known alignment.  A table on a wide
    terminal, one block per organism on a narrow one or in a pipe; --json for
    machines.
    """
    from causalabs.cli.layout import print_table
    from causalabs.organisms import find_organisms, task_accuracy

    catalogue = find_organisms(folder)
    for path, reason in catalogue.skipped:
        err.print(literal(f"skipped {path}: {reason}", "dim"), highlight=False, soft_wrap=True)
    if not catalogue.organisms:
        err.print(literal(f"no organisms in {folder}"), highlight=False, soft_wrap=True)
        return
    rows, entries = [], []
    for org in catalogue.organisms:
        info = org.info
        accuracy = "-" if info.accuracy is None else f"{info.accuracy:.4f}"
        measured: dict[str, float | int] | None = None
        if measure:
            try:
                est = task_accuracy(org.network, org.hypothesis())
                accuracy = f"{est.value:.4f} ({est.successes}/{est.n})"
                measured = {"value": est.value, "successes": int(est.successes or 0), "n": est.n}
            except CausalabsError as exc:
                accuracy = "?"
                err.print(literal(f"{org.name}: accuracy not measured: {exc}", "yellow"), highlight=False,
                          soft_wrap=True)
        entries.append({
            "organism": org.name, "task": info.task, "parameters": org.parameters, "accuracy": info.accuracy,
            **({"measured_accuracy": measured} if measure else {}),
            "hypothesis": info.hypothesis, "also_correct": list(info.also_correct), "wrong": list(info.wrong),
            "alignment": dict(info.alignment),
        })
        hypothesis = _class_name(info.hypothesis)
        if info.also_correct:
            hypothesis += " (also " + ", ".join(map(_class_name, info.also_correct)) + ")"
        rows.append((
            org.name,
            info.task,
            f"{org.parameters:,}",
            accuracy,
            hypothesis,
            ", ".join(map(_class_name, info.wrong)) or "-",
            "\n".join(f"{v} -> {s}" for v, s in info.alignment.items()) or "-",
        ))
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    columns = ("organism", "task", "params", "accuracy", "hypothesis", "wrong", "alignment")
    print_table(f"organisms in {folder}", columns, rows, right=("params",), inline=("params", "accuracy"),
                show_lines=True)


def _class_name(ref: str) -> str:
    return ref.rpartition(":")[2]


# The claim's parts, named the same way by every command that takes them.
HypothesisRef = Annotated[str, typer.Argument(metavar="FILE.py:CLASS", help="the hypothesis: a file and the class in it")]
NetworkFile = Annotated[
    str, typer.Option("--network", metavar="FILE.py", help="the network file (its load() returns the network)")
]
AlignmentRef = Annotated[
    "str | None",
    typer.Option(
        "--alignment", metavar="REF",
        help="a saved alignment (.json) or FILE.py:FUNCTION; default: the network file's alignment()",
    ),
]


@app.command(short_help="Check a claim: verdict, evidence, counterexample.")
def verify(
    hypothesis: HypothesisRef,
    network: NetworkFile,
    alignment: AlignmentRef = None,
    mode: str = typer.Option(
        "exhaustive", "--mode", metavar="MODE",
        help="exhaustive (every pair, exact), sample (sampled pairs, bounds), sequential (sampled in growing "
        "batches until decided), falsify (search for one disagreement) or prove (z3, ReLU networks)",
    ),
    threshold: float = typer.Option(
        1.0, "--threshold", metavar="T",
        help="the IIA each variable set must reach on changed and on unchanged pairs (1: an exact abstraction)",
    ),
    seed: int = typer.Option(
        0, "--seed", metavar="N", help="seed of sample, falsify and --search (exhaustive and prove use none)"
    ),
    samples: int = typer.Option(2000, "--samples", metavar="N",
                                help="sample mode (and --metric in other modes): pairs per variable set"),
    sampling: str = typer.Option(
        "balanced", "--sampling", metavar="HOW",
        help="sample mode: balanced (half changed, half unchanged pairs) or random (uniform pairs)",
    ),
    json_out: Path = typer.Option(None, "--json", metavar="FILE", help="also write the report here as JSON"),
    search_method: str = typer.Option(
        None, "--search", metavar="METHOD", help="find the alignment first: das, boundless, neurons or pca"
    ),
    site: list[str] = typer.Option(
        None, "--site", metavar="SITE",
        help="with --search: where to look, a site for every variable or VARIABLE=SITE (repeat); a site is a "
        "module path, optionally with .input and [pos P] (P: integers, last, slot:S, slot:S:last)",
    ),
    dims: list[str] = typer.Option(
        None, "--dims", metavar="VAR=K", help="with --search: coordinates per variable (default 1 each)"
    ),
    epochs: int = typer.Option(
        DAS_SETTINGS.epochs, "--epochs", metavar="N", help="with --search: the cap on training epochs (das, boundless)"
    ),
    train_samples: int = typer.Option(
        512, "--train-samples", metavar="N", help="with --search: training pairs per variable set"
    ),
    save_alignment: Path = typer.Option(
        None, "--save-alignment", metavar="FILE", help="with --search: save the alignment it finds"
    ),
    lr: float = typer.Option(
        DAS_SETTINGS.lr, "--lr", metavar="RATE", help="with --search: learning rate (das, boundless)"
    ),
    patience: int = typer.Option(
        DAS_SETTINGS.patience, "--patience", metavar="N",
        help="with --search: stop after this many epochs without held-out gain",
    ),
    timeout: float = typer.Option(
        None, "--timeout", metavar="SECONDS", help="prove: give up after SECONDS, answering unknown (exit 3)"
    ),
    no_progress: bool = typer.Option(
        False, "--no-progress", help="no progress on stderr (pairs/s and time left; prove: its progress line)"
    ),
    max_pairs: int = typer.Option(
        None, "--max-pairs", metavar="N", help="sequential mode: the budget, pairs per variable set (default 20000)"
    ),
    max_seconds: float = typer.Option(
        None, "--max-seconds", metavar="SECONDS", help="sequential mode: stop undecided after SECONDS (exit 3)"
    ),
    rivals: int = typer.Option(
        None, "--rivals", metavar="N", help="exhaustive or sample: also check N generated rivals (identification)"
    ),
    budget_seconds: BudgetOption = 3600.0,
    metric: MetricOption = "iia",  # LM metrics: cli/metric.py
    device: DeviceOption = None, threads: ThreadsOption = None,  # run options: cli/run_options.py
    batch_size: BatchSizeOption = None, dtype: DtypeOption = None,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    cpus_per_task: CpusOption = 1.0,
    gpus_per_task: GpusOption = 0.0,
) -> None:
    """Check that the network implements the hypothesis under the alignment.

    Prints the verdict first, then the claim, the evidence per variable set
    and, when refuted by a pair, that counterexample with one replay line to
    paste into Python.  The alignment is --alignment, the network file's
    alignment(), or found first by --search METHOD at --site.

    \b
    Example:
      causalabs verify hypotheses/hierarchical_equality.py:HierarchicalEquality \\
          --network models/heq_handbuilt.py
    """
    from causalabs.cli.verify import SearchRequest, run_verify

    if search_method is None and (site or dims or save_alignment is not None):
        raise LoadError("--site, --dims and --save-alignment go with --search METHOD")
    request = None
    if search_method is not None:
        request = SearchRequest(search_method, tuple(site or ()), tuple(dims or ()), epochs, train_samples,
                                save_alignment, lr, patience)
    with run_options(device, threads, batch_size, dtype), pair_bars(not no_progress):  # pairs/s, time left
        code = run_verify(hypothesis, network, alignment, mode, threshold, seed, samples, json_out, request, sampling,
                          timeout=timeout, progress=False if no_progress else None,
                          max_pairs=max_pairs, max_seconds=max_seconds, rivals=rivals, budget_seconds=budget_seconds,
                          scale=Scale(executor, ray_address, cpus_per_task, gpus_per_task), metric=metric)
    raise typer.Exit(code)


app.command(short_help="Plan: pairs to a decision, fixed-n vs sequential.")(_results.plan)
app.command(short_help="Print a saved report as text, Markdown, LaTeX, JSON or an HTML page.")(_results.report)
app.command(short_help="Draw a figure for a paper from saved results (PDF, SVG or PNG).")(_results.plot)


@app.command(short_help="Find where the network holds each hypothesis variable.")
def search(
    hypothesis: HypothesisRef,
    network: NetworkFile,
    site: list[str] = typer.Option(
        None, "--site", metavar="SITE",
        help="where to search: a module path, optionally with .input and [pos P] (P: integers, last, slot:S, "
        "slot:S:last); repeat, or comma-separate: --site 2,0",
    ),
    method: str = typer.Option("das", "--method", metavar="METHOD", help="das, boundless, neurons or pca"),
    dims: list[str] = typer.Option(
        None, "--dims", metavar="VAR=K", help="coordinates per variable (repeat; default 1 each)"
    ),
    out: Path = typer.Option(
        None, "--out", metavar="FOLDER", help="where results go (default runs/search-NETWORK-HYPOTHESIS)"
    ),
    seed: int = typer.Option(0, "--seed", metavar="N", help="seed of the datasets and the fits"),
    samples: int = typer.Option(512, "--samples", metavar="N", help="pairs per variable set, in each of train and test"),
    epochs: int = typer.Option(
        DAS_SETTINGS.epochs, "--epochs", metavar="N", help="the cap on training epochs (das, boundless)"
    ),
    lr: float = typer.Option(DAS_SETTINGS.lr, "--lr", metavar="RATE", help="learning rate (das, boundless)"),
    patience: int = typer.Option(
        DAS_SETTINGS.patience, "--patience", metavar="N", help="stop training after this many epochs without held-out gain"
    ),
    data: str = typer.Option("balanced", "--data", metavar="HOW", help="balanced or random counterfactual pairs"),
    layers: LayersOption = None, positions: PositionsOption = None,  # a layer x position grid: cli/lm_sweep.py
    metric: MetricOption = "iia",  # LM metrics: cli/metric.py
    device: DeviceOption = None, threads: ThreadsOption = None,  # run options: cli/run_options.py
    batch_size: BatchSizeOption = None, dtype: DtypeOption = None,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    cpus_per_task: CpusOption = 1.0,
    gpus_per_task: GpusOption = 0.0,
) -> None:
    """Fit an alignment for each internal variable (alone and together) at each --site.

    Prints held-out IIA per site and variable set, and writes a heatmap, the
    records and one alignment file per site and set into --out (pass one to
    causalabs verify --alignment).
    """
    from causalabs.cli.search import run_search

    with run_options(device, threads, batch_size, dtype):
        code = run_search(hypothesis, network, site, method, dims, out, seed, samples, epochs, data, lr, patience,
                          layers=layers, positions=positions,
                          scale=Scale(executor, ray_address, cpus_per_task, gpus_per_task), metric=metric)
    raise typer.Exit(code)


@app.command(short_help="Causal scrubbing: loss recovered under the hypothesis.")
def scrub(
    hypothesis: HypothesisRef,
    network: NetworkFile,
    alignment: AlignmentRef = None,
    json_out: Path = typer.Option(None, "--json", metavar="FILE", help="also write the result here as JSON"),
    n: int = typer.Option(1000, "--n", metavar="N", help="number of reference inputs"),
    seed: int = typer.Option(0, "--seed", metavar="N", help="seed of the references and the resampling"),
    references: str = typer.Option(
        "auto", "--references", metavar="HOW",
        help="auto, balanced or uniform: auto balances the references over the output when one value holds >= 90%",
    ),
    threshold: float = typer.Option(
        None, "--threshold", metavar="T",
        help="give a verdict: verified iff loss recovered's lower bound >= T, refuted iff its upper bound < T",
    ),
    device: DeviceOption = None, threads: ThreadsOption = None,  # run options: cli/run_options.py
    batch_size: BatchSizeOption = None, dtype: DtypeOption = None,
) -> None:
    """Causal-scrub the network under the hypothesis: resample every activation the hypothesis says does
    not matter, and report the loss recovered and the accuracy, with intervals.

    Without --threshold it exits 0; with it, 0 verified, 1 refuted, 3 inconclusive.
    """
    from causalabs.cli.search import run_scrub

    with run_options(device, threads, batch_size, dtype):
        code = run_scrub(hypothesis, network, alignment, json_out, n, seed, references, threshold)
    raise typer.Exit(code)


def main() -> None:
    """The ``causalabs`` program: the app, with every failure mapped to its exit status (see :func:`failure`)."""
    app()


if __name__ == "__main__":
    main()
