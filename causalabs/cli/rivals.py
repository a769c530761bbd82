"""``causalabs rivals``: list a hypothesis' rivals, render them, optionally write them as a hypothesis file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from causalabs.cli.paths import check_output_file, write_atomic
from causalabs.errors import LoadError
from causalabs.loading import load_hypothesis
from causalabs.rivals.classes import source
from causalabs.rivals.generation import generate
from causalabs.scm.render import render_text
from causalabs.scm.semantics import model_of

#: First line of a file this command writes; a file without it is never overwritten.
MARKER = "Rivals of"


def _check_out(out: Path) -> None:
    check_output_file(out, "--out")
    if out.suffix != ".py":
        raise LoadError(f"--out {out}: name a Python file (.py), so that it loads back as a hypothesis file")
    if out.exists():
        head = out.read_text(errors="replace")[:200]
        if not head.startswith(f'"""{MARKER}'):
            raise LoadError(f"--out {out}: the file exists and was not written by causalabs rivals; not overwriting it")


def run_rivals(hypothesis: str, limit: int | None, budget: float, out: Path | None, work: int = 30_000) -> int:
    """Generate, print and optionally write the rivals; return the exit status (0)."""
    if out is not None:
        _check_out(out)
    hyp = load_hypothesis(hypothesis)
    found = generate(hyp, limit=limit, work=work, budget_s=budget)
    name = model_of(hyp).name
    typer.echo(f"{len(found.rivals)} rivals of {name} ({found.considered} candidates, {found.steps:,} steps, "
               f"{found.seconds:.1f} s"
               + ("" if found.complete else f"; {found.note}") + ")")
    typer.echo("each gives the same outputs on every input and differs under intervention")
    for r in found.rivals:
        typer.echo("")
        typer.echo(f"{r.name} [{r.kind}]: {r.how}")
        typer.echo(render_text(r.hypothesis))
    if out is not None:
        header = f"{MARKER} {name} written by causalabs rivals ({len(found.rivals)} classes)."
        write_atomic(out, source([r.hypothesis for r in found.rivals], header))
        typer.echo(f"\nwrote {out}")
    return 0


def rival_searcher(net: Any, sites: Any, dims: dict[str, int], request: Any, seed: int) -> Callable[[Any], Any]:
    """``verify --search --rivals``: the claim's search (method, sites, dims, budget) run again for a rival."""
    from causalabs.align.find import find_alignment

    def fit(rival: Any) -> Any:
        found = find_alignment(
            rival, net, sites, method=request.method, dims=dims,
            samples=request.samples, epochs=request.epochs, lr=request.lr, patience=request.patience, seed=seed,
        )
        typer.echo(f"searched for rival {model_of(rival).name}: {found.describe()}", err=True)
        return found

    return fit
