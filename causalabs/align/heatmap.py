"""Heatmaps of a sweep's held-out IIA over modules (rows) x positions (columns), one panel per variable set.

:func:`iia_matrix` builds the numbers (testable without a plot);
:func:`plot_heatmap` draws them with matplotlib's Agg canvas (no pyplot
state, no display) and writes the PNG atomically.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import numpy as np

from causalabs.align.sweep import SweepResult
from causalabs.atomic import write_bytes_atomic
from causalabs.errors import SweepError

Value = Literal["overall", "changed"]


@attrs.frozen(eq=False)
class IIAMatrix:
    """IIA of one variable set: ``values[i, j]`` at ``modules[i]``, ``positions[j]`` (NaN: not swept)."""

    variables: tuple[str, ...]
    modules: tuple[str, ...]
    positions: tuple[str | None, ...]
    values: np.ndarray


def iia_matrix(
    result: SweepResult, variables: tuple[str, ...] | str, *, value: Value = "overall",
    scores: Mapping[tuple[str, tuple[str, ...]], float] | None = None,
) -> IIAMatrix:
    """The IIA of ``variables`` (``value``: all held-out pairs, or the changed ones) as a modules x positions grid.

    Modules and positions keep their first-seen order in the sweep.  ``scores`` (``(site, variables) ->
    number``, NaN or absent: none) replaces the IIA by another held-out metric (``search --metric``).
    """
    if value not in ("overall", "changed"):
        raise SweepError(f"iia_matrix: value must be 'overall' or 'changed', got {value!r}")
    vs = (variables,) if isinstance(variables, str) else tuple(variables)
    recs = [r for r in result.records if r.variables == vs]
    if not recs:
        have = sorted({"+".join(r.variables) for r in result.records})
        raise SweepError(f"iia_matrix: the sweep has no records for {'+'.join(vs)} (it has {', '.join(have)})")
    modules = tuple(dict.fromkeys(r.module for r in recs))
    positions = tuple(dict.fromkeys(r.position for r in recs))
    values = np.full((len(modules), len(positions)), np.nan)
    for r in recs:
        est = r.overall if value == "overall" else r.changed
        got = est.value if scores is None else scores.get((r.site, r.variables), np.nan)
        values[modules.index(r.module), positions.index(r.position)] = got
    return IIAMatrix(vs, modules, positions, values)


def _panel(
    ax: Any, m: IIAMatrix, value: Value, names: Mapping[str, str] | None = None, label: str | None = None,
    limits: tuple[float, float] = (0.0, 1.0),
) -> Any:
    im = ax.imshow(np.ma.masked_invalid(m.values), vmin=limits[0], vmax=limits[1], cmap="viridis", aspect="auto")
    ax.set_title(f"{'+'.join(m.variables)} ({value} IIA)" if label is None else f"{'+'.join(m.variables)} ({label})",
                 fontsize=9)
    ax.set_yticks(range(len(m.modules)), labels=list(m.modules), fontsize=7)
    labels = ["all" if p is None else p if not names or p not in names else f"{p}\n{names[p]!r}" for p in m.positions]
    ax.set_xticks(range(len(m.positions)), labels=labels, fontsize=7)
    ax.set_xlabel("position")
    ax.set_ylabel("module")
    if m.values.size <= 200:
        for (i, j), v in np.ndenumerate(m.values):
            if not math.isnan(v):
                dark = (v - limits[0]) < 0.6 * (limits[1] - limits[0])
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="w" if dark else "k")
    return im


def plot_heatmap(
    result: SweepResult, path: str | Path, *, value: Value = "overall", dpi: int = 100,
    tokens: Mapping[str, str] | None = None,
    scores: Mapping[tuple[str, tuple[str, ...]], float] | None = None, label: str | None = None,
) -> Path:
    """Write a PNG heatmap of IIA (one panel per variable set) to ``path``; returns the path.

    ``tokens``: text shown under each position's label (``{"slot:s": " John"}``), for
    example the tokens of one prompt at each named position.  ``scores`` and ``label``: another held-out
    metric per ``(site, variables)`` instead of the IIA, named ``label`` in every title (colours span its
    range, or [0, 1] for a probability).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sets = list(dict.fromkeys(r.variables for r in result.records))
    if not sets:
        raise SweepError("plot_heatmap: the sweep has no records")
    mats = [iia_matrix(result, vs, value=value, scores=scores) for vs in sets]
    limits = (0.0, 1.0)
    if scores is not None and label is not None and not label.startswith("prob"):
        finite = [v for m in mats for v in m.values.ravel() if math.isfinite(v)]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        limits = (lo, hi if hi > lo else lo + 1.0)
    rows = max(len(m.modules) for m in mats)
    cols = max(len(m.positions) for m in mats)
    longest = max(len(mod) for m in mats for mod in m.modules)
    width = (max(3.0, 0.55 * cols + 0.08 * longest + 1.0)) * len(mats) + 1.0
    fig = Figure(figsize=(width, max(2.5, 0.4 * rows + 1.6)), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(mats), squeeze=False)[0]
    images = [_panel(ax, m, value, tokens, label if scores is not None else None, limits) for ax, m in zip(axes, mats)]
    fig.colorbar(images[0], ax=list(axes), shrink=0.8)
    fig.suptitle(f"{result.hypothesis}: {result.method}" + (f", held-out {label}" if scores is not None else ""),
                 fontsize=10)
    out = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    write_bytes_atomic(out, buf.getvalue())
    return out
