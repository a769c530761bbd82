"""``causalabs report --format html`` and ``causalabs plot``: pages and figures from saved results.

A result file is one of: a report (``causalabs verify --json``; its digest
is checked), a scrub result (``causalabs scrub --json``), a sweep
(``records.jsonl`` or the ``causalabs search --out`` folder holding it), or a
saved alignment whose info records a training curve (``losses``).  Outputs
are written atomically, and only over a file causalabs wrote (a figure or
page whose metadata names causalabs): any other existing file is left alone
(exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from causalabs.cli.paths import check_not_an_input, check_output_file, write_atomic
from causalabs.errors import FigureError, LoadError, OutputPathError

#: ``causalabs plot --kind``: what each draws and from which results.
KINDS = {
    "iia": "IIA with intervals per variable set (a report)",
    "grid": "IIA by layer x position (a sweep)",
    "loss": "loss recovered with its interval, one row per result (scrub results)",
    "training": "training loss per epoch, one line per file (saved alignments of DAS or Boundless DAS)",
}


def load_result(path: str | Path) -> tuple[str, Any]:
    """``(kind, value)``: ``("report", Report)``, ``("scrub", dict)``, ``("sweep", SweepResult)``, ``("alignment", dict)``."""
    from causalabs.scrub.display import is_scrub

    p = Path(path)
    if p.is_dir() or p.suffix == ".jsonl":
        from causalabs.align.display import read_records

        return "sweep", read_records(p)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoadError(f"{p}: no such result file") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise LoadError(f"{p}: not a JSON result ({type(exc).__name__})") from None
    if isinstance(doc, dict) and str(doc.get("schema", "")).startswith("causalabs.report/"):
        from causalabs.verification.report.io import load_report

        return "report", load_report(p)
    if is_scrub(doc):
        return "scrub", doc
    if isinstance(doc, dict) and isinstance(doc.get("info"), dict) and "sites" in doc:
        return "alignment", doc
    raise LoadError(f"{p}: not a causalabs result (a report, a scrub result, a sweep or a saved alignment)")


def check_page_target(out: Path, option: str, inputs: Sequence[str | Path]) -> Path:
    """``out`` as a place to write a page or figure: not an input, writable, and new or written by causalabs."""
    from causalabs.figures.style import is_ours

    check_not_an_input(out, option, {f"the result file {i}": i for i in inputs})
    check_output_file(out, option)
    if out.exists() and not is_ours(out):
        raise LoadError(f"{option} {out}: the file exists and was not written by causalabs; "
                        "remove it or choose another path")
    return out


def html_page(path: Path, tokens: Sequence[str] | None = None) -> str:
    """The self-contained HTML page of the result at ``path``."""
    kind, value = load_result(path)
    if kind == "report":
        from causalabs.verification.report.html import to_html

        return to_html(value)
    if kind == "scrub":
        from causalabs.scrub.display import to_html as scrub_html

        return scrub_html(value)
    if kind == "sweep":
        from causalabs.align.display import to_html as sweep_html

        return sweep_html(value, tokens=tokens)
    raise LoadError(f"{path}: a saved alignment has no HTML report; use causalabs plot --kind training")


def run_html(result: Path, out: Path | None) -> str | None:
    """Render ``result`` as HTML: written atomically to ``out`` (returns None), or returned for stdout."""
    if out is not None:
        check_page_target(out, "--out", [result])
    text = html_page(result)
    if out is None:
        return text
    write_atomic(out, text)
    return None


def _curve(path: Path, doc: dict[str, Any]) -> list[float]:
    losses = doc["info"].get("losses")
    if not isinstance(losses, list) or not losses:
        raise LoadError(f"{path}: the alignment records no training curve (info.losses)")
    return [float(x) for x in losses]


def figure_of(kind: str, results: Sequence[Path], *, width: str, tokens: Sequence[str] | None) -> Any:
    """The figure ``kind`` (see :data:`KINDS`) of the result files."""
    if kind not in KINDS:
        raise LoadError(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    loaded = [(p, *load_result(p)) for p in results]
    want = {"iia": "report", "grid": "sweep", "loss": "scrub", "training": "alignment"}[kind]
    for p, k, _ in loaded:
        if k != want:
            raise LoadError(f"{p}: is a {k}; --kind {kind} draws from a {want}")
    if kind in ("iia", "grid") and len(loaded) != 1:
        raise LoadError(f"--kind {kind} draws one result, got {len(loaded)}")
    try:
        if kind == "iia":
            from causalabs.verification.report.figures import report_figure

            fig = report_figure(loaded[0][2], width=width)  # type: ignore[arg-type]
            if fig is None:
                raise LoadError(f"{results[0]}: a {loaded[0][2].mode} report has no IIA per variable set")
            return fig
        if kind == "grid":
            from causalabs.align.display import sweep_figure

            return sweep_figure(loaded[0][2], tokens=tokens, width=width)  # type: ignore[arg-type]
        if kind == "loss":
            from causalabs.scrub.display import scrub_figure

            return scrub_figure([d for _, _, d in loaded], width=width)  # type: ignore[arg-type]
        from causalabs.figures.plots import training_curves

        curves = {Path(p).stem: _curve(p, d) for p, _, d in loaded}
        return training_curves(curves, width=width)  # type: ignore[arg-type]
    except FigureError as exc:
        raise LoadError(str(exc)) from None


def run_plot(results: Sequence[Path], kind: str, out: Path, width: str = "one", tokens: str | None = None) -> None:
    """Draw ``kind`` from ``results`` into ``out`` (.pdf, .svg or .png), atomically; same JSON, same bytes."""
    from causalabs.figures.style import format_of, to_bytes

    try:
        fmt = format_of(out)
    except FigureError as exc:
        raise LoadError(f"--out {exc}") from None
    check_page_target(out, "--out", results)
    fig = figure_of(kind, results, width=width, tokens=None if tokens is None else tokens.split(","))
    data = to_bytes(fig, fmt)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        from causalabs.atomic import write_bytes_atomic

        write_bytes_atomic(out, data)
    except OSError as exc:
        raise OutputPathError(f"{out}: cannot be written ({exc.strerror or exc})") from exc


__all__ = ["KINDS", "check_page_target", "figure_of", "html_page", "load_result", "run_html", "run_plot"]
