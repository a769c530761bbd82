"""Figures for papers and reports: matplotlib functions over plain numbers.

Every function takes numbers, labels and a size (``"one"`` column, 3.4 in,
or ``"two"`` columns, 7.0 in) and returns a :class:`matplotlib.figure.Figure`
drawn on the Agg canvas (no pyplot state, no display).  :func:`to_bytes`
turns it into PDF, SVG or PNG bytes that are the same for the same numbers
(a font shipped with matplotlib, no dates in the metadata, a fixed SVG
hash salt); :func:`save` writes them atomically.  Colours are the
Okabe-Ito palette and viridis, both readable with colour-blindness.

* :mod:`~causalabs.figures.style` -- palette, sizes, the pinned rcParams, export;
* :mod:`~causalabs.figures.plots` -- IIA with intervals, IIA grids, loss recovered, training curves;
* :mod:`~causalabs.figures.graph` -- a causal graph, drawn in layers;
* :mod:`~causalabs.figures.html` -- self-contained HTML: page, tables, figures as SVG data URIs.

Nothing here knows a :class:`~causalabs.Report`: adapters that read results
live with the results (``causalabs.verification.report.figures``,
``causalabs.scrub.display``, ``causalabs.align.display``).
"""

from causalabs.figures.graph import causal_graph
from causalabs.figures.plots import iia_grid, iia_intervals, loss_recovered, training_curves
from causalabs.figures.style import FORMATS, MARKER, PALETTE, WIDTHS, is_ours, save, to_bytes

__all__ = [
    "FORMATS", "MARKER", "PALETTE", "WIDTHS", "causal_graph", "iia_grid", "iia_intervals", "is_ours",
    "loss_recovered", "save", "to_bytes", "training_curves",
]
