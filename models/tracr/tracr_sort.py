"""tracr-compiled ``sort`` (``lib.make_sort(tokens, tokens, max_seq_len=4, min_key=1)``), tokens ``1 2 3``, length 4.

Variables and where tracr put them (``p`` is the RASP position, network
position ``p + 1`` after BOS):

* ``key{p}`` = ``SequenceMap(x + i / 4, tokens, indices)`` (unique keys):
  feature ``keys`` (12 dims), written by ``layers.0.mlp``;
* ``target{p}`` = ``SelectorWidth(Select(keys, keys, LT))``: feature
  ``target_pos`` (5 dims), ``layers.1.mlp``;
* ``y{q}`` = ``Aggregate(Select(target_pos, indices, EQ), tokens)``: feature
  ``sort`` (3 dims), ``layers.2.attn``.

High-level inputs: ``x0..x3``, token indices (0, 1, 2 for the tokens 1, 2,
3).  The hypothesis' ``key_p = 4 x_p + p`` is tracr's key ``x + p/4`` up to
an order-preserving relabelling.  Output: the four sorted positions as one
base-4 integer; a position reads 3 (``NONE``) unless every position sent to
it carries the same token.  Hypotheses: ``TracrSort``, wrong twin
``SortAntiStable``.
"""

from __future__ import annotations

import _tracr as tr

from causalabs.network import Alignment, Network

TASK = "sort 4 tokens from {1, 2, 3} (stable; tracr-compiled RASP)"
NAME = "tracr_sort"
POSITIONS = range(4)


def alignment() -> Alignment:
    """The known alignment: keys, target positions and sorted outputs on their tracr features."""
    cfg = tr.config(NAME)
    variables: dict[str, tuple[str, list[int]]] = {}
    for p in POSITIONS:
        variables[f"key{p}"] = ("keys", [p])
        variables[f"target{p}"] = ("target_pos", [p])
        variables[f"y{p}"] = ("sort", [p])
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
        hypothesis="TracrSort",
        wrong=["SortAntiStable"],
        description="tracr.compiler.lib.make_sort compiled by tracr; keys, target positions and the "
        "sorted tokens on their labelled residual dimensions",
    )
