"""Hand-built hierarchical equality: ``left`` in unit 0 and ``right`` in unit 1 of layer ``"2"``.

Task: ``out = (w == x) == (y == z)`` with ``w, x, y, z`` in ``range(4)``,
one-hot encoded (16 inputs).  Every weight is set by hand; the network is
exact on all 256 inputs and its mechanism is known:

====  ===================  ==================================================
name  module               what the units compute
====  ===================  ==================================================
"0"   Linear(16, 8)        unit ``v < 4``: ``w==v + x==v - 1``; unit ``4+v``: same for ``y, z``
"1"   ReLU                 unit ``v``: ``[w == x == v]``; unit ``4+v``: ``[y == z == v]``
"2"   Linear(8, 8)         unit 0: ``left = (w == x)``; unit 1: ``right = (y == z)``;
                           units 2..7 always 0 (room for a rotation to spread into)
"3"   Linear(8, 2)         ``left - right``, ``right - left``
"4"   ReLU                 their positive parts; the sum is ``|left - right|``
"5"   Linear(2, 2)         logits of ``out = 0, 1``: ``+-2 * (1 - 2 |left - right|)``
====  ===================  ==================================================

No nonlinearity sits between "2" and "3", so a rotation of layer "2" can be
folded into the weights without changing the function (``heq_rotated.py``).

Regenerate the weights with ``python models/heq_handbuilt.py --write``.
"""

from __future__ import annotations

import sys

import _organism as org
import numpy as np
import torch
from torch import nn

from causalabs.network import Alignment, Network, argmax_decoder, site

HYPOTHESES = "hypotheses/hierarchical_equality.py"
TASK = "hierarchical equality: out = (w == x) == (y == z), w, x, y, z in range(4)"
WIDTH = 8  # width of the variable layer "2"
SCALE = 2.0  # logit margin of the read-out


def architecture(device: str | torch.device = "meta") -> nn.Sequential:
    """The layers, without weights (on the meta device unless asked otherwise)."""
    return nn.Sequential(
        nn.Linear(16, 8, device=device),
        nn.ReLU(),
        nn.Linear(8, WIDTH, device=device),
        nn.Linear(WIDTH, 2, device=device),
        nn.ReLU(),
        nn.Linear(2, 2, device=device),
    )


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The hand-set weights (deterministic: no randomness at all) and file metadata."""
    w0, b0 = torch.zeros(8, 16), torch.full((8,), -1.0)
    for v in range(4):
        w0[v, 0 * 4 + v] = w0[v, 1 * 4 + v] = 1.0  # w == v and x == v
        w0[4 + v, 2 * 4 + v] = w0[4 + v, 3 * 4 + v] = 1.0  # y == v and z == v
    w2, b2 = torch.zeros(WIDTH, 8), torch.zeros(WIDTH)
    w2[0, :4] = 1.0  # left = sum_v [w == x == v]
    w2[1, 4:] = 1.0  # right = sum_v [y == z == v]
    w3 = torch.zeros(2, WIDTH)
    w3[0, :2] = torch.tensor([1.0, -1.0])
    w3[1, :2] = torch.tensor([-1.0, 1.0])
    b3 = torch.zeros(2)
    w5 = torch.tensor([[2.0, 2.0], [-2.0, -2.0]]) * SCALE  # out=0 grows with |left - right|
    b5 = torch.tensor([-1.0, 1.0]) * SCALE
    state = {
        "0.weight": w0, "0.bias": b0,
        "2.weight": w2, "2.bias": b2,
        "3.weight": w3, "3.bias": b3,
        "5.weight": w5, "5.bias": b5,
    }
    return state, {"organism": "heq_handbuilt", "construction": "hand-set weights"}


def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
    """One-hot codes of w, x, y, z (16 floats per row)."""
    return org.one_hot(batch, ("w", "x", "y", "z"), 4)


def alignment() -> Alignment:
    """The known alignment: left -> unit 0, right -> unit 1 of layer "2"."""
    return Alignment({"left": site("2", units=[0]), "right": site("2", units=[1])})


def load() -> Network:
    """The network with its committed weights and organism metadata."""
    module = org.load_module_state(architecture(), org.load_weights(org.weights_path(__file__)))
    info = org.metadata(
        __file__,
        task=TASK,
        hypothesis=f"{HYPOTHESES}:HierarchicalEquality",
        wrong=[f"{HYPOTHESES}:SwappedEquality", f"{HYPOTHESES}:CrossedEquality", f"{HYPOTHESES}:LeftOnlySwapped"],
        also_correct=[f"{HYPOTHESES}:LeftOnly"],
        alignment=alignment(),
        accuracy=1.0,
        description="hand-set weights; left in unit 0, right in unit 1 of layer '2'",
    )
    return Network(module, encode, argmax_decoder((0, 1)), name="heq_handbuilt", info=info)


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
