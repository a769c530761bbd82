"""A causal graph drawn in layers: inputs at the top, each variable one row below its deepest parent.

The layout is computed here (topological generations, in the given order
within a layer), so the same graph gives the same picture; networkx lays no
node at random.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from causalabs.errors import FigureError
from causalabs.figures.style import PALETTE, Width, new_figure, pinned

#: Node colours by kind (Okabe-Ito): inputs blue, internal variables orange, outputs green.
KIND_COLOURS = {"input": PALETTE[5], "internal": PALETTE[1], "output": PALETTE[2]}


def layers(parents: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Variables by depth: a variable sits one layer below its deepest parent (order kept within a layer)."""
    depth: dict[str, int] = {}
    for name in parents:
        for p in parents[name]:
            if p not in parents:
                raise FigureError(f"causal_graph: {name!r} has parent {p!r}, which is not a variable")
    remaining = list(parents)
    while remaining:
        ready = [n for n in remaining if all(p in depth for p in parents[n])]
        if not ready:
            raise FigureError(f"causal_graph: a cycle among {', '.join(remaining)}")
        for n in ready:
            depth[n] = 1 + max((depth[p] for p in parents[n]), default=-1)
        remaining = [n for n in remaining if n not in depth]
    out: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for n in parents:
        out[depth[n]].append(n)
    return out


def causal_graph(
    parents: Mapping[str, Sequence[str]],
    kinds: Mapping[str, str],
    *,
    mechanisms: Mapping[str, str] | None = None,
    title: str | None = None,
    width: Width = "one",
) -> Any:
    """Draw the graph ``parents`` (variable -> its parents) with each node's kind and, below it, its mechanism."""
    if not parents:
        raise FigureError("causal_graph: nothing to draw (no variables)")
    rows = layers(parents)
    pos: dict[str, tuple[float, float]] = {}
    for r, names in enumerate(rows):
        for i, n in enumerate(names):
            pos[n] = ((i + 1) / (len(names) + 1), 1.0 - r / max(1, len(rows) - 1) if len(rows) > 1 else 0.5)
    with pinned():
        fig = new_figure(width, 0.18 + 0.22 * len(rows))
        ax = fig.add_subplot()
        ax.set_axis_off()
        depth = {n: r for r, names in enumerate(rows) for n in names}
        for n, ps in parents.items():
            for p in ps:
                skip = depth[n] - depth[p] > 1  # an edge past a layer bends around the nodes in between
                ax.annotate("", xy=pos[n], xytext=pos[p],
                            arrowprops={"arrowstyle": "-|>", "color": "0.35", "linewidth": 0.8,
                                        "shrinkA": 9, "shrinkB": 9,
                                        "connectionstyle": "arc3,rad=0.25" if skip else "arc3"})
        for n, (x, y) in pos.items():
            ax.text(x, y, n, ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.3", "facecolor": KIND_COLOURS.get(kinds.get(n, ""), "white"),
                          "edgecolor": "0.2", "linewidth": 0.6})
            mech = (mechanisms or {}).get(n)
            if mech:
                ax.text(x, y - 0.07, mech, ha="center", va="top", fontsize=6, color="0.25",
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"}, zorder=4)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.25, 1.1)
        if title:
            ax.set_title(title)
    return fig
