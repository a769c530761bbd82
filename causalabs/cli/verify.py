"""``causalabs verify`` and ``causalabs report``: thin shells over :func:`causalabs.verify`.

Exit status: 0 verified, 1 refuted, 3 inconclusive; errors are mapped in
:mod:`causalabs.cli.commands` (2 input, 4 user code, 5 environment, 70 internal).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import typer

from causalabs.align.settings import DAS_SETTINGS
from causalabs.cli.scale import Scale
from causalabs.cli.paths import check_not_an_input, check_output_file, make_folder, write_atomic
from causalabs.cli.metric import check_metric_option, check_network
from causalabs.cli.plan import check_budget, inconclusive_note
from causalabs.errors import CausalabsError, LoadError
from causalabs.loading import load_hypothesis, split_ref

if TYPE_CHECKING:  # torch-side types: ``causalabs report`` renders JSON without importing torch
    from causalabs.network.alignment import Alignment
    from causalabs.network.network import Network
    from causalabs.verification.report.report import Report

EXIT = {"verified": 0, "refuted": 1, "inconclusive": 3}
MODES = ("exhaustive", "sample", "sequential", "falsify", "prove")


def resolve_alignment(ref: str | None, network_file: str, net: Network | None = None, hyp: Any = None) -> Alignment:
    """An alignment from a saved file, a ``file.py:function`` reference, or the network file's ``alignment()``.

    A saved file is checked against ``net`` (and ``hyp``) when given: its sites must exist and fit.
    """
    from causalabs.verification.reproduction import resolve_alignment as resolve

    return resolve(ref, network_file, net, hyp)


@attrs.frozen
class SearchRequest:
    """``verify --search METHOD --site SITE...``: find the alignment first (see :func:`causalabs.align.find`)."""

    method: str
    sites: tuple[str, ...]
    dims: tuple[str, ...] = ()
    epochs: int = DAS_SETTINGS.epochs
    samples: int = 512
    save: Path | None = None
    lr: float = DAS_SETTINGS.lr
    patience: int | None = DAS_SETTINGS.patience


#: A comma outside brackets: ``--site 2,0`` is two sites, ``--site 'layers.2[pos 3,4]'`` one.
_COMMAS = re.compile(r",(?![^\[]*\])")


def split_option(values: Sequence[str] | None) -> list[str]:
    """Repeated options, each possibly comma-separated: ``--site 2 --site 0`` or ``--site 2,0``."""
    return [part.strip() for v in values or () for part in _COMMAS.split(str(v)) if part.strip()]


def parse_sites(values: Sequence[str]) -> str | dict[str, str]:
    """``["1"]`` -> ``"1"`` (every variable there); ``["left=1", "right=3"]`` -> a map."""
    items = split_option(values)
    if not items:
        raise LoadError("--search needs --site: a module path (every variable there) or VARIABLE=MODULE, repeated")
    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    out: dict[str, str] = {}
    for item in items:
        var, eq, module = (x.strip() for x in item.partition("="))
        if not eq or not var or not module:
            raise LoadError(f"--site {item!r}: with several sites write VARIABLE=MODULE, for example left=1")
        if var in out:
            raise LoadError(f"--site {item!r}: {var!r} is given two sites")
        out[var] = module
    return out


def parse_dims(
    values: Sequence[str] | None, internals: Sequence[str] | None = None, where: str = ""
) -> dict[str, int]:
    """``["left=8", "right=8"]`` -> ``{"left": 8, "right": 8}``.

    With ``internals`` (the hypothesis' internal variables, ``where`` its
    name), every one of them is present (1 unless given) and other names are
    refused; without, names are left to the search to check.
    """
    out: dict[str, int] = {v: 1 for v in internals or ()}
    for item in split_option(values):
        var, eq, k = (x.strip() for x in item.partition("="))
        if internals is not None and eq and var and var not in out:
            raise LoadError(f"--dims {item!r}: {where} has no internal variable {var!r} (it has {', '.join(internals)})")
        try:
            out[var] = int(k) if eq and var else -1
        except ValueError:
            out[var] = -1
        if out[var] < 1:
            raise LoadError(f"--dims {item!r}: write VARIABLE=K with K a positive integer, for example left=8")
    return out


def fitted_variables(hyp: Any, sites: str | dict[str, str]) -> str | None:
    """The note saying which variables a bare ``--site MODULE`` fitted, when the hypothesis has several; else None."""
    from causalabs.scm.semantics import model_of

    model = model_of(hyp)
    internals = list(model.internals)
    if not isinstance(sites, str) or len(internals) < 2:
        return None
    return (
        f"note: --site {sites} names no variable, so every internal variable of {model.name} was fitted there "
        f"({', '.join(internals)}) and is verified; --site VARIABLE=MODULE fits only those named, "
        f"for example --site {internals[0]}={sites}"
    )


def searched_alignment(
    hyp: Any, net: Network, request: SearchRequest, seed: int, scale: Scale | None = None
) -> Alignment:
    """Run the requested search, print what it found and how its training went, save it if asked."""
    from causalabs.align.find import find_alignment
    from causalabs.align.stopping import describe

    sites = parse_sites(request.sites)
    found = find_alignment(
        hyp, net, sites, method=request.method, dims=parse_dims(request.dims),
        samples=request.samples, epochs=request.epochs, lr=request.lr, patience=request.patience, seed=seed,
        **(Scale() if scale is None else scale).kwargs(),
    )
    # progress on stderr: the report on stdout starts with its verdict (its claim names the search)
    typer.echo(f"searched ({request.method}, seed {seed}): {found.describe()}", err=True)
    for fit in found.info.get("training", ()):
        typer.echo(f"  training at {fit['site']} ({'+'.join(fit['variables'])}): {describe(fit)}", err=True)
    note = fitted_variables(hyp, sites)
    if note is not None:
        typer.echo(note, err=True)
    if request.save is not None:
        from causalabs.align.store import network_fingerprint, save_alignment

        make_folder(request.save.parent)
        save_alignment(found, request.save, info={**dict(found.info), **network_fingerprint(net)})
        typer.echo(f"alignment saved to {request.save}", err=True)
    return found


def run_verify(
    hypothesis: str,
    network: str,
    alignment: str | None,
    mode: str,
    threshold: float,
    seed: int,
    samples: int,
    json_out: Path | None,
    search: SearchRequest | None = None,
    sampling: str = "balanced",
    *,
    timeout: float | None = None,
    progress: bool | None = None,
    max_pairs: int | None = None,
    max_seconds: float | None = None,
    rivals: int | None = None,
    budget_seconds: float | None = None,
    scale: Scale | None = None,
    metric: str = "iia",
) -> int:
    """Load, check in any mode, print the text report, optionally write its JSON; return the exit status.

    ``budget_seconds``: refuse an exhaustive or sampled check estimated to take longer
    (:func:`causalabs.cli.budget.enforce_budget`).  ``scale`` chooses where exhaustive and sampled checks
    and ``--search`` run their tasks (default: here).  ``metric``: also report an LM metric
    (:mod:`causalabs.cli.metric`).
    """
    from causalabs.cli.run_options import load_network
    from causalabs.verification.report.render import to_text

    if search is not None and alignment is not None:
        raise LoadError("give either --alignment or --search, not both")
    if mode not in MODES:
        raise LoadError(f"--mode {mode!r}: choose exhaustive, sample, sequential, falsify or prove")
    budget = check_budget(mode, max_pairs, max_seconds)
    check_metric_option(metric, mode)
    from causalabs.verification.verdict import check_claim

    if not 0.0 < threshold <= 1.0:  # refused before anything loads, in the option's name
        raise LoadError(f"--threshold {threshold:g}: a number in (0, 1] (1: an exact abstraction)")
    check_claim(threshold, 0.95)
    if mode in ("falsify", "prove") and threshold != 1.0:
        raise LoadError(f"--threshold {threshold:g}: --mode {mode} checks the exact claim (threshold 1); "
                        "use --mode exhaustive or sample for a threshold below 1")
    if budget_seconds is not None and not budget_seconds > 0:
        raise LoadError(f"--budget-seconds {budget_seconds:g}: a positive number of seconds (inf: no limit)")
    if timeout is not None and (mode != "prove" or not timeout > 0):
        raise LoadError(f"--timeout {timeout}: a positive number of seconds, with --mode prove")
    scale = Scale() if scale is None else scale
    scale.check()
    if not scale.local and mode in ("sequential", "falsify", "prove"):
        raise LoadError(f"--executor {scale.executor}: --mode {mode} runs in this process; "
                        "--executor ray runs exhaustive and sample checks and --search")
    check_outputs_before_work(json_out, search, input_files(hypothesis, network, alignment))
    hyp = load_hypothesis(hypothesis)
    if not Path(network).is_file():
        raise LoadError(f"{network}: no such network file")
    net: Network = load_network(network)
    if search is None:
        al = resolve_alignment(alignment, network, net, hyp)
        probe(net, hyp, al)
        check_network(net, hyp, metric)  # --metric: a decode() without logits is refused before any work
    else:
        probe(net, hyp)
        check_network(net, hyp, metric)
        al = searched_alignment(hyp, net, search, seed, scale)
    from causalabs.cli.budget import enforce_budget

    enforce_budget(net, hyp, al, mode, samples, budget_seconds)
    if rivals is not None and mode not in ("exhaustive", "sample"):
        raise LoadError(f"--rivals goes with --mode exhaustive or sample, not {mode}")
    rival_search = None
    if rivals is not None and search is not None:  # each rival gets its own search (docs/rivals.md)
        from causalabs.cli.rivals import rival_searcher

        rival_search = rival_searcher(net, parse_sites(search.sites), parse_dims(search.dims), search, seed)
    report = check(hyp, net, al, mode, threshold, seed, samples, sampling, timeout=timeout, progress=progress,
                   budget=budget, rivals=rivals, rival_search=rival_search, scale=scale, metric=metric)
    saved = None if search is None or search.save is None else str(search.save)
    refs = {"hypothesis": hypothesis, "network": network, "alignment": alignment if search is None else saved,
            "searched": search is not None}
    report = attrs.evolve(report, provenance={**report.provenance, "replay": refs})
    typer.echo(to_text(report))
    note = inconclusive_note(report)
    if note:
        typer.echo(note)
    if json_out is not None:
        write_atomic(json_out, report.to_json())
    return EXIT[report.verdict]


def probe(net: Network, hyp: Any, al: Alignment | None = None) -> None:
    """Before any work: the network runs on a few of the hypothesis' inputs, its sites and outputs are finite
    and its decoded values are values of the hypothesis' output (typed errors naming the site or function)."""
    from causalabs.network.network import probe_batch, probe_network
    from causalabs.scm.semantics import model_of

    model = model_of(hyp)
    batch = probe_batch(model)
    if al is not None and al.sites:
        from causalabs.backends.native import NativeBackend

        NativeBackend().collect(net, batch, list(al.sites.values()))
    probe_network(net, model, batch)


def input_files(hypothesis: str, network: str, alignment: str | None) -> dict[str, str | None]:
    """The files a command reads, by what they are (for :func:`~causalabs.cli.paths.check_not_an_input`)."""
    return {
        "the hypothesis file": split_ref(hypothesis)[0],
        "the network file": network,
        "the alignment file": None if alignment is None else split_ref(alignment)[0],
    }


def check_outputs_before_work(
    json_out: Path | None, search: SearchRequest | None, inputs: dict[str, str | None] | None = None
) -> None:
    """``--json`` and ``--save-alignment`` must be writable, and not input files, before anything is loaded or run."""
    if json_out is not None:
        check_not_an_input(json_out, "--json", dict(inputs or {}))
        check_output_file(json_out, "--json")
    if search is not None and search.save is not None:
        if Path(search.save).suffix == ".safetensors":
            raise LoadError(f"--save-alignment {search.save}: name the JSON part (.json); its weights go beside it")
        check_not_an_input(search.save, "--save-alignment", dict(inputs or {}))
        check_output_file(search.save, "--save-alignment")
        if json_out is not None and Path(json_out).resolve() == Path(search.save).resolve():
            raise LoadError(f"--json and --save-alignment name the same file {json_out}")


def check(
    hyp: Any, net: Network, al: Alignment, mode: str, threshold: float, seed: int, samples: int, sampling: str,
    *, timeout: float | None = None, progress: bool | None = None, budget: dict[str, Any] | None = None,
    rivals: int | None = None, rival_search: Any = None, scale: Scale | None = None, metric: str = "iia",
) -> Report:
    """The claim checked in ``mode``, as a :class:`Report` (falsify's and prove's answers in the same schema)."""
    from causalabs.scm.semantics import model_of

    if mode == "falsify":
        from causalabs.verification.falsification import falsify
        from causalabs.verification.report.modes import falsify_report

        defaults = inspect.signature(falsify).parameters
        budget = {k: defaults[k].default for k in ("max_examples", "deadline_s", "batch")}
        return falsify_report(falsify(hyp, net, al, seed=seed), model_of(hyp), net, al, budget=budget)
    if mode == "prove":
        from causalabs.verification.prove.proof import prove
        from causalabs.verification.report.modes import proof_report

        return proof_report(prove(hyp, net, al, timeout=timeout, progress=progress), model_of(hyp), net, al)
    from causalabs.verification.pipeline import verify

    return verify(
        hyp, net, al, mode=mode, threshold=threshold, seed=seed, samples=samples, sampling=sampling,  # type: ignore[arg-type]
        **(budget or {}),
        rivals=rivals, rival_search=rival_search, metric=metric,
        **(Scale() if scale is None else scale).kwargs(),
    )


def run_report(result: Path, fmt: str) -> str:
    """Render a JSON report written by ``causalabs verify --json`` in another format."""
    from causalabs.verification.report.io import load_report
    from causalabs.verification.report.render import RENDERERS

    if fmt not in RENDERERS:
        raise LoadError(f"--format {fmt!r}: choose one of {', '.join(RENDERERS)}")
    text = RENDERERS[fmt](load_report(result))  # schema and digest checked: an edited report is refused
    return text if text.endswith("\n") else text + "\n"  # printed as verify prints it


__all__ = [
    "CausalabsError", "SearchRequest", "check_outputs_before_work", "fitted_variables", "input_files", "parse_dims", "parse_sites", "probe",
    "resolve_alignment", "run_report", "run_verify", "searched_alignment", "split_option", "write_atomic",
]
