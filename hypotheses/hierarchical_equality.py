"""Hierarchical equality (Geiger et al. 2023; the DAS paper's task).

``out = (w == x) == (y == z)``.  Inputs are object identities drawn from a
pool (``range(4)`` here; the trained organism uses a larger pool of random
vectors).

Which class is which:

* ``HierarchicalEquality`` -- correct: ``left = (w == x)`` and
  ``right = (y == z)`` are both variables.
* ``LeftOnly`` -- correct but coarser: only ``left = (w == x)`` is a
  variable; the right relation is computed inside the output.
* ``CrossedEquality`` -- wrong, and visibly so: it pairs (w, y) and (x, z),
  so it already disagrees on some outputs.
* ``SwappedEquality`` -- wrong on purpose, twin of ``HierarchicalEquality``:
  ``left = (y == z)``, ``right = (w == x)``.
* ``LeftOnlySwapped`` -- wrong on purpose, twin of ``LeftOnly``:
  ``left = (y == z)``, with ``(w == x)`` computed inside the output.

The two twins give the same ``out`` as the correct classes on all 256
inputs, because equality of two booleans is symmetric.  No input-output
test can tell them apart; only interventions on ``left`` (or ``right``),
mapped to where the network keeps ``(w == x)``, can.
"""

import sympy as sp

import causalabs as ca


class HierarchicalEquality(ca.Hypothesis):
    """out = (w == x) == (y == z)  (Geiger et al. 2023)."""

    w, x, y, z = ca.inputs("w x y z", domain=range(4))
    left = ca.var(sp.Eq(w, x))
    right = ca.var(sp.Eq(y, z))
    out = ca.output(sp.Eq(left, right))


class LeftOnly(ca.Hypothesis):
    """Only the left relation is a variable; right is computed inside the output."""

    w, x, y, z = ca.inputs("w x y z", domain=range(4))
    left = ca.var(sp.Eq(w, x))
    out = ca.output(sp.Eq(left, sp.Eq(y, z)))


class CrossedEquality(ca.Hypothesis):
    """Wrong on purpose: claims (w == y) and (x == z) as the intermediates.

    It agrees with HierarchicalEquality on every output only where the two
    pairings give the same answer, so it differs on outputs too; see
    ``SwappedEquality`` for a twin that agrees on all outputs.
    """

    w, x, y, z = ca.inputs("w x y z", domain=range(4))
    left = ca.var(sp.Eq(w, y))
    right = ca.var(sp.Eq(x, z))
    out = ca.output(sp.Eq(left, right))


class SwappedEquality(ca.Hypothesis):
    """Wrong on purpose: the same outputs, but left and right swapped.

    It claims left = (y == z) and right = (w == x).  Outputs agree with
    HierarchicalEquality on every input; only interventions on left or right,
    mapped to where the network keeps (w == x) and (y == z), tell them apart.
    """

    w, x, y, z = ca.inputs("w x y z", domain=range(4))
    left = ca.var(sp.Eq(y, z))
    right = ca.var(sp.Eq(w, x))
    out = ca.output(sp.Eq(left, right))


class LeftOnlySwapped(ca.Hypothesis):
    """Wrong on purpose: the twin of LeftOnly that claims left = (y == z).

    Its outputs agree with LeftOnly's on every input; an intervention on
    left, mapped to where the network keeps (w == x), tells them apart.
    """

    w, x, y, z = ca.inputs("w x y z", domain=range(4))
    left = ca.var(sp.Eq(y, z))
    out = ca.output(sp.Eq(left, sp.Eq(w, x)))
