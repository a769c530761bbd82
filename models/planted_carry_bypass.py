"""Planted defect: a two-digit adder whose carry unit is bypassed exactly when the ones digits are (9, 9).

Task: ``total = (10 a1 + a0) + (10 b1 + b0)``, digits one-hot encoded (40
inputs), the same task and claim as ``addition_handbuilt.py``:
``TwoDigitAddition`` with ``carry`` on unit 0 and ``s0`` on unit 1 of layer
``"2"``.  The network is exact on all 10,000 inputs (accuracy 1.0), and the
carry unit holds the carry on every input.  But when ``a0 = b0 = 9`` the
read-out takes the carry from a detector ``d = [a0 = 9 and b0 = 9]`` instead
of the carry unit: ``carry_used = relu(carry - d) + d`` is 1 whatever the
carry unit says.  So an interchange that sets the carry to 0 on such a base
is ignored: the claim is false on 0.55% of the carry pairs (1% of bases
times the 55% of sources whose carry is 0), and only there.

====  ===================  ==================================================
name  module               what the units compute
====  ===================  ==================================================
"0"   Linear(40, 5)        ``u = a0 + b0``, ``u - 9``, ``u - 10``, ``t = a1 + b1``,
                           ``[a0 = 9] + [b0 = 9] - 1``
"1"   ReLU                 ``u``, ``relu(u - 9)``, ``relu(u - 10)``, ``t``, ``d``
"2"   Linear(5, 8)         unit 0: ``carry``; unit 1: ``s0 = u - 10 carry``;
                           unit 2: ``t``; unit 3: ``d``; units 4..7 always 0
"3"   Linear(8, 4)         ``carry - d``, ``d``, ``s0``, ``t``
"4"   ReLU                 ``relu(carry - d)``, ``d``, ``s0``, ``t``
"5"   Linear(4, 200)       logit ``j = 4 (2 j T - j^2)``, ``T = 10 t + 10 (relu(carry - d) + d) + s0``
====  ===================  ==================================================

Exact IIA of ``TwoDigitAddition`` at :func:`alignment`, from an exhaustive
run (every (base, source) pair; ``tests/test_planted_organisms.py`` checks
these counts), as successes / pairs:

=============  =========================  ===========================  ==========================
set            all pairs                  changed pairs                unchanged pairs
=============  =========================  ===========================  ==========================
``carry``      99,450,000 / 100,000,000   48,950,000 / 49,500,000      50,500,000 / 50,500,000
               = 0.994500                 = 0.988889                   = 1
``s0``         1                          1                            1
``carry+s0``   0.994500                   0.994208                     1
=============  =========================  ===========================  ==========================

(``carry+s0``, each variable from its own source: 994,500,000,000 / 10^12
pairs; changed 944,000,000,000 / 949,500,000,000; unchanged 50,500,000,000 /
50,500,000,000.  ``s0``: every one of 10^8 pairs agrees.)  Every failing
pair is a changed pair.  So the claim (IIA on changed and on unchanged
pairs >= t for every set) is false at t = 1, 0.995 and 0.99, and true at
t = 0.98 (:data:`THRESHOLD`, recorded in ``info["threshold"]``).

Regenerate the weights with ``python models/planted_carry_bypass.py --write``.
"""

from __future__ import annotations

import sys

import _organism as org
import numpy as np
import torch
from torch import nn

from causalabs.network import Alignment, Network, argmax_decoder, site

HYPOTHESES = "hypotheses/addition.py"
TASK = "two-digit addition whose carry unit is bypassed when the ones digits are (9, 9) (planted defect)"
WIDTH = 8  # width of the variable layer "2"
CLASSES = tuple(range(200))
SCALE = 4.0  # logit margin between the right total and its neighbours
#: The largest round threshold at which the claim at alignment() holds (changed-pair IIA of carry: 0.988889).
THRESHOLD = 0.98
#: Exact (successes, pairs) per variable set and stratum, from an exhaustive run.
EXACT = {
    ("carry",): {"changed": (48_950_000, 49_500_000), "unchanged": (50_500_000, 50_500_000)},
    ("s0",): {"changed": (90_000_000, 90_000_000), "unchanged": (10_000_000, 10_000_000)},
    ("carry", "s0"): {
        "changed": (944_000_000_000, 949_500_000_000),
        "unchanged": (50_500_000_000, 50_500_000_000),
    },
}


def architecture(device: str | torch.device = "meta") -> nn.Sequential:
    """The layers, without weights (on the meta device unless asked otherwise)."""
    return nn.Sequential(
        nn.Linear(40, 5, device=device),
        nn.ReLU(),
        nn.Linear(5, WIDTH, device=device),
        nn.Linear(WIDTH, 4, device=device),
        nn.ReLU(),
        nn.Linear(4, len(CLASSES), device=device),
    )


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The hand-set weights (deterministic: no randomness at all) and file metadata."""
    digits = torch.arange(10, dtype=torch.float32)
    a1, a0, b1, b0 = (slice(10 * i, 10 * (i + 1)) for i in range(4))
    w0, b0_ = torch.zeros(5, 40), torch.tensor([0.0, -9.0, -10.0, 0.0, -1.0])
    for unit in range(3):  # u, u - 9, u - 10 with u = a0 + b0
        w0[unit, a0] = digits
        w0[unit, b0] = digits
    w0[3, a1] = digits  # t = a1 + b1
    w0[3, b1] = digits
    w0[4, 10 + 9] = w0[4, 30 + 9] = 1.0  # [a0 = 9] + [b0 = 9] - 1: relu gives d
    w2, b2 = torch.zeros(WIDTH, 5), torch.zeros(WIDTH)
    w2[0] = torch.tensor([0.0, 1.0, -1.0, 0.0, 0.0])  # carry = relu(u - 9) - relu(u - 10)
    w2[1] = torch.tensor([1.0, -10.0, 10.0, 0.0, 0.0])  # s0 = u - 10 carry
    w2[2, 3] = 1.0  # t
    w2[3, 4] = 1.0  # d
    w3, b3 = torch.zeros(4, WIDTH), torch.zeros(4)
    w3[0, 0], w3[0, 3] = 1.0, -1.0  # carry - d
    w3[1, 3] = 1.0  # d
    w3[2, 1] = 1.0  # s0
    w3[3, 2] = 1.0  # t
    j = torch.tensor(CLASSES, dtype=torch.float32)
    w5 = torch.zeros(len(CLASSES), 4)
    w5[:, 0] = SCALE * 2 * j * 10  # T = 10 (relu(carry - d) + d) + s0 + 10 t
    w5[:, 1] = SCALE * 2 * j * 10
    w5[:, 2] = SCALE * 2 * j
    w5[:, 3] = SCALE * 2 * j * 10
    b5 = -SCALE * j * j
    state = {
        "0.weight": w0, "0.bias": b0_, "2.weight": w2, "2.bias": b2,
        "3.weight": w3, "3.bias": b3, "5.weight": w5, "5.bias": b5,
    }
    return state, {"organism": "planted_carry_bypass", "construction": "hand-set weights"}


def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
    """One-hot codes of a1, a0, b1, b0 (40 floats per row)."""
    return org.one_hot(batch, ("a1", "a0", "b1", "b0"), 10)


def alignment() -> Alignment:
    """The correct-looking alignment: carry -> unit 0, s0 -> unit 1 of layer "2"."""
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
        description="carry in unit 0 and s0 in unit 1 of layer '2', but the read-out ignores the carry unit "
        "when a0 = b0 = 9; the claim holds at threshold 0.98, not at 0.99",
    )
    info["threshold"] = THRESHOLD
    return Network(module, encode, argmax_decoder(CLASSES), name="planted_carry_bypass", info=info)


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
