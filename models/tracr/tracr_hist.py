"""tracr-compiled ``hist`` (``lib.make_hist()``), vocabulary ``a b c``, 1 to 4 tokens.

``hist = SelectorWidth(Select(tokens, tokens, EQ))`` compiles to one
attention block and one MLP block (``p`` is the RASP position, network
position ``p + 1`` after BOS):

* ``count{p}``: the number of real tokens equal to ``x_p``.  The attention
  block attends to BOS with weight ``1 / (count + 1)`` and writes that into
  the one dimension ``hist_selector_width_attn_output`` (``layers.0.attn``);
* ``hist{p}``: the same count, categorical: feature ``hist`` (5 dims),
  ``layers.0.mlp`` (which also cleans the attention dimension again).

High-level inputs: ``n`` (1..4) and ``x0..x3`` (token indices; those at or
past ``n`` become pads, which match nothing: their ``hist`` is 0).  Output:
the four read-out positions as one base-5 integer.  Hypotheses:
``TracrHist``, wrong twin ``HistOthers``.
"""

from __future__ import annotations

import _tracr as tr

from causalabs.network import Alignment, Network

TASK = "histogram: for each of 1 to 4 tokens from {a, b, c}, how many tokens equal it (tracr-compiled RASP)"
NAME = "tracr_hist"
POSITIONS = range(4)


def alignment() -> Alignment:
    """The known alignment: ``count_p`` on the selector-width dimension, ``hist_p`` on the ``hist`` dimensions."""
    cfg = tr.config(NAME)
    variables: dict[str, tuple[str, list[int]]] = {}
    for p in POSITIONS:
        variables[f"count{p}"] = ("hist_selector_width_attn_output", [p])
        variables[f"hist{p}"] = ("hist", [p])
    return tr.alignment(cfg, variables)


def load() -> Network:
    """The organism with its committed tracr export."""
    return tr.network(
        NAME,
        decode=lambda c: tr.categorical_decoder(c, [int(v) for v in c.output_values], none=None, base=5),
        known=alignment(),
        task=TASK,
        hypothesis="TracrHist",
        wrong=["HistOthers"],
        description="tracr.compiler.lib.make_hist compiled by tracr; the count lives in one numerical "
        "dimension (the selector width's attention output) before the MLP makes it categorical",
    )
