"""tracr-compiled ``reverse`` (``lib.make_reverse(tokens)``), vocabulary ``a b c``, 1 to 4 tokens.

The RASP program, and where tracr put each variable (``layers.i.attn`` and
``layers.i.mlp`` output the residual stream after that block; ``p`` is the
RASP position, network position ``p + 1`` after BOS):

* ``length`` = ``SelectorWidth(Select(tokens, tokens, TRUE))``: feature
  ``length`` (5 dims), written by ``layers.0.mlp``, at every position;
* ``opp{p}`` = ``length - indices``: feature ``opp_idx`` (8 dims), ``layers.1.mlp``;
* ``src{p}`` = ``opp_idx - 1``: feature ``opp_idx-1`` (8 dims), ``layers.2.mlp``;
* ``y{p}`` = ``Aggregate(Select(indices, opp_idx-1, EQ), tokens)``: feature
  ``reverse`` (3 dims), ``layers.3.attn``.

High-level inputs: ``n`` (number of tokens, 1..4) and ``x0..x3`` (token
indices; those at or past ``n`` become pads).  Output: the four read-out
positions as one base-4 integer, a position with nothing selected reading
3 (``NONE``).  Hypotheses: ``hypotheses/tracr_programs.py`` (``TracrReverse``,
wrong twin ``ReverseFromMaxLength``).  Rebuild the export with
``python models/tracr/export.py`` in ``.venv-tracr``.
"""

from __future__ import annotations

import _tracr as tr

from causalabs.network import Alignment, Network

TASK = "reverse a sequence of 1 to 4 tokens from {a, b, c} (tracr-compiled RASP)"
NAME = "tracr_reverse"
POSITIONS = range(4)


def alignment() -> Alignment:
    """The known alignment: each variable on its tracr feature's dimensions at its position."""
    cfg = tr.config(NAME)
    variables: dict[str, tuple[str, list[int]]] = {"length": ("length", list(POSITIONS))}
    for p in POSITIONS:
        variables[f"opp{p}"] = ("opp_idx", [p])
        variables[f"src{p}"] = ("opp_idx-1", [p])
        variables[f"y{p}"] = ("reverse", [p])
    return tr.alignment(cfg, variables)


def load() -> Network:
    """The organism with its committed tracr export."""
    cfg = tr.config(NAME)
    vocab = list(cfg.extra["vocab"])
    return tr.network(
        NAME,
        decode=lambda c: tr.categorical_decoder(c, [vocab.index(v) for v in c.output_values], none=3, base=4),
        known=alignment(),
        task=TASK,
        hypothesis="TracrReverse",
        wrong=["ReverseFromMaxLength"],
        description="tracr.compiler.lib.make_reverse compiled by tracr; length, opp_idx and opp_idx-1 "
        "on their labelled residual dimensions",
    )
