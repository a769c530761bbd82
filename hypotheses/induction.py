"""Induction with a variable offset: predict the token that followed the previous occurrence of the current token.

The sequence has :data:`CONTEXT` context positions ``0..7`` and a query at
position ``8``.  A compact parametrisation keeps every input independent
(so random and exhaustive generators need no rejection step):

* ``q`` in ``range(VOCAB)``: the current (query) token, at position 8;
* ``p`` in ``range(CONTEXT - 1)``: the position of its previous occurrence;
* ``f0 .. f7`` in ``range(VOCAB - 1)``: filler tokens.  The token at
  position ``i != p`` is the ``f_i``-th token *other than* ``q``
  (``f_i + 1`` if ``f_i >= q``, else ``f_i``), so ``q`` occurs exactly once
  in the context and the answer is never ambiguous.  ``f_p`` is unused.

The answer is the token at position ``p + 1``; since ``p`` varies per
example, no fixed position holds it (an "offset" of ``8 - p`` back from
the query).  The network file is ``models/induction_trained.py``.

Which class is which:

* ``Induction`` -- correct: ``prev = p`` (where the current token occurred
  before) and ``out`` = the token after ``prev``.  Interchanging ``prev``
  means: read the base sequence at the *source's* position.
* ``NextTokenCarried`` -- wrong on purpose, a twin that agrees on every
  output: it claims ``prev`` already holds the *value* to copy (the token
  after the previous occurrence), so interchanging it copies the source's
  answer rather than reading the base at the source's position.
* ``PositionalShortcut`` -- wrong, and visibly so: ``prev`` is a constant
  (position 6), i.e. "always copy the last context token"; it disagrees
  with the task on most inputs.
"""

import sympy as sp

import causalabs as ca

#: Tokens in the vocabulary.
VOCAB = 16
#: Context positions before the query.
CONTEXT = 8


def token(j: int, p: sp.Symbol, fillers: tuple[sp.Symbol, ...], q: sp.Symbol) -> sp.Expr:
    """The token at context position ``j``: ``q`` where ``p == j``, else the ``f_j``-th token other than ``q``."""
    f = fillers[j]
    return sp.Piecewise((q, sp.Eq(p, j)), (f + 1, f >= q), (f, True))


def token_after(prev: sp.Expr, p: sp.Symbol, fillers: tuple[sp.Symbol, ...], q: sp.Symbol) -> sp.Expr:
    """The token at position ``prev + 1`` (``prev`` in ``0 .. CONTEXT - 2``).

    It depends on ``p`` as well: under an intervention ``prev + 1`` can be
    ``p`` itself, where the token is ``q``.
    """
    cases = [(token(j + 1, p, fillers, q), sp.Eq(prev, j)) for j in range(CONTEXT - 2)]
    return sp.Piecewise(*cases, (token(CONTEXT - 1, p, fillers, q), True))


class Induction(ca.Hypothesis):
    """out = the token after the previous occurrence of the current token q (at position prev = p)."""

    q = ca.input("q", domain=range(VOCAB))
    p = ca.input("p", domain=range(CONTEXT - 1))
    f0, f1, f2, f3, f4, f5, f6, f7 = ca.inputs("f0 f1 f2 f3 f4 f5 f6 f7", domain=range(VOCAB - 1))
    prev = ca.var(p)
    out = ca.output(token_after(prev, p, (f0, f1, f2, f3, f4, f5, f6, f7), q), domain=range(VOCAB))


class NextTokenCarried(ca.Hypothesis):
    """Wrong on purpose: prev is the *value* of the token after the previous occurrence; out = prev.

    Same outputs as Induction on every input.  Under an interchange of prev
    it copies the source's answer, where Induction reads the base sequence
    at the source's position.
    """

    q = ca.input("q", domain=range(VOCAB))
    p = ca.input("p", domain=range(CONTEXT - 1))
    f0, f1, f2, f3, f4, f5, f6, f7 = ca.inputs("f0 f1 f2 f3 f4 f5 f6 f7", domain=range(VOCAB - 1))
    prev = ca.var(token_after(p, p, (f0, f1, f2, f3, f4, f5, f6, f7), q), domain=range(VOCAB))
    out = ca.output(prev)


class PositionalShortcut(ca.Hypothesis):
    """Wrong: a fixed-offset shortcut, out = the last context token (prev is the constant 6)."""

    q = ca.input("q", domain=range(VOCAB))
    p = ca.input("p", domain=range(CONTEXT - 1))
    f0, f1, f2, f3, f4, f5, f6, f7 = ca.inputs("f0 f1 f2 f3 f4 f5 f6 f7", domain=range(VOCAB - 1))
    prev = ca.var(sp.Integer(CONTEXT - 2))
    out = ca.output(token_after(prev, p, (f0, f1, f2, f3, f4, f5, f6, f7), q), domain=range(VOCAB))
