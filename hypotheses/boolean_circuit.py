"""A four-input boolean circuit: ``out = (a and b) xor (c or d)``.

Which class is which:

* ``BooleanCircuit`` -- correct: gate ``g1`` is ``a AND b`` and gate ``g2``
  is ``c OR d``.
* ``SwappedGates`` -- wrong on purpose: it claims ``g1 = c OR d`` and
  ``g2 = a AND b``.  XOR is symmetric, so its ``out`` equals
  ``BooleanCircuit``'s on all 16 inputs, and no input-output test can tell
  them apart.  Only interventions can: with ``g1`` aligned to where the
  network computes ``a AND b``, setting ``g1`` from a source input changes
  the output as ``BooleanCircuit`` predicts and not as ``SwappedGates`` does.
"""

import sympy as sp

import causalabs as ca


class BooleanCircuit(ca.Hypothesis):
    """out = (a AND b) XOR (c OR d)."""

    a, b, c, d = ca.inputs("a b c d", domain=(0, 1))
    g1 = ca.var(sp.And(a, b))
    g2 = ca.var(sp.Or(c, d))
    out = ca.output(sp.Xor(g1, g2))


class SwappedGates(ca.Hypothesis):
    """Wrong on purpose: the same output, with the roles of g1 and g2 swapped."""

    a, b, c, d = ca.inputs("a b c d", domain=(0, 1))
    g1 = ca.var(sp.Or(c, d))
    g2 = ca.var(sp.And(a, b))
    out = ca.output(sp.Xor(g1, g2))
