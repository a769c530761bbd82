"""Hand-built boolean circuit ``out = (a AND b) XOR (c OR d)``: ``g1`` in unit 0, ``g2`` in unit 1 of layer ``"2"``.

Inputs ``a, b, c, d`` in ``{0, 1}`` are fed as four floats.  Every weight is
set by hand; the network is exact on all 16 inputs:

====  ===================  ==================================================
name  module               what the units compute
====  ===================  ==================================================
"0"   Linear(4, 3)         ``a + b - 1``, ``c + d``, ``c + d - 1``
"1"   ReLU                 ``a AND b``, ``c + d``, ``[c + d = 2]``
"2"   Linear(3, 8)         unit 0: ``g1 = a AND b``; unit 1: ``g2 = c OR d = (c + d) - [c + d = 2]``;
                           units 2..7 always 0 (room for a rotation to spread into)
"3"   Linear(8, 2)         ``g1 - g2``, ``g2 - g1``
"4"   ReLU                 their positive parts; the sum is ``g1 XOR g2``
"5"   Linear(2, 2)         logits of ``out = 0, 1``: ``-+2 * (2 (g1 XOR g2) - 1)``
====  ===================  ==================================================

No nonlinearity sits between "2" and "3", so a rotation of layer "2" can be
folded into the weights (``boolean_circuit_rotated.py``).

Regenerate the weights with ``python models/boolean_circuit.py --write``.
"""

from __future__ import annotations

import sys

import _organism as org
import numpy as np
import torch
from torch import nn

from causalabs.network import Alignment, Network, argmax_decoder, site

HYPOTHESES = "hypotheses/boolean_circuit.py"
TASK = "boolean circuit: out = (a AND b) XOR (c OR d), a, b, c, d in {0, 1}"
WIDTH = 8  # width of the variable layer "2"
SCALE = 2.0  # logit margin of the read-out


def architecture(device: str | torch.device = "meta") -> nn.Sequential:
    """The layers, without weights (on the meta device unless asked otherwise)."""
    return nn.Sequential(
        nn.Linear(4, 3, device=device),
        nn.ReLU(),
        nn.Linear(3, WIDTH, device=device),
        nn.Linear(WIDTH, 2, device=device),
        nn.ReLU(),
        nn.Linear(2, 2, device=device),
    )


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The hand-set weights (deterministic: no randomness at all) and file metadata."""
    w0 = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    b0 = torch.tensor([-1.0, 0.0, -1.0])
    w2, b2 = torch.zeros(WIDTH, 3), torch.zeros(WIDTH)
    w2[0] = torch.tensor([1.0, 0.0, 0.0])  # g1 = a AND b
    w2[1] = torch.tensor([0.0, 1.0, -1.0])  # g2 = (c + d) - [c + d = 2] = c OR d
    w3 = torch.zeros(2, WIDTH)
    w3[0, :2] = torch.tensor([1.0, -1.0])
    w3[1, :2] = torch.tensor([-1.0, 1.0])
    b3 = torch.zeros(2)
    w5 = torch.tensor([[-2.0, -2.0], [2.0, 2.0]]) * SCALE  # out=1 grows with g1 XOR g2
    b5 = torch.tensor([1.0, -1.0]) * SCALE
    state = {
        "0.weight": w0, "0.bias": b0,
        "2.weight": w2, "2.bias": b2,
        "3.weight": w3, "3.bias": b3,
        "5.weight": w5, "5.bias": b5,
    }
    return state, {"organism": "boolean_circuit", "construction": "hand-set weights"}


def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
    """a, b, c, d as four floats per row."""
    return org.bits(batch, ("a", "b", "c", "d"))


def alignment() -> Alignment:
    """The known alignment: g1 -> unit 0, g2 -> unit 1 of layer "2"."""
    return Alignment({"g1": site("2", units=[0]), "g2": site("2", units=[1])})


def load() -> Network:
    """The network with its committed weights and organism metadata."""
    module = org.load_module_state(architecture(), org.load_weights(org.weights_path(__file__)))
    info = org.metadata(
        __file__,
        task=TASK,
        hypothesis=f"{HYPOTHESES}:BooleanCircuit",
        wrong=[f"{HYPOTHESES}:SwappedGates"],
        alignment=alignment(),
        accuracy=1.0,
        description="hand-set weights; g1 = a AND b in unit 0, g2 = c OR d in unit 1 of layer '2'",
    )
    return Network(module, encode, argmax_decoder((0, 1)), name="boolean_circuit", info=info)


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
