"""``addition_handbuilt`` with its variable layer ``"2"`` rotated: carry and s0 exist only in a distributed basis.

The weights are ``addition_handbuilt``'s with a seeded Haar-random orthogonal
``R`` (8 x 8, :func:`causalabs.network.random_rotation`, seed ``SEED``)
folded in: layer "2" now outputs ``h_rot = h @ R`` and layer "3" reads
``h_rot @ R^T``.  The function is the same on every input; no single unit
of layer "2" holds ``carry`` or ``s0`` any more.

Known alignment: a :class:`~causalabs.network.Rotation` featurizer with
``R^T`` (the rotation's inverse) on layer "2"; ``carry`` is coordinate
``[0:1]`` and ``s0`` coordinate ``[1:2]``.  ``neuron_alignment()`` is
the unit alignment that is right for ``addition_handbuilt`` (units 0 and 1),
which is wrong here.

``R`` is stored in the weights file under ``rotation``.  Regenerate with
``python models/addition_rotated.py --write``.
"""

from __future__ import annotations

import sys

import _organism as org
import torch

from causalabs.network import Alignment, Network

SEED = 0
_rotated = org.RotatedTwin(__file__, "addition_handbuilt.py", seed=SEED)
twin = _rotated.twin
TASK = twin.TASK


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The twin's weights with ``R`` folded into layers "2" and "3", plus ``R`` itself."""
    return _rotated.build()


def rotation() -> torch.Tensor:
    """The stored rotation ``R`` (``h_rot = h @ R``)."""
    return _rotated.rotation()


def neuron_alignment() -> Alignment:
    """The alignment that works on the unrotated twin: units 0 and 1 of layer "2"."""
    return _rotated.neuron_alignment()


def alignment() -> Alignment:
    """The known alignment: Rotation(R^T) on layer "2", coordinates [0:1] and [1:2]."""
    return _rotated.alignment()


def load() -> Network:
    """The rotated network with its committed weights and organism metadata (hypotheses from the twin)."""
    return _rotated.load()


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
