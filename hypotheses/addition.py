"""Two-digit addition: ``total = (10*a1 + a0) + (10*b1 + b0)``.

Which class is which:

* ``TwoDigitAddition`` -- the correct hypothesis for a network that adds
  digit by digit: it keeps the carry out of the ones column
  (``carry = floor((a0 + b0) / 10)``) and the ones digit of the sum
  (``s0 = (a0 + b0) mod 10``).
* ``TensCarryAddition`` -- wrong on purpose.  Same variable names, same
  domains and the same ``total`` on every input, but its ``carry`` is the
  carry out of the *tens* column, ``floor((a1 + b1) / 10)``.
* ``OnesSumAddition`` -- a different, coarser claim: the network keeps the
  raw ones sum ``a0 + b0`` (0..18) instead of a carry and a digit.  Right for
  a network that stores the raw sum, wrong for one that stores the carry.

Output domains include values reached only under intervention (a
mechanism's domain must hold its value for every combination of its
parents' values), so they differ between the classes.

All three give the same ``total`` for all 10,000 inputs, so no test of
input-output behaviour can tell them apart.  Only interventions can: set
``carry`` to 1 on ``3 + 4`` and ``TwoDigitAddition`` answers 17 while
``TensCarryAddition`` answers 107.  Whether the network agrees is an
interchange experiment at the site aligned to ``carry``.
"""

import sympy as sp

import causalabs as ca


class TwoDigitAddition(ca.Hypothesis):
    """Digit-wise addition with a carry out of the ones column."""

    a1, a0, b1, b0 = ca.inputs("a1 a0 b1 b0", domain=range(10))
    carry = ca.var(sp.floor((a0 + b0) / 10))
    s0 = ca.var(sp.Mod(a0 + b0, 10))
    # 199 is reached only under intervention: carry = 1 and s0 = 9 on 99 + 99.
    total = ca.output(10 * (a1 + b1 + carry) + s0, domain=range(200))


class TensCarryAddition(ca.Hypothesis):
    """Wrong on purpose: ``carry`` is the carry out of the tens column.

    ``total`` is the same as ``TwoDigitAddition``'s on every input; an
    intervention on ``carry`` moves the answer by 100, not by 10.
    """

    a1, a0, b1, b0 = ca.inputs("a1 a0 b1 b0", domain=range(10))
    carry = ca.var(sp.floor((a1 + b1) / 10))
    s0 = ca.var(sp.Mod(a0 + b0, 10))
    total = ca.output(
        100 * carry + 10 * sp.Mod(a1 + b1, 10) + 10 * sp.floor((a0 + b0) / 10) + s0,
        domain=range(210),  # up to 209 under intervention (carry = 1 on 9x + 9y)
    )


class OnesSumAddition(ca.Hypothesis):
    """The raw ones sum ``a0 + b0`` (0..18) is the intermediate, with no carry."""

    a1, a0, b1, b0 = ca.inputs("a1 a0 b1 b0", domain=range(10))
    ones = ca.var(a0 + b0)
    total = ca.output(10 * (a1 + b1) + ones, domain=range(199))
