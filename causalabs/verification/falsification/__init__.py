"""Falsification: a seeded, property-based search for one interchange where network and hypothesis disagree.

* :mod:`~causalabs.verification.falsification.search` -- :func:`falsify` and :class:`FalsifyResult`;
* :mod:`~causalabs.verification.falsification.minimize` -- the found pair made minimal variable by variable;
* :mod:`~causalabs.verification.falsification.seeding` -- the ``hypothesis`` library kept a function of the seed.
"""

from causalabs.verification.falsification.search import FalsifyResult, falsify, replay

__all__ = ["FalsifyResult", "falsify", "replay"]
