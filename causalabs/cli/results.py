"""``causalabs plan``, ``causalabs report`` and ``causalabs plot``: commands over saved results and plans.

Defined here and registered on the app by :mod:`causalabs.cli.commands` (in the order of its help).
"""

from __future__ import annotations

from pathlib import Path

import typer

from causalabs.errors import LoadError


def plan(
    threshold: float = typer.Option(None, "--threshold", metavar="T", help="the claim's threshold"),
    iia: float = typer.Option(None, "--iia", metavar="X", help="the IIA assumed (on every set and stratum)"),
    pilot: Path = typer.Option(
        None, "--pilot", metavar="REPORT.json", help="a sampled report: its threshold, sets and IIA nearest t"
    ),
    confidence: float = typer.Option(0.95, "--confidence", metavar="C", help="the claim's confidence"),
    sets: int = typer.Option(1, "--sets", metavar="N", help="number of variable sets checked"),
    max_pairs: int = typer.Option(20000, "--max-pairs", metavar="N", help="sequential budget, pairs per set"),
    as_json: bool = typer.Option(False, "--json", help="print the plan as JSON"),
) -> None:
    """How many pairs per variable set would decide a claim if its IIA is near X: sequential mode (mean,
    median, 95th percentile, simulated) and sample mode (the fixed n that decides 95% of the time), at X
    and at X +- 0.01 and 0.02."""
    from causalabs.cli.plan import run_plan

    typer.echo(run_plan(threshold, confidence, iia, pilot, sets, max_pairs, as_json), nl=False)


def report(
    result: Path = typer.Argument(..., metavar="REPORT.json", help="a report written by causalabs verify --json"),
    fmt: str = typer.Option(
        "txt", "--format", metavar="FORMAT",
        help="txt (as verify prints it), md, tex (a booktabs table), json, or html (a self-contained page; "
        "also for scrub results and sweeps)",
    ),
    out: Path = typer.Option(
        None, "--out", metavar="FILE", help="with --format html: write the page to FILE (atomically) instead of printing"
    ),
) -> None:
    """Print a report saved by `causalabs verify --json` as text (as verify printed it), Markdown, a LaTeX
    booktabs table, JSON, or one self-contained HTML page with its figures (--format html, which also
    renders a `causalabs scrub --json` result or a sweep's records.jsonl)."""
    if fmt == "html":
        from causalabs.cli.pages import run_html

        text = run_html(result, out)
        if text is not None:
            typer.echo(text, nl=False)
        return
    if out is not None:
        raise LoadError("--out goes with --format html (redirect the printed text for the other formats)")
    from causalabs.cli.verify import run_report

    typer.echo(run_report(result, fmt), nl=False)


def plot(
    results: list[Path] = typer.Argument(..., metavar="RESULT...", help="saved results (see --kind)"),
    kind: str = typer.Option(..., "--kind", metavar="KIND", help="iia (a report), grid (a sweep), loss (scrub "
                             "results, one row each) or training (saved DAS alignments, one line each)"),
    out: Path = typer.Option(..., "--out", metavar="FILE", help="the figure: .pdf, .svg or .png"),
    width: str = typer.Option("one", "--width", metavar="COLUMNS", help="one (3.4 in) or two (7 in) columns"),
    tokens: str = typer.Option(None, "--tokens", metavar="T1,T2,...", help="grid: a token label per position"),
) -> None:
    """Draw a figure from saved results into --out, byte-identical for the same results.

    \b
    Example:
      causalabs plot report.json --kind iia --out iia.pdf
    """
    from causalabs.cli.pages import run_plot

    run_plot(results, kind, out, width, tokens)


__all__ = ["plan", "report", "plot"]
