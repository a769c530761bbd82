"""``causalabs verify`` and ``causalabs report``: thin shells over :func:`causalabs.verify`.

Exit status: 0 verified, 1 refuted, 3 inconclusive, 2 usage or input error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import typer

from causalabs.align.settings import DAS_SETTINGS
from causalabs.atomic import write_text_atomic
from causalabs.errors import AlignmentError, CausalabsError, LoadError
from causalabs.loading import load_attr, load_hypothesis, load_module, split_ref
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, load_network

EXIT = {"verified": 0, "refuted": 1, "inconclusive": 3}
MODES = ("exhaustive", "sample", "falsify", "prove")


def resolve_alignment(ref: str | None, network_file: str, net: Network | None = None, hyp: Any = None) -> Alignment:
    """An alignment from a saved file, a ``file.py:function`` reference, or the network file's ``alignment()``.

    A saved file is checked against ``net`` (and ``hyp``) when given: its sites must exist and fit.
    """
    if ref is None:
        fn = getattr(load_module(network_file), "alignment", None)
        if not callable(fn):
            raise AlignmentError(f"{network_file}: no alignment() in the network file; pass --alignment")
        obj: Any = fn()
    elif split_ref(ref)[1] is not None:
        obj = load_attr(ref)
        obj = obj() if callable(obj) and not isinstance(obj, Alignment) else obj
    else:
        from causalabs.align.store import load_alignment

        obj = load_alignment(ref, network=net, hypothesis=hyp)
    if not isinstance(obj, Alignment):
        raise AlignmentError(f"{ref or network_file}: gives {type(obj).__name__}, not a causalabs Alignment")
    return obj


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, creating its folder (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)


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


def split_option(values: Sequence[str] | None) -> list[str]:
    """Repeated options, each possibly comma-separated: ``--site 2 --site 0`` or ``--site 2,0``."""
    return [part.strip() for v in values or () for part in str(v).split(",") if part.strip()]


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


def searched_alignment(hyp: Any, net: Network, request: SearchRequest, seed: int) -> Alignment:
    """Run the requested search, print what it found and how its training went, save it if asked."""
    from causalabs.align.find import find_alignment
    from causalabs.align.stopping import describe

    found = find_alignment(
        hyp, net, parse_sites(request.sites), method=request.method, dims=parse_dims(request.dims),
        samples=request.samples, epochs=request.epochs, lr=request.lr, patience=request.patience, seed=seed,
    )
    typer.echo(f"searched ({request.method}, seed {seed}): {found.describe()}")
    for fit in found.info.get("training", ()):
        typer.echo(f"  training at {fit['site']} ({'+'.join(fit['variables'])}): {describe(fit)}")
    if request.save is not None:
        from causalabs.align.store import network_fingerprint, save_alignment

        save_alignment(found, request.save, info={**dict(found.info), **network_fingerprint(net)})
        typer.echo(f"alignment saved to {request.save}")
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
) -> int:
    """Load, verify, print the text report, optionally write JSON; return the exit status."""
    from causalabs.verification.pipeline import verify
    from causalabs.verification.report.render import to_text

    if search is not None and alignment is not None:
        raise LoadError("give either --alignment or --search, not both")
    if mode not in MODES:
        raise LoadError(f"--mode {mode!r}: choose exhaustive, sample, falsify or prove")
    from causalabs.verification.verdict import check_claim

    check_claim(threshold, 0.95)  # a bad --threshold is refused before anything loads
    if mode in ("falsify", "prove") and threshold != 1.0:
        raise LoadError(f"--threshold {threshold:g}: --mode {mode} checks the exact claim (threshold 1); "
                        "use --mode exhaustive or sample for a threshold below 1")
    if timeout is not None and (mode != "prove" or not timeout > 0):
        raise LoadError(f"--timeout {timeout}: a positive number of seconds, with --mode prove")
    hyp = load_hypothesis(hypothesis)
    if not Path(network).is_file():
        raise LoadError(f"{network}: no such network file")
    net: Network = load_network(network)
    al = resolve_alignment(alignment, network, net, hyp) if search is None else searched_alignment(hyp, net, search, seed)
    if mode == "falsify":
        from causalabs.verification.falsify import falsify

        result = falsify(hyp, net, al, seed=seed)
        typer.echo(str(result))
        return EXIT["refuted"] if result.counterexample is not None else EXIT["inconclusive"]
    if mode == "prove":
        from causalabs.verification.prove.proof import prove

        proof = prove(hyp, net, al, timeout=timeout, progress=progress)
        typer.echo(f"{proof.status.upper()}: {hyp.__name__} on {net.name} (prove, {proof.elapsed:.2f} s)\n  {proof.reason}")
        if proof.counterexample is not None:
            typer.echo(proof.counterexample.describe())
            typer.echo(f"replay: {proof.counterexample.call(hyp.__name__)}")
        return {"proved": 0, "refuted": 1, "unknown": 3}[proof.status]
    report = verify(
        hyp, net, al, mode=mode, threshold=threshold, seed=seed, samples=samples, sampling=sampling  # type: ignore[arg-type]
    )
    typer.echo(to_text(report))
    if json_out is not None:
        write_atomic(json_out, report.to_json())
    return EXIT[report.verdict]


def run_report(result: Path, fmt: str) -> str:
    """Render a JSON report written by ``causalabs verify --json`` in another format."""
    from causalabs.verification.report.io import load_report
    from causalabs.verification.report.render import RENDERERS

    if fmt not in RENDERERS:
        raise LoadError(f"--format {fmt!r}: choose one of {', '.join(RENDERERS)}")
    return RENDERERS[fmt](load_report(result))  # schema and digest checked: an edited report is refused


__all__ = [
    "CausalabsError", "SearchRequest", "parse_dims", "parse_sites", "resolve_alignment", "run_report", "run_verify",
    "searched_alignment", "split_option", "write_atomic",
]
