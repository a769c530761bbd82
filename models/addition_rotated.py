"""``addition_handbuilt`` with its variable layer ``"2"`` rotated: carry and s0 exist only in a distributed basis.

A :class:`_organism.RotatedTwin` (its docstring says how the seeded rotation
``R`` is folded in) defines every function of this file: ``build()``,
``rotation()``, ``load()``, ``alignment()`` (``Rotation(R^T)`` on layer "2":
``carry`` on ``[0:1]``, ``s0`` on ``[1:2]``) and ``neuron_alignment()`` (units
0 and 1 of layer "2", right for ``addition_handbuilt`` and wrong here).  The catalogue
finds this file by the module-level names ``TASK`` and ``load``.
Regenerate the weights with ``python models/addition_rotated.py --write``.
"""

from __future__ import annotations

import sys

import _organism as org

SEED = 0
_rotated = org.RotatedTwin(__file__, "addition_handbuilt.py", seed=SEED)
TASK = _rotated.twin.TASK

build = _rotated.build
rotation = _rotated.rotation
neuron_alignment = _rotated.neuron_alignment
alignment = _rotated.alignment
load = _rotated.load

if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
