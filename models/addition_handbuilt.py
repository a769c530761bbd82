"""Hand-built two-digit addition: ``carry`` in unit 0 and ``s0`` in unit 1 of layer ``"2"``.

Task: ``total = (10 a1 + a0) + (10 b1 + b0)`` with digits in ``range(10)``,
one-hot encoded (40 inputs, in the order a1, a0, b1, b0).  Every weight is
set by hand; the network is exact on all 10,000 inputs:

====  ===================  ==================================================
name  module               what the units compute
====  ===================  ==================================================
"0"   Linear(40, 4)        ``u = a0 + b0``, ``u - 9``, ``u - 10``, ``t = a1 + b1``
"1"   ReLU                 ``u``, ``relu(u - 9)``, ``relu(u - 10)``, ``t``
"2"   Linear(4, 8)         unit 0: ``carry = relu(u-9) - relu(u-10) = [u >= 10]``;
                           unit 1: ``s0 = u - 10 carry``; unit 2: ``t`` (the tens sum);
                           units 3..7 always 0 (room for a rotation to spread into)
"3"   Linear(8, 200)       logit ``j = 4 (2 j T - j^2)`` with ``T = 10 t + 10 carry + s0``
====  ===================  ==================================================

The read-out is linear in ``T`` and its argmax is ``T`` itself
(``2 j T - j^2 = T^2 - (j - T)^2``), so the network reads the carry and
the ones digit only through units 0 and 1: setting unit 0 to a source's
carry gives ``10 (a1 + b1 + carry') + s0``, the hypothesis'
counterfactual.  The output classes are ``0..199``: 199 is no sum of two
two-digit numbers, but the carry intervention reaches it (base 90 + 9 with
carry 1).

No nonlinearity sits between "2" and "3", so a rotation of layer "2" can be
folded into the weights (``addition_rotated.py``).

Regenerate the weights with ``python models/addition_handbuilt.py --write``.
"""

from __future__ import annotations

import sys

import _organism as org
import numpy as np
import torch
from torch import nn

from causalabs.network import Alignment, Network, argmax_decoder, site

HYPOTHESES = "hypotheses/addition.py"
TASK = "two-digit addition: total = (10 a1 + a0) + (10 b1 + b0), digits in range(10)"
WIDTH = 8  # width of the variable layer "2"
CLASSES = tuple(range(200))
SCALE = 4.0  # logit margin between the right total and its neighbours


def architecture(device: str | torch.device = "meta") -> nn.Sequential:
    """The layers, without weights (on the meta device unless asked otherwise)."""
    return nn.Sequential(
        nn.Linear(40, 4, device=device),
        nn.ReLU(),
        nn.Linear(4, WIDTH, device=device),
        nn.Linear(WIDTH, len(CLASSES), device=device),
    )


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The hand-set weights (deterministic: no randomness at all) and file metadata."""
    digits = torch.arange(10, dtype=torch.float32)
    a1, a0, b1, b0 = (slice(10 * i, 10 * (i + 1)) for i in range(4))
    w0, b0_ = torch.zeros(4, 40), torch.tensor([0.0, -9.0, -10.0, 0.0])
    for unit in range(3):  # u, u - 9, u - 10 with u = a0 + b0
        w0[unit, a0] = digits
        w0[unit, b0] = digits
    w0[3, a1] = digits  # t = a1 + b1
    w0[3, b1] = digits
    w2, b2 = torch.zeros(WIDTH, 4), torch.zeros(WIDTH)
    w2[0] = torch.tensor([0.0, 1.0, -1.0, 0.0])  # carry = relu(u - 9) - relu(u - 10)
    w2[1] = torch.tensor([1.0, -10.0, 10.0, 0.0])  # s0 = u - 10 carry
    w2[2] = torch.tensor([0.0, 0.0, 0.0, 1.0])  # tens sum t
    j = torch.tensor(CLASSES, dtype=torch.float32)
    w3 = torch.zeros(len(CLASSES), WIDTH)
    w3[:, 0] = SCALE * 2 * j * 10  # T = 10 carry + s0 + 10 t
    w3[:, 1] = SCALE * 2 * j
    w3[:, 2] = SCALE * 2 * j * 10
    b3 = -SCALE * j * j
    state = {"0.weight": w0, "0.bias": b0_, "2.weight": w2, "2.bias": b2, "3.weight": w3, "3.bias": b3}
    return state, {"organism": "addition_handbuilt", "construction": "hand-set weights"}


def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
    """One-hot codes of a1, a0, b1, b0 (40 floats per row)."""
    return org.one_hot(batch, ("a1", "a0", "b1", "b0"), 10)


def alignment() -> Alignment:
    """The known alignment: carry -> unit 0, s0 -> unit 1 of layer "2"."""
    return Alignment({"carry": site("2", units=[0]), "s0": site("2", units=[1])})


def load() -> Network:
    """The network with its committed weights and organism metadata."""
    module = org.load_module_state(architecture(), org.load_weights(org.weights_path(__file__)))
    info = org.metadata(
        __file__,
        task=TASK,
        hypothesis=f"{HYPOTHESES}:TwoDigitAddition",
        wrong=[f"{HYPOTHESES}:TensCarryAddition"],
        alignment=alignment(),
        accuracy=1.0,
        description="hand-set weights; carry in unit 0, ones digit in unit 1 of layer '2'",
    )
    return Network(module, encode, argmax_decoder(CLASSES), name="addition_handbuilt", info=info)


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
