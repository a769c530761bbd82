"""tracr-compiled ``frac_prevs`` (``lib.make_frac_prevs(tokens == "x")``), vocabulary ``x y z``, length 4.

Variables and where tracr put them (``p`` is the RASP position, network
position ``p + 1`` after BOS):

* ``is_x{p}`` = ``numerical(tokens == "x")``: the one dimension ``is_x``,
  written by ``layers.0.mlp``;
* ``count{p}``, the number of ``x`` at positions ``<= p``:
  ``numerical(Aggregate(Select(indices, indices, LEQ), is_x))`` holds
  ``count_p / (p + 1)`` in the one dimension ``frac_prevs`` (``layers.1.attn``).

High-level inputs: ``x0..x3``, token indices (``x`` is 0).  The output is
numerical; the decoder reads ``count_p = round(frac_p * (p + 1))`` and
returns ``sum(count_p * (1, 2, 6, 24)[p])`` (mixed radix: ``count_p`` takes
``p + 2`` values).  Hypotheses: ``TracrFracPrevs``, wrong twin
``FracPrevsExclusive``.
"""

from __future__ import annotations

import _tracr as tr

from causalabs.network import Alignment, Network

TASK = 'running fraction of "x" among 4 tokens from {x, y, z} (tracr-compiled RASP, numerical output)'
NAME = "tracr_frac_prevs"
POSITIONS = range(4)
PLACES = (1, 2, 6, 24)


def alignment() -> Alignment:
    """The known alignment: ``is_x_p`` and ``count_p`` on their one numerical dimension each."""
    cfg = tr.config(NAME)
    variables: dict[str, tuple[str, list[int]]] = {}
    for p in POSITIONS:
        variables[f"is_x{p}"] = ("is_x", [p])
        variables[f"count{p}"] = ("frac_prevs", [p])
    return tr.alignment(cfg, variables)


def load() -> Network:
    """The organism with its committed tracr export."""
    return tr.network(
        NAME,
        decode=lambda c: tr.numerical_decoder(c, PLACES),
        known=alignment(),
        task=TASK,
        hypothesis="TracrFracPrevs",
        wrong=["FracPrevsExclusive"],
        description="tracr.compiler.lib.make_frac_prevs compiled by tracr; the indicator and the running "
        "mean each in one numerical residual dimension",
    )
