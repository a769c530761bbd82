"""List copying: "Words: {w0}, {w1}, {w2}, {w3}. Repeat the words: {w0}, ..., {w(n-1)}," -> ``w_n``.

A prompt writes a list of four different words, then starts writing it
again: the first ``n`` words (``n`` is 2 or 3), each followed by a comma.
The answer is the next word of the list, ``w_n``.  Inputs are indices into
the words of ``models/smollm2_copying.py`` (several are more than one
token, and the repeat has two or three words, so prompts differ in length).
A list with a repeated word makes "the next word" ambiguous, so every class
requires the four words to differ (``ca.require``): of the
``8**4 * 2 = 8,192`` combinations of the domains, the ``8 * 7 * 6 * 5 * 2 =
3,360`` with four different words are the inputs.

Which class is which:

* ``Copy`` -- the content hypothesis: an intermediate ``copied`` holds the
  *word* to write next, ``w_n``, and the output is ``copied``.
  Interchanging it from a source makes the answer the source's next word,
  whatever words the base's list holds.
* ``PointerCopy`` -- twin, with the same output on every input: its
  intermediate, also called ``copied``, holds the *position* in the list to
  copy from (``n``), and the output is the base's word at that position.
  Interchanging it keeps the base's list and only moves the read-out along
  it: from a source that repeated three words, the base answers its own
  ``w3``.  Only interventions tell the two apart.
"""

import sympy as sp

import causalabs as ca

#: Words of ``models/smollm2_copying.py``.
N_WORDS = 8
#: How many words of the list the prompt repeats before the answer.
REPEATS = (2, 3)


class Copy(ca.Hypothesis):
    """The answer is the next word of the list: copied = w_n; out = copied."""

    w0, w1, w2, w3 = ca.inputs("w0 w1 w2 w3", domain=range(N_WORDS))
    n = ca.input("n", domain=REPEATS)
    ca.require(sp.Ne(w0, w1))
    ca.require(sp.Ne(w0, w2))
    ca.require(sp.Ne(w0, w3))
    ca.require(sp.Ne(w1, w2))
    ca.require(sp.Ne(w1, w3))
    ca.require(sp.Ne(w2, w3))
    copied = ca.var(sp.Piecewise((w2, sp.Eq(n, 2)), (w3, True)), domain=range(N_WORDS))
    out = ca.output(copied)


class PointerCopy(ca.Hypothesis):
    """Twin of Copy: copied = n, the list position to copy from; out = the base's word at that position."""

    w0, w1, w2, w3 = ca.inputs("w0 w1 w2 w3", domain=range(N_WORDS))
    n = ca.input("n", domain=REPEATS)
    ca.require(sp.Ne(w0, w1))
    ca.require(sp.Ne(w0, w2))
    ca.require(sp.Ne(w0, w3))
    ca.require(sp.Ne(w1, w2))
    ca.require(sp.Ne(w1, w3))
    ca.require(sp.Ne(w2, w3))
    copied = ca.var(n, domain=REPEATS)
    out = ca.output(sp.Piecewise((w2, sp.Eq(copied, 2)), (w3, True)), domain=range(N_WORDS))
