"""Indirect-object identification (IOI; Wang et al. 2023).

A prompt such as "When Mary and John went to the store, John gave a drink
to" names two people; one of them (the subject, here John) is mentioned
again, and the answer is the other one, the *indirect object* (Mary).

Inputs are indices into small vocabularies (``models/smollm2_ioi.py`` holds
the words): ``a`` and ``b`` are the first- and second-mentioned names,
``s`` says which of them is repeated (0: ``a``, 1: ``b``), ``place`` and
``obj`` fill the rest of the sentence.  A prompt with ``a == b`` names one
person twice and says nothing about IOI, so every class here requires
``a != b`` (``ca.require(sp.Ne(a, b))``): of the 8 * 8 * 2 * 6 * 6 = 4,608
combinations of the domains, the 4,032 with two different names are the
inputs, and nothing (enumeration, sampling, falsify, z3) draws the others.

Which class is which:

* ``IOI`` -- the name-identity hypothesis: an intermediate ``io`` holds the
  indirect object's *name*, ``io = b`` if ``s == 0`` else ``a``, and the
  output is ``io``.  Interchanging ``io`` from a source sets the answer to
  the source's indirect object, whatever the base's names are.
* ``PositionalIOI`` -- twin, with the same output on every input: its
  intermediate, also called ``io``, holds the *position* of the indirect
  object (0: the first-mentioned name, 1: the second), and the output is
  the base's name at that position.  Interchanging ``io`` from a source
  keeps the base's names and only moves the choice between them.  Only
  interventions tell the two apart; which one a network implements can
  depend on the layer (name movers copy names late; which-position
  signals come earlier).
* ``FirstMentioned`` -- wrong, and visibly so: the output is always the
  first-mentioned name.  It agrees with ``IOI`` exactly on the inputs where
  the second name is the repeated one (``s == 1``).
"""

import numpy as np
import sympy as sp

import causalabs as ca

#: Sizes of the vocabularies (names, places, objects) of ``models/smollm2_ioi.py``.
N_NAMES = 8
N_PLACES = 6
N_OBJECTS = 6


class IOI(ca.Hypothesis):
    """The answer is the name that is not repeated: io = b if s == 0 else a; out = io."""

    a, b = ca.inputs("a b", domain=range(N_NAMES))
    ca.require(sp.Ne(a, b))
    s = ca.input("s", domain=(0, 1))
    place = ca.input("place", domain=range(N_PLACES))
    obj = ca.input("obj", domain=range(N_OBJECTS))
    io = ca.var(b * (1 - s) + a * s)
    out = ca.output(io)


class PositionalIOI(ca.Hypothesis):
    """Twin of IOI: io is the indirect object's position (0 first, 1 second); out = the name there."""

    a, b = ca.inputs("a b", domain=range(N_NAMES))
    ca.require(sp.Ne(a, b))
    s = ca.input("s", domain=(0, 1))
    place = ca.input("place", domain=range(N_PLACES))
    obj = ca.input("obj", domain=range(N_OBJECTS))
    io = ca.var(1 - s)
    out = ca.output(a * (1 - io) + b * io, domain=range(N_NAMES))


class FirstMentioned(ca.Hypothesis):
    """Wrong on purpose: the answer is always the first-mentioned name (right only when s == 1)."""

    a, b = ca.inputs("a b", domain=range(N_NAMES))
    ca.require(sp.Ne(a, b))
    s = ca.input("s", domain=(0, 1))
    place = ca.input("place", domain=range(N_PLACES))
    obj = ca.input("obj", domain=range(N_OBJECTS))
    io = ca.var(a)
    out = ca.output(io)


def distinct_names() -> dict[str, np.ndarray]:
    """Every input with ``a != b`` (the IOI prompts proper), as a batch: the hypothesis' whole input space.

    The same rows, in the same order, as ``ca.enumerate_inputs(IOI)``; kept
    for code that passes it as a pool.
    """
    return ca.enumerate_inputs(IOI)
