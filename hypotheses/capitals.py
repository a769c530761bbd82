"""Capital recall: "The capital of {c1} is {k1}. The capital of {c2} is" -> the capital of c2.

Inputs are indices into the countries of ``models/smollm2_capitals.py``:
``c1`` is the country of the in-context example (its capital ``k1`` is
written out), ``c2`` the country asked about.  The output is the index of
the capital of ``c2`` (capital ``j`` belongs to country ``j``).

* ``Capital`` -- correct: an intermediate ``country`` holds the asked
  country (``c2``); interchanging it from a source makes the answer the
  source's asked country's capital, whatever the base's context says.
* ``OffsetCapital`` -- twin, with the same output on every input: its
  intermediate, also called ``country``, holds the asked country's offset
  from the context country, ``(c2 - c1) mod N``, and the output is the
  capital ``N`` steps on from the base's context country.  Interchanging it
  keeps the base's context and moves the answer relative to it; only
  interventions tell the two apart.
"""

import sympy as sp

import causalabs as ca

#: Countries of ``models/smollm2_capitals.py``.
N_COUNTRIES = 12


class Capital(ca.Hypothesis):
    """The answer is the capital of the asked country: country = c2; out = country."""

    c1, c2 = ca.inputs("c1 c2", domain=range(N_COUNTRIES))
    country = ca.var(c2)
    out = ca.output(country)


class OffsetCapital(ca.Hypothesis):
    """Twin of Capital: country = (c2 - c1) mod N, the offset from the context country; out = (c1 + country) mod N."""

    c1, c2 = ca.inputs("c1 c2", domain=range(N_COUNTRIES))
    country = ca.var(sp.Mod(c2 - c1, N_COUNTRIES))
    out = ca.output(sp.Mod(c1 + country, N_COUNTRIES), domain=range(N_COUNTRIES))
