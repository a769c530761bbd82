"""Palette, sizes and export of the figures: the same numbers give the same bytes.

Determinism comes from three settings: text in DejaVu Sans (shipped inside
matplotlib, so no system font is looked up), SVG glyphs drawn as paths with a
fixed ``svg.hashsalt`` (ids do not change between runs), and metadata without
dates (``CreationDate`` / ``Date`` None).  Each file records
``Creator: causalabs`` (:data:`MARKER`): :func:`is_ours` reads it back so the
command line replaces only files it wrote.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from causalabs.atomic import write_bytes_atomic
from causalabs.errors import FigureError

#: Okabe & Ito (2008): eight colours distinguishable under the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: Figure widths in inches: one column and two columns of a two-column paper (ICML / NeurIPS style).
WIDTHS = {"one": 3.4, "two": 7.0}
Width = Literal["one", "two"]
FORMATS = ("pdf", "svg", "png")
#: Written into every file's metadata; :func:`is_ours` looks for it.
MARKER = "causalabs"

RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",
    "svg.hashsalt": "causalabs",
    "pdf.fonttype": 42,
    "image.cmap": "viridis",
    "savefig.dpi": 200,
}


@contextmanager
def pinned() -> Iterator[None]:
    """matplotlib's rcParams for drawing and saving a figure: fixed font, palette, hash salt."""
    import matplotlib as mpl
    from cycler import cycler

    rc = {**RC, "axes.prop_cycle": cycler(color=list(PALETTE))}  # the palette as matplotlib's colour cycle
    with mpl.rc_context(rc):
        yield


def new_figure(width: Width, height_ratio: float) -> Any:
    """An empty figure of the given column width on the Agg canvas (constrained layout)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if width not in WIDTHS:
        raise FigureError(f"figure width must be one of {', '.join(WIDTHS)}, got {width!r}")
    w = WIDTHS[width]
    fig = Figure(figsize=(w, max(1.6, w * height_ratio)), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _metadata(fmt: str) -> dict[str, Any]:
    if fmt == "pdf":
        return {"Creator": MARKER, "Producer": None, "CreationDate": None, "ModDate": None}
    if fmt == "svg":
        return {"Creator": MARKER, "Date": None}
    return {"Software": MARKER}


def to_bytes(fig: Any, fmt: str = "pdf") -> bytes:
    """The figure as ``fmt`` (pdf, svg or png) bytes: identical for identical figures in one environment."""
    if fmt not in FORMATS:
        raise FigureError(f"figure format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    buf = io.BytesIO()
    with pinned():
        if fig.get_layout_engine() is not None:  # lay out once, then freeze: a second layout pass moves things
            fig.draw_without_rendering()
            fig.set_layout_engine("none")
        fig.savefig(buf, format=fmt, metadata=_metadata(fmt))
    return buf.getvalue()


def format_of(path: str | Path) -> str:
    """The format a file name asks for (its suffix); FigureError when it is none of :data:`FORMATS`."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise FigureError(f"{path}: a figure file ends in .pdf, .svg or .png")
    return fmt


def is_ours(path: str | Path) -> bool:
    """Whether the file at ``path`` is a figure or page causalabs wrote (its metadata names :data:`MARKER`)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    return any(m in data for m in MARKS)


#: How each format records :data:`MARKER` (PDF info dictionary, PNG text chunk, SVG RDF, HTML meta).
MARKS = (
    f"/Creator ({MARKER})".encode(),
    f"Software\x00{MARKER}".encode(),
    f"<dc:creator>\n     <cc:Agent>\n      <dc:title>{MARKER}</dc:title>".encode(),
    f'<meta name="generator" content="{MARKER}">'.encode(),
)


def save(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically: a temporary file, then a rename."""
    p = Path(path)
    write_bytes_atomic(p, to_bytes(fig, format_of(p)))
    return p
