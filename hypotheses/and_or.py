"""Two AND gates into an OR: ``out = (a AND b) OR (c AND d)``, the task of ``models/and_or_trained.py``.

Which class is which:

* ``AndOr`` -- correct: ``g1 = a AND b`` and ``g2 = c AND d``.
* ``SwappedAnds`` -- wrong on purpose, its twin: ``g1 = c AND d`` and
  ``g2 = a AND b``.  OR is symmetric, so both give the same ``out`` on all
  16 inputs; only interventions on ``g1`` or ``g2`` tell them apart.
"""

import sympy as sp

import causalabs as ca


class AndOr(ca.Hypothesis):
    """out = (a AND b) OR (c AND d)."""

    a, b, c, d = ca.inputs("a b c d", domain=(0, 1))
    g1 = ca.var(sp.And(a, b))
    g2 = ca.var(sp.And(c, d))
    out = ca.output(sp.Or(g1, g2))


class SwappedAnds(ca.Hypothesis):
    """Wrong on purpose: the same output, with the roles of g1 and g2 swapped."""

    a, b, c, d = ca.inputs("a b c d", domain=(0, 1))
    g1 = ca.var(sp.And(c, d))
    g2 = ca.var(sp.And(a, b))
    out = ca.output(sp.Or(g1, g2))
