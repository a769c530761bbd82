"""``boolean_circuit`` with its variable layer ``"2"`` rotated: g1 and g2 exist only in a distributed basis.

A :class:`_organism.RotatedTwin` (its docstring says how the seeded rotation
``R`` is folded in) defines every function of this file: ``build()``,
``rotation()``, ``load()``, ``alignment()`` (``Rotation(R^T)`` on layer "2":
``g1`` on ``[0:1]``, ``g2`` on ``[1:2]``) and ``neuron_alignment()`` (units
0 and 1 of layer "2", right for ``boolean_circuit`` and wrong here).  The catalogue
finds this file by the module-level names ``TASK`` and ``load``.
Regenerate the weights with ``python models/boolean_circuit_rotated.py --write``.
"""

from __future__ import annotations

import sys

import _organism as org

SEED = 0
_rotated = org.RotatedTwin(__file__, "boolean_circuit.py", seed=SEED)
TASK = _rotated.twin.TASK

build = _rotated.build
rotation = _rotated.rotation
neuron_alignment = _rotated.neuron_alignment
alignment = _rotated.alignment
load = _rotated.load

if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
