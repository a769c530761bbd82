"""Planted defect: a no-op alignment -- a copy of the variable that the read-out ignores.

Task: ``out = (w == x)`` with ``w, x`` ids of 100 objects, one-hot encoded
(200 inputs); hypothesis ``Equality`` (``same = (w == x)``, ``out = same``).
Layer ``"2"`` holds ``same`` twice: unit 0, which the read-out uses, and
unit 1, an exact copy whose read-out weight is 0 (a direction in the null
space of the last layer).  A probe finds ``same`` in unit 1 perfectly, but
an interchange there changes nothing.

====  ===================  ==================================================
name  module               what the units compute
====  ===================  ==================================================
"0"   Linear(200, 100)     unit ``v``: ``[w = v] + [x = v] - 1``
"1"   ReLU                 unit ``v``: ``[w = x = v]``
"2"   Linear(100, 8)       unit 0: ``same = sum_v [w = x = v]``; unit 1: the same
                           (a copy); units 2..7 always 0
"3"   Linear(8, 2)         logits of ``out = 0, 1``: ``-+2 (2 same - 1)``, read from unit 0 only
====  ===================  ==================================================

:func:`alignment` (``same`` -> unit 0) is the known alignment: exact IIA 1.
:func:`noop_alignment` (``same`` -> unit 1) is the planted no-op: under it
the network always gives its output on the base, so the claim is false on
every pair whose intervention should change the output.  Exact IIA of
``Equality`` under :func:`noop_alignment`, from an exhaustive run (every
one of the 10^8 (base, source) pairs; ``tests/test_planted_organisms.py``
checks these counts):

=========  ===========================  ======================  ===========================
set        all pairs                    changed pairs           unchanged pairs
=========  ===========================  ======================  ===========================
``same``   98,020,000 / 100,000,000     0 / 1,980,000 = 0       98,020,000 / 98,020,000 = 1
           = 0.9802
=========  ===========================  ======================  ===========================

Only 1.98% of uniform pairs change the output, so a random sample of 2,000
pairs holds about 40 changed pairs; a claim judged by the IIA over all
pairs (0.98) would pass a 0.95 threshold.  Regenerate the weights with
``python models/planted_unused_copy.py --write``.
"""

from __future__ import annotations

import sys

import _organism as org
import numpy as np
import torch
from torch import nn

from causalabs.network import Alignment, Network, argmax_decoder, site

HYPOTHESES = "hypotheses/planted.py"
TASK = "equality of two of 100 object ids, with an unused copy of the variable (planted no-op alignment)"
OBJECTS = 100
WIDTH = 8  # width of the variable layer "2"
SCALE = 2.0  # logit margin of the read-out
#: Exact (successes, pairs) per variable set and stratum under noop_alignment(), from an exhaustive run.
NOOP_EXACT = {("same",): {"changed": (0, 1_980_000), "unchanged": (98_020_000, 98_020_000)}}


def architecture(device: str | torch.device = "meta") -> nn.Sequential:
    """The layers, without weights (on the meta device unless asked otherwise)."""
    return nn.Sequential(
        nn.Linear(2 * OBJECTS, OBJECTS, device=device),
        nn.ReLU(),
        nn.Linear(OBJECTS, WIDTH, device=device),
        nn.Linear(WIDTH, 2, device=device),
    )


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The hand-set weights (deterministic: no randomness at all) and file metadata."""
    w0, b0 = torch.zeros(OBJECTS, 2 * OBJECTS), torch.full((OBJECTS,), -1.0)
    for v in range(OBJECTS):
        w0[v, v] = w0[v, OBJECTS + v] = 1.0  # [w = v] + [x = v] - 1
    w2, b2 = torch.zeros(WIDTH, OBJECTS), torch.zeros(WIDTH)
    w2[0] = 1.0  # same
    w2[1] = 1.0  # its copy
    w3 = torch.zeros(2, WIDTH)
    w3[0, 0], w3[1, 0] = -2.0 * SCALE, 2.0 * SCALE  # unit 1 has weight 0: the read-out ignores the copy
    b3 = torch.tensor([SCALE, -SCALE])
    state = {"0.weight": w0, "0.bias": b0, "2.weight": w2, "2.bias": b2, "3.weight": w3, "3.bias": b3}
    return state, {"organism": "planted_unused_copy", "construction": "hand-set weights"}


def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
    """One-hot codes of w and x (200 floats per row)."""
    return org.one_hot(batch, ("w", "x"), OBJECTS)


def alignment() -> Alignment:
    """The known alignment: same -> unit 0 of layer "2" (the unit the read-out uses)."""
    return Alignment({"same": site("2", units=[0])})


def noop_alignment() -> Alignment:
    """The planted no-op: same -> unit 1 of layer "2", an exact copy the read-out ignores."""
    return Alignment({"same": site("2", units=[1])})


def load() -> Network:
    """The network with its committed weights and organism metadata."""
    module = org.load_module_state(architecture(), org.load_weights(org.weights_path(__file__)))
    info = org.metadata(
        __file__,
        task=TASK,
        hypothesis=f"{HYPOTHESES}:Equality",
        wrong=[f"{HYPOTHESES}:OperandEquality"],
        alignment=alignment(),
        accuracy=1.0,
        description="same in unit 0 of layer '2' and an unused copy in unit 1; noop_alignment() puts same on "
        "the copy (exact IIA 0.9802, changed pairs 0)",
    )
    return Network(module, encode, argmax_decoder((0, 1)), name="planted_unused_copy", info=info)


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
