"""Planted defect: a modular sum, exact except on a fixed 4.86% of base inputs -- a claim true at 0.95.

Task: ``out = (x1 + x2 + x3 + x4) mod 3`` with each ``x_i`` in ``range(6)``,
one-hot encoded (24 inputs); hypothesis ``ModularSum`` with the residues
``v_i = x_i mod 3`` on units 0..3 of layer ``"2"`` (4 aligned variables, 15
variable sets).  On 63 of the 1,296 inputs (:func:`defective_inputs`, drawn
with ``numpy.random.default_rng(DEFECT_SEED)``) a detector adds 1 before the
``mod 3`` read-out, so the network's answer is wrong on those inputs and on
every interchange whose *base* is one of them, whatever the sources.

====  ===================  ==================================================
name  module               what the units compute
====  ===================  ==================================================
"0"   Linear(24, 67)       units 0..3: ``v_i = x_i mod 3`` (a weighted one-hot sum);
                           unit ``4 + k``: ``sum_i [x_i = d_ki] - 3`` for defective input ``d_k``
"1"   ReLU                 ``v_i``; ``[x = d_k]``
"2"   Linear(67, 8)        units 0..3: ``v1..v4``; unit 4: ``f = [x is defective]``;
                           units 5..7 always 0
"3"   Linear(8, 30)        ``S - j + 1``, ``S - j``, ``S - j - 1`` for ``j = 0..9``,
                           ``S = v1 + v2 + v3 + v4 + f``
"4"   ReLU                 ``[S = j] = relu(S-j+1) - 2 relu(S-j) + relu(S-j-1)`` in three units each
"5"   Linear(30, 3)        logit ``c = 4 sum_{j = c mod 3} [S = j]``: argmax ``S mod 3``
====  ===================  ==================================================

Each residue is uniform on ``{0, 1, 2}``, so for every base and every set of
intervened variables exactly a third of the source combinations leave the
output unchanged: the defect, which depends on the base alone, lowers the
IIA of changed and unchanged pairs by the same 63/1,296.  Exact IIA of
``ModularSum`` at :func:`alignment`, from an exhaustive run (every (base,
source) pair of each of the 15 sets; ``tests/test_planted_organisms.py``
checks these counts): on **every** set, on changed and on unchanged pairs
alike, ``1 - 63/1296 = 1233/1296 = 0.951389``.  The pairs per set are
``1296^(1+k)`` for ``k`` intervened variables; changed pairs are two thirds
of them.

So the claim is true at t = 0.95 (:data:`THRESHOLD`, ``info["threshold"]``)
and false at t = 1.  Regenerate the weights with
``python models/planted_modsum.py --write``.
"""

from __future__ import annotations

import itertools
import sys

import _organism as org
import numpy as np
import torch
from torch import nn

from causalabs.network import Alignment, Network, argmax_decoder, site

HYPOTHESES = "hypotheses/planted.py"
TASK = "(x1 + x2 + x3 + x4) mod 3, x_i in range(6), wrong on 63 of the 1,296 inputs (planted defect)"
DIGITS, MODULUS, VARIABLES = 6, 3, 4
DEFECTS, DEFECT_SEED = 63, 0
WIDTH = 8  # width of the variable layer "2"
SUMS = range(10)  # S = v1 + .. + v4 + f reaches 0..9, also under intervention
SCALE = 4.0
#: The claim at alignment() holds at this threshold (every set and stratum: 1233/1296 = 0.951389).
THRESHOLD = 0.95
#: Exact IIA of every set, on changed and on unchanged pairs alike, from an exhaustive run.
EXACT_IIA = (1296 - DEFECTS, 1296)


def defective_inputs() -> np.ndarray:
    """The 63 inputs (rows of x1..x4) on which the network is wrong, in input order."""
    index = np.sort(np.random.default_rng(DEFECT_SEED).choice(DIGITS**VARIABLES, DEFECTS, replace=False))
    digits = np.array(list(itertools.product(range(DIGITS), repeat=VARIABLES)), dtype=np.int64)
    return digits[index]


def architecture(device: str | torch.device = "meta") -> nn.Sequential:
    """The layers, without weights (on the meta device unless asked otherwise)."""
    return nn.Sequential(
        nn.Linear(VARIABLES * DIGITS, VARIABLES + DEFECTS, device=device),
        nn.ReLU(),
        nn.Linear(VARIABLES + DEFECTS, WIDTH, device=device),
        nn.Linear(WIDTH, 3 * len(SUMS), device=device),
        nn.ReLU(),
        nn.Linear(3 * len(SUMS), MODULUS, device=device),
    )


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The hand-set weights (the defective inputs are drawn with a fixed seed) and file metadata."""
    n_in, hidden = VARIABLES * DIGITS, VARIABLES + DEFECTS
    w0, b0 = torch.zeros(hidden, n_in), torch.zeros(hidden)
    residues = torch.tensor([d % MODULUS for d in range(DIGITS)], dtype=torch.float32)
    for i in range(VARIABLES):
        w0[i, i * DIGITS : (i + 1) * DIGITS] = residues  # v_i = x_i mod 3
    for k, row in enumerate(defective_inputs()):
        for i, d in enumerate(row):
            w0[VARIABLES + k, i * DIGITS + int(d)] = 1.0
        b0[VARIABLES + k] = -(VARIABLES - 1.0)  # relu(sum - 3) = [x = d_k]
    w2, b2 = torch.zeros(WIDTH, hidden), torch.zeros(WIDTH)
    for i in range(VARIABLES):
        w2[i, i] = 1.0
    w2[VARIABLES, VARIABLES:] = 1.0  # f: at most one detector fires
    w3, b3 = torch.zeros(3 * len(SUMS), WIDTH), torch.zeros(3 * len(SUMS))
    for j in SUMS:
        for r, shift in enumerate((1.0, 0.0, -1.0)):
            w3[3 * j + r, : VARIABLES + 1] = 1.0  # S
            b3[3 * j + r] = shift - j
    w5, b5 = torch.zeros(MODULUS, 3 * len(SUMS)), torch.zeros(MODULUS)
    for j in SUMS:
        w5[j % MODULUS, 3 * j : 3 * j + 3] = SCALE * torch.tensor([1.0, -2.0, 1.0])
    state = {
        "0.weight": w0, "0.bias": b0, "2.weight": w2, "2.bias": b2,
        "3.weight": w3, "3.bias": b3, "5.weight": w5, "5.bias": b5,
    }
    return state, {"organism": "planted_modsum", "construction": "hand-set weights", "defect_seed": str(DEFECT_SEED)}


def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
    """One-hot codes of x1..x4 (24 floats per row)."""
    return org.one_hot(batch, ("x1", "x2", "x3", "x4"), DIGITS)


def alignment() -> Alignment:
    """The known alignment: v_i -> unit i - 1 of layer "2"."""
    return Alignment({f"v{i + 1}": site("2", units=[i]) for i in range(VARIABLES)})


def load() -> Network:
    """The network with its committed weights and organism metadata."""
    module = org.load_module_state(architecture(), org.load_weights(org.weights_path(__file__)))
    info = org.metadata(
        __file__,
        task=TASK,
        hypothesis=f"{HYPOTHESES}:ModularSum",
        wrong=[f"{HYPOTHESES}:SwappedModularSum"],
        alignment=alignment(),
        accuracy=EXACT_IIA[0] / EXACT_IIA[1],
        description="residues v1..v4 in units 0..3 of layer '2'; wrong on a fixed 63 of 1,296 inputs, so every "
        "variable set has exact IIA 0.951389 on changed and unchanged pairs: the claim holds at threshold 0.95",
    )
    info["threshold"] = THRESHOLD
    return Network(module, encode, argmax_decoder(tuple(range(MODULUS))), name="planted_modsum", info=info)


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
