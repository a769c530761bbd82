"""Hypotheses of the planted-defect organisms (``models/planted_*.py``).

Which class is which:

* ``Equality`` -- ``same = (w == x)`` over 100 object ids, and the output is
  ``same``.  Correct for ``planted_unused_copy`` at its known alignment.  Only
  about 2% of random (base, source) pairs change ``same`` (and so the output):
  a random sample says almost nothing about whether ``same`` is causally used.
* ``OperandEquality`` -- wrong on purpose, twin of ``Equality``: its ``same``
  holds ``w`` itself and the output compares it with ``x``.  Same output on
  all 10,000 inputs; an intervention from a source with ``w == x`` sets the
  network's ``same`` to 1 but this twin's to the source's ``w``.
* ``ModularSum`` -- ``v_i = x_i mod 3`` for four inputs in ``range(6)`` and
  ``out = (v1 + v2 + v3 + v4) mod 3``.  Each ``v_i`` is uniform on its three
  values, so for every base and every set of intervened variables exactly
  one source combination in three leaves the output unchanged: a defect that
  depends on the base alone lowers the IIA of changed and unchanged pairs
  alike.  Correct for ``planted_modsum`` at threshold 0.95 (not 1).
* ``SwappedModularSum`` -- wrong on purpose, twin of ``ModularSum``: ``v1``
  and ``v2`` read each other's input.  Same output on all 1,296 inputs.
"""

import sympy as sp

import causalabs as ca

OBJECTS = 100  # ids of Equality's operands
DIGITS = 6  # range of ModularSum's inputs
MODULUS = 3


class Equality(ca.Hypothesis):
    """out = same = (w == x), w and x ids of 100 objects."""

    w, x = ca.inputs("w x", domain=range(OBJECTS))
    same = ca.var(sp.Eq(w, x))
    out = ca.output(same)


class OperandEquality(ca.Hypothesis):
    """Wrong on purpose: ``same`` is the operand ``w``, compared with ``x`` in the output."""

    w, x = ca.inputs("w x", domain=range(OBJECTS))
    same = ca.var(w, domain=range(OBJECTS))
    out = ca.output(sp.Eq(same, x))


class ModularSum(ca.Hypothesis):
    """out = (x1 + x2 + x3 + x4) mod 3 through the residues v_i = x_i mod 3."""

    x1, x2, x3, x4 = ca.inputs("x1 x2 x3 x4", domain=range(DIGITS))
    v1 = ca.var(sp.Mod(x1, MODULUS))
    v2 = ca.var(sp.Mod(x2, MODULUS))
    v3 = ca.var(sp.Mod(x3, MODULUS))
    v4 = ca.var(sp.Mod(x4, MODULUS))
    out = ca.output(sp.Mod(v1 + v2 + v3 + v4, MODULUS), domain=range(MODULUS))


class SwappedModularSum(ca.Hypothesis):
    """Wrong on purpose: ``v1`` is the residue of ``x2`` and ``v2`` that of ``x1``."""

    x1, x2, x3, x4 = ca.inputs("x1 x2 x3 x4", domain=range(DIGITS))
    v1 = ca.var(sp.Mod(x2, MODULUS))
    v2 = ca.var(sp.Mod(x1, MODULUS))
    v3 = ca.var(sp.Mod(x3, MODULUS))
    v4 = ca.var(sp.Mod(x4, MODULUS))
    out = ca.output(sp.Mod(v1 + v2 + v3 + v4, MODULUS), domain=range(MODULUS))
