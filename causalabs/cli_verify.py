"""``causalabs verify`` and ``causalabs report``: thin shells over :func:`causalabs.verify.verify`.

Exit status: 0 verified, 1 refuted, 3 inconclusive, 2 usage or input error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from causalabs.atomic import write_text_atomic
from causalabs.errors import AlignmentError, CausalabsError, LoadError
from causalabs.loading import load_attr, load_hypothesis, load_module, split_ref
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, load_network

EXIT = {"verified": 0, "refuted": 1, "inconclusive": 3}


def resolve_alignment(ref: str | None, network_file: str) -> Alignment:
    """An alignment from a saved file, a ``file.py:function`` reference, or the network file's ``alignment()``."""
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

        obj = load_alignment(ref)
    if not isinstance(obj, Alignment):
        raise AlignmentError(f"{ref or network_file}: gives {type(obj).__name__}, not a causalabs Alignment")
    return obj


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, creating its folder (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)


def run_verify(
    hypothesis: str,
    network: str,
    alignment: str | None,
    mode: str,
    threshold: float | None,
    seed: int,
    samples: int,
    json_out: Path | None,
) -> int:
    """Load, verify, print the text report, optionally write JSON; return the exit status."""
    from causalabs.verify.pipeline import verify
    from causalabs.verify.render import to_text

    hyp = load_hypothesis(hypothesis)
    if not Path(network).is_file():
        raise LoadError(f"{network}: no such network file")
    net: Network = load_network(network)
    al = resolve_alignment(alignment, network)
    if mode == "falsify":
        from causalabs.verify.falsify import falsify

        result = falsify(hyp, net, al, seed=seed)
        typer.echo(str(result))
        return EXIT["refuted"] if result.counterexample is not None else EXIT["inconclusive"]
    if mode == "prove":
        from causalabs.verify.prove import prove

        proof = prove(hyp, net, al)
        typer.echo(f"{proof.status.upper()}: {hyp.__name__} on {net.name} (prove, {proof.elapsed:.2f} s)\n  {proof.reason}")
        if proof.counterexample is not None:
            typer.echo(proof.counterexample.describe())
            typer.echo(f"replay: {proof.counterexample.call(hyp.__name__)}")
        return {"proved": 0, "refuted": 1, "unknown": 3}[proof.status]
    if mode not in ("exhaustive", "sample"):
        raise LoadError(f"--mode {mode!r}: choose exhaustive, sample, falsify or prove")
    report = verify(hyp, net, al, mode=mode, threshold=threshold, seed=seed, samples=samples)  # type: ignore[arg-type]
    typer.echo(to_text(report))
    if json_out is not None:
        write_atomic(json_out, report.to_json())
    return EXIT[report.verdict]


def run_report(result: Path, fmt: str) -> str:
    """Render a JSON report written by ``causalabs verify --json`` in another format."""
    from causalabs.verify.report_io import report_from_dict
    from causalabs.verify.render import RENDERERS

    if fmt not in RENDERERS:
        raise LoadError(f"--format {fmt!r}: choose one of {', '.join(RENDERERS)}")
    try:
        doc = json.loads(result.read_text())
    except FileNotFoundError:
        raise LoadError(f"{result}: no such report file") from None
    except json.JSONDecodeError as exc:
        raise LoadError(f"{result}: not a JSON report ({exc})") from None
    return RENDERERS[fmt](report_from_dict(doc, where=str(result)))


__all__ = ["CausalabsError", "resolve_alignment", "run_report", "run_verify", "write_atomic"]
