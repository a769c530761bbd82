"""Rival hypotheses and the experiments that tell them apart (no torch here).

* :func:`generate`: hypotheses with the claim's outputs on every input and
  another mechanism inside (:mod:`causalabs.rivals.generation`);
* :func:`decisive`: interchange experiments on which each rival predicts
  otherwise than the claim, and a small set covering them all
  (:mod:`causalabs.rivals.decisive`);
* :func:`interventionally_equivalent`, :func:`same_outputs`: z3 and
  enumeration checks; :func:`source`: rivals as a hypothesis file.

See docs/rivals.md.
"""

from causalabs.rivals.classes import build, source
from causalabs.rivals.equivalence import RivalError, interventionally_equivalent, same_outputs
from causalabs.rivals.generation import Rival, RivalSet, generate

__all__ = [
    "Rival",
    "RivalError",
    "RivalSet",
    "build",
    "generate",
    "interventionally_equivalent",
    "same_outputs",
    "source",
]
