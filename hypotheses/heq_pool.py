"""Hierarchical equality over a pool of 100 objects (the trained organism's task).

``out = (w == x) == (y == z)`` where ``w, x, y, z`` are object ids in
``range(100)``; the network ``models/heq_trained.py`` sees each object as a
fixed random 4-dim vector, as in the DAS paper (Geiger et al. 2023) and
pyvene's DAS tutorial.

Which class is which:

* ``HierarchicalEqualityPool`` -- correct: ``left = (w == x)`` and
  ``right = (y == z)`` are the variables.
* ``SwappedEqualityPool`` -- wrong on purpose, its twin: ``left = (y == z)``
  and ``right = (w == x)``.  The same ``out`` on every input; only
  interventions on ``left`` or ``right`` tell them apart.
* ``CrossedEqualityPool`` -- wrong, and visibly so: it pairs ``(w, y)`` and
  ``(x, z)``, so it already disagrees on some outputs.

With a uniform draw of ids, ``w == x`` holds on 1% of inputs; training and
counterfactual data for this task should use inputs where each pair is equal
half the time (``models/heq_trained.py: balanced_inputs``).
"""

import sympy as sp

import causalabs as ca

#: Number of objects in the pool.
OBJECTS = 100


class HierarchicalEqualityPool(ca.Hypothesis):
    """out = (w == x) == (y == z) over 100 objects (Geiger et al. 2023)."""

    w, x, y, z = ca.inputs("w x y z", domain=range(OBJECTS))
    left = ca.var(sp.Eq(w, x))
    right = ca.var(sp.Eq(y, z))
    out = ca.output(sp.Eq(left, right))


class SwappedEqualityPool(ca.Hypothesis):
    """Wrong on purpose: the same outputs, but left = (y == z) and right = (w == x)."""

    w, x, y, z = ca.inputs("w x y z", domain=range(OBJECTS))
    left = ca.var(sp.Eq(y, z))
    right = ca.var(sp.Eq(w, x))
    out = ca.output(sp.Eq(left, right))


class CrossedEqualityPool(ca.Hypothesis):
    """Wrong on purpose: left = (w == y), right = (x == z); it differs on outputs too."""

    w, x, y, z = ca.inputs("w x y z", domain=range(OBJECTS))
    left = ca.var(sp.Eq(w, y))
    right = ca.var(sp.Eq(x, z))
    out = ca.output(sp.Eq(left, right))
