"""``causalabs search --layers A-B --positions P,Q``: a layer x token-position grid of sites, and its axis labels.

``--layers`` takes ranges and lists (``20-29``, ``0,12,24``, ``all``) of
decoder blocks (found by family: ``transformer.h``, ``model.layers``,
``gpt_neox.layers``...); ``--positions`` takes position names or integers
(``last,slot:s,slot:a``).  Each (layer, position) pair is the site
``BLOCKS.L[pos P]``: the residual stream after block L at position P.  With a
text template, the heatmap's position axis also shows the tokens of one
example prompt at each position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from causalabs.errors import LoadError


def parse_layers(text: str, count: int) -> list[int]:
    """``"20-29"``, ``"0,12,24"``, ``"-3--1"`` or ``"all"`` -> block indices in 0..count-1 (negative from the end)."""
    if text.strip() == "all":
        return list(range(count))
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            if "-" in part[1:]:
                cut = part.index("-", 1)
                lo, hi = int(part[:cut]), int(part[cut + 1 :])
                out += list(range(lo % count if lo < 0 else lo, (hi % count if hi < 0 else hi) + 1))
            else:
                out.append(int(part) % count if int(part) < 0 else int(part))
        except ValueError:
            raise LoadError(f"--layers {text!r}: write ranges and lists of block numbers, for example 20-29 or 0,12,24") from None
    bad = [x for x in out if not 0 <= x < count]
    if bad or not out:
        raise LoadError(f"--layers {text!r}: the network has {count} decoder blocks (0..{count - 1})")
    return list(dict.fromkeys(out))


def grid_sites(network: Any, layers: str, positions: str | None) -> list[str]:
    """Site texts ``BLOCKS.L[pos P]`` for every layer and position (layer-major)."""
    from causalabs.network.hf_sites import blocks_path, num_layers

    blocks = blocks_path(network)
    names = [p.strip() for p in (positions or "").split(",") if p.strip()]
    pos = [f"[pos {p}]" for p in names] or [""]
    return [f"{blocks}.{layer}{p}" for layer in parse_layers(layers, num_layers(network)) for p in pos]


def token_labels(network: Any, model: Any, positions: Sequence[str]) -> tuple[dict[str, str], str | None]:
    """The tokens at each named position in one example prompt (the first probe input), and that prompt's text.

    Empty when the network's encode is not a text template.
    """
    from causalabs.network.network import probe_batch

    template = getattr(network.encode, "__wrapped__", network.encode)
    if not hasattr(template, "tokens_at"):
        return {}, None
    row = {k: v[:1] for k, v in probe_batch(model, rows=1).items()}
    labels = {str(p): template.tokens_at(p, row) for p in positions}
    return labels, template.texts(row)[0]


def positions_of(sites: Sequence[Any]) -> list[str]:
    """The position labels of sites with positions, in first-seen order."""
    out = []
    for s in sites:
        p = s.positions
        if p is None:
            continue
        out.append(str(getattr(p, "__name__", None) or ",".join(map(str, p))))
    return list(dict.fromkeys(out))


__all__ = ["grid_sites", "parse_layers", "positions_of", "token_labels"]
