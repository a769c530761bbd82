"""The paper figures, each a function of plain numbers returning a matplotlib Figure.

* :func:`iia_intervals` -- IIA with its interval per variable set, one marker per stratum;
* :func:`iia_grid` -- IIA by layer (rows) x position (columns, token labels when given), one panel per set;
* :func:`loss_recovered` -- causal scrubbing's loss recovered with its interval, one row per hypothesis;
* :func:`training_curves` -- a loss per epoch, one line per fit.

NaN means "not measured" (no pairs in a stratum, a location not swept) and is
left blank, never drawn as 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from causalabs.errors import FigureError
from causalabs.figures.style import PALETTE, Width, new_figure, pinned

#: An estimate as the figures take it: (value, lower bound, upper bound); lo == hi == value when exact.
Interval = tuple[float, float, float]
MARKERS = ("o", "s", "^", "D", "v", "P")


def _threshold_line(ax: Any, threshold: float | None, *, vertical: bool = False) -> None:
    if threshold is None:
        return
    line = ax.axvline if vertical else ax.axhline
    line(threshold, color=PALETTE[7], linestyle="--", linewidth=0.8, label=f"threshold {threshold:g}")


def _check_lengths(name: str, labels: Sequence[str], series: Mapping[str, Sequence[Any]]) -> None:
    if not labels:
        raise FigureError(f"{name}: nothing to draw (no labels)")
    for key, rows in series.items():
        if len(rows) != len(labels):
            raise FigureError(f"{name}: {key!r} has {len(rows)} values for {len(labels)} labels")


def iia_intervals(
    labels: Sequence[str],
    strata: Mapping[str, Sequence[Interval]],
    *,
    threshold: float | None = None,
    title: str | None = None,
    width: Width = "one",
) -> Any:
    """IIA per variable set (x axis) with an interval per stratum (``{"changed": [(v, lo, hi), ...], ...}``)."""
    _check_lengths("iia_intervals", labels, strata)
    with pinned():
        fig = new_figure(width, 0.62)
        ax = fig.add_subplot()
        k = len(strata)
        offsets = np.linspace(-0.15, 0.15, k) if k > 1 else np.zeros(1)
        x = np.arange(len(labels))
        for i, (name, rows) in enumerate(strata.items()):
            arr = np.asarray(rows, dtype=float).reshape(len(labels), 3)
            keep = ~np.isnan(arr[:, 0])
            v, lo, hi = arr[keep, 0], arr[keep, 1], arr[keep, 2]
            err = np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])
            ax.errorbar(x[keep] + offsets[i], v, yerr=err, fmt=MARKERS[i % len(MARKERS)], color=PALETTE[i],
                        markersize=4, capsize=2, linewidth=1, label=name)
        _threshold_line(ax, threshold)
        ax.set_xticks(x, labels=list(labels), rotation=30 if max(map(len, labels)) > 8 else 0,
                      ha="right" if max(map(len, labels)) > 8 else "center")
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_ylim(-0.02, 1.05)
        ax.set_ylabel("IIA")
        ax.set_xlabel("intervened variables")
        if title:
            ax.set_title(title)
        fig.legend(loc="outside lower center", frameon=False, ncols=min(4, k + (threshold is not None)))
    return fig


def iia_grid(
    panels: Mapping[str, Any],
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    title: str | None = None,
    width: Width = "two",
    annotate: bool | None = None,
) -> Any:
    """IIA by layer x position: ``panels[name][i, j]`` at ``rows[i]``, ``columns[j]`` (tokens or positions)."""
    if not panels:
        raise FigureError("iia_grid: nothing to draw (no panels)")
    mats = {k: np.asarray(v, dtype=float) for k, v in panels.items()}
    for k, m in mats.items():
        if m.shape != (len(rows), len(columns)):
            raise FigureError(f"iia_grid: panel {k!r} is {m.shape}, expected {(len(rows), len(columns))}")
    annotate = (len(rows) * len(columns) <= 120) if annotate is None else annotate
    with pinned():
        fig = new_figure(width, 0.2 + 0.09 * len(rows) + (0.12 if title else 0))
        axes = fig.subplots(1, len(mats), squeeze=False, sharey=True)[0]
        image = None
        for n, (ax, (name, m)) in enumerate(zip(axes, mats.items())):
            image = ax.imshow(np.ma.masked_invalid(m), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
            ax.set_title(name)
            ax.set_xticks(range(len(columns)), labels=list(columns), rotation=45 if len(columns) > 4 else 0,
                          ha="right" if len(columns) > 4 else "center")
            ax.set_yticks(range(len(rows)), labels=list(rows))
            ax.set_xlabel("position")
            if n == 0:
                ax.set_ylabel("layer")
            ax.spines[:].set_visible(False)
            if annotate:
                for (i, j), v in np.ndenumerate(m):
                    if not math.isnan(v):
                        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=5.5,
                                color="white" if v < 0.6 else "black")
        fig.colorbar(image, ax=list(axes), shrink=0.9, label="IIA")
        if title:
            fig.suptitle(title)
    return fig


def loss_recovered(
    labels: Sequence[str],
    intervals: Sequence[Interval],
    *,
    threshold: float | None = None,
    title: str | None = None,
    width: Width = "one",
) -> Any:
    """Loss recovered (x axis) with its interval, one row per hypothesis or correspondence (``labels``)."""
    _check_lengths("loss_recovered", labels, {"intervals": intervals})
    arr = np.asarray(intervals, dtype=float).reshape(len(labels), 3)
    with pinned():
        fig = new_figure(width, 0.16 + 0.09 * len(labels))
        ax = fig.add_subplot()
        y = np.arange(len(labels))[::-1]
        keep = ~np.isnan(arr[:, 0])
        v, lo, hi = arr[keep, 0], arr[keep, 1], arr[keep, 2]
        lo, hi = np.where(np.isnan(lo), v, lo), np.where(np.isnan(hi), v, hi)
        err = np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])
        ax.errorbar(v, y[keep], xerr=err, fmt="o", color=PALETTE[0], markersize=4, capsize=2, linewidth=1,
                    label="loss recovered")
        _threshold_line(ax, threshold, vertical=True)
        ax.set_yticks(y, labels=list(labels))
        ax.set_ylim(-0.6, len(labels) - 0.4)
        finite = arr[np.isfinite(arr)]
        left = min(0.0, float(finite.min()) - 0.05) if finite.size else 0.0
        ax.set_xlim(left, max(1.05, float(finite.max()) + 0.05 if finite.size else 1.05))
        ax.set_xlabel("loss recovered")
        if title:
            ax.set_title(title)
        if threshold is not None:
            fig.legend(loc="outside lower center", frameon=False, ncols=2)
    return fig


def training_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    ylabel: str = "training loss",
    title: str | None = None,
    width: Width = "one",
    log: bool = False,
) -> Any:
    """One line per fit (``{"x": [loss per epoch], ...}``) against the epoch, starting at 1."""
    if not curves or not any(len(c) for c in curves.values()):
        raise FigureError("training_curves: nothing to draw (no losses)")
    with pinned():
        fig = new_figure(width, 0.62)
        ax = fig.add_subplot()
        for i, (name, c) in enumerate(curves.items()):
            ys = np.asarray(c, dtype=float)
            ax.plot(np.arange(1, len(ys) + 1), ys, color=PALETTE[i % len(PALETTE)], linewidth=1.2,
                    marker=MARKERS[i % len(MARKERS)] if len(ys) <= 30 else None, markersize=3, label=name)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        ax.legend(frameon=False)
    return fig
