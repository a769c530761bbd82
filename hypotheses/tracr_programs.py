"""Hypotheses for the tracr-compiled organisms in ``models/tracr/`` (RASP programs).

Each correct class states, variable for variable, the RASP program tracr
compiled; each has a wrong twin that gives the same output on every input
but claims a different mechanism.  Only interventions tell them apart.

Conventions shared by all classes:

* Inputs ``x0 .. x3`` are token *indices* into the sorted vocabulary (3
  tokens, so ``range(3)``); the organisms' ``encode`` adds tracr's BOS token
  in front.  Programs that take shorter inputs have an input ``n``
  (``1..4``): the real tokens are ``x0 .. x{n-1}``, the rest are padding
  (the network masks them; their ``x`` values are ignored).
* Variables are per position: ``opp2`` is ``opp_idx`` at position 2.
  Positions at or beyond ``n`` exist too (the network computes them at its
  padded positions), so every variable has its four positions.
* ``NONE`` (= 3) is the read-out of a position where a categorical
  aggregate selected nothing, or selected positions that disagree: the
  network's output vector then has no class near 1.
* The output ``out`` is the whole output sequence as one integer,
  position 0 least significant: ``sum(y_p * B**p)`` with ``B`` the number of
  values a position can take (mixed radix for ``frac_prevs``).

Which class is which:

* ``TracrReverse`` -- correct for ``tracr_reverse``: ``length``, then
  ``opp_p = length - p`` (tracr's ``opp_idx``), ``src_p = opp_p - 1``
  (``opp_idx-1``), ``y_p = x[src_p]`` if ``0 <= src_p < n``.
* ``ReverseFromMaxLength`` -- wrong twin: claims ``opp_p`` counts back from
  the *maximum* length (``4 - p``, never reading ``length``) and that the
  length correction happens in the read-out.
* ``TracrHist`` -- correct for ``tracr_hist``: ``count_p``, the number of
  real tokens equal to ``x_p`` (the selector-width attention output), then
  ``hist_p = count_p`` (its categorical form).
* ``HistOthers`` -- wrong twin: ``count_p`` is the number of real tokens
  *different* from ``x_p`` and ``hist_p = n - count_p``.
* ``TracrSort`` -- correct for ``tracr_sort``: ``key_p = 4 x_p + p`` (tracr's
  key ``x + p/4`` times 4: ties broken by position, a stable sort),
  ``target_p`` = number of smaller keys, ``y_q`` = the token at the
  position(s) whose target is ``q``.
* ``SortAntiStable`` -- wrong twin: ties broken the other way,
  ``key_p = 4 x_p + (3 - p)``.
* ``TracrFracPrevs`` -- correct for ``tracr_frac_prevs``: ``is_x_p`` and
  ``count_p``, the number of ``x`` tokens at positions ``<= p`` (the network
  holds ``count_p / (p + 1)``).
* ``FracPrevsExclusive`` -- wrong twin: ``count_p`` counts positions
  ``< p`` and the read-out adds ``is_x_p``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

import causalabs as ca

#: Vocabulary size and maximum length of every tracr organism here.
V = 3
L = 4
#: Read-out of a position with no (or no unanimous) selected value.
NONE = V
#: Values a categorical position can read out: a token index or NONE.
BASE = V + 1


def _ind(cond: sp.Basic) -> sp.Piecewise:
    """1 where ``cond`` holds, else 0."""
    return sp.Piecewise((1, cond), (0, True))


def _read(index: sp.Basic, n: sp.Basic, xs: Sequence[sp.Basic]) -> sp.Piecewise:
    """``xs[index]`` if ``0 <= index < n``, else NONE: ``Aggregate(Select(indices, index, EQ), tokens)``."""
    return sp.Piecewise(*[(x, sp.Eq(index, j) & sp.Lt(j, n)) for j, x in enumerate(xs)], (NONE, True))


def _unanimous(q: int, targets: Sequence[sp.Basic], xs: Sequence[sp.Basic]) -> sp.Piecewise:
    """The token at the positions whose target is ``q`` if they all agree, else NONE.

    ``Aggregate(Select(target, indices, EQ), tokens)`` averages the one-hot
    tokens of every selected position; a class reaches 1 only when all
    selected tokens agree.
    """
    pieces = []
    for p, x in enumerate(xs):
        others = [sp.Ne(t, q) | sp.Eq(xj, x) for j, (t, xj) in enumerate(zip(targets, xs)) if j != p]
        pieces.append((x, sp.And(sp.Eq(targets[p], q), *others)))
    return sp.Piecewise(*pieces, (NONE, True))


def _digits(ys: Sequence[sp.Basic], base: int) -> sp.Basic:
    return sum(y * base**p for p, y in enumerate(ys))


# --- reverse ------------------------------------------------------------------------


class TracrReverse(ca.Hypothesis):
    """``lib.make_reverse(tokens)``: ``y_p = x[length - p - 1]`` through ``opp_idx`` and ``opp_idx-1``."""

    n = ca.input("n", domain=range(1, L + 1))
    x0, x1, x2, x3 = ca.inputs("x0 x1 x2 x3", domain=range(V))
    length = ca.var(n)
    opp0, opp1, opp2, opp3 = (
        ca.var(length - 0),
        ca.var(length - 1),
        ca.var(length - 2),
        ca.var(length - 3),
    )
    src0, src1, src2, src3 = (
        ca.var(opp0 - 1),
        ca.var(opp1 - 1),
        ca.var(opp2 - 1),
        ca.var(opp3 - 1),
    )
    y0 = ca.var(_read(src0, n, (x0, x1, x2, x3)))
    y1 = ca.var(_read(src1, n, (x0, x1, x2, x3)))
    y2 = ca.var(_read(src2, n, (x0, x1, x2, x3)))
    y3 = ca.var(_read(src3, n, (x0, x1, x2, x3)))
    out = ca.output(_digits((y0, y1, y2, y3), BASE))


class ReverseFromMaxLength(ca.Hypothesis):
    """Wrong on purpose: ``opp_p = 4 - p`` from the maximum length; the read-out subtracts ``4 - length``.

    Same ``out`` as :class:`TracrReverse` on every input.  An intervention on
    ``opp_p`` or ``src_p`` changes nothing here (they are constants), while
    the network reads another position when the source has another length.
    """

    n = ca.input("n", domain=range(1, L + 1))
    x0, x1, x2, x3 = ca.inputs("x0 x1 x2 x3", domain=range(V))
    length = ca.var(n)
    opp0, opp1, opp2, opp3 = (
        ca.var(sp.Integer(L - 0)),
        ca.var(sp.Integer(L - 1)),
        ca.var(sp.Integer(L - 2)),
        ca.var(sp.Integer(L - 3)),
    )
    src0, src1, src2, src3 = (
        ca.var(opp0 - 1),
        ca.var(opp1 - 1),
        ca.var(opp2 - 1),
        ca.var(opp3 - 1),
    )
    y0 = ca.var(_read(src0 - (L - length), n, (x0, x1, x2, x3)))
    y1 = ca.var(_read(src1 - (L - length), n, (x0, x1, x2, x3)))
    y2 = ca.var(_read(src2 - (L - length), n, (x0, x1, x2, x3)))
    y3 = ca.var(_read(src3 - (L - length), n, (x0, x1, x2, x3)))
    out = ca.output(_digits((y0, y1, y2, y3), BASE))


# --- hist ---------------------------------------------------------------------------


def _same(p: int, n: sp.Basic, xs: Sequence[sp.Basic]) -> sp.Basic:
    """Number of real tokens equal to ``x_p`` (0 at a padded position: the pad matches nothing)."""
    same = sum(_ind(sp.Lt(j, n) & sp.Eq(x, xs[p])) for j, x in enumerate(xs))
    return sp.Piecewise((same, sp.Lt(p, n)), (0, True))


class TracrHist(ca.Hypothesis):
    """``lib.make_hist()``: ``hist_p = SelectorWidth(Select(tokens, tokens, EQ))``."""

    n = ca.input("n", domain=range(1, L + 1))
    x0, x1, x2, x3 = ca.inputs("x0 x1 x2 x3", domain=range(V))
    count0 = ca.var(_same(0, n, (x0, x1, x2, x3)))
    count1 = ca.var(_same(1, n, (x0, x1, x2, x3)))
    count2 = ca.var(_same(2, n, (x0, x1, x2, x3)))
    count3 = ca.var(_same(3, n, (x0, x1, x2, x3)))
    hist0, hist1, hist2, hist3 = (
        ca.var(count0),
        ca.var(count1),
        ca.var(count2),
        ca.var(count3),
    )
    out = ca.output(_digits((hist0, hist1, hist2, hist3), L + 1))


class HistOthers(ca.Hypothesis):
    """Wrong on purpose: ``count_p`` = real tokens *different* from ``x_p``; ``hist_p = n - count_p``.

    Same ``out`` as :class:`TracrHist` on every input; an intervention on
    ``count_p`` from a source of another length predicts another histogram.
    """

    n = ca.input("n", domain=range(1, L + 1))
    x0, x1, x2, x3 = ca.inputs("x0 x1 x2 x3", domain=range(V))
    count0 = ca.var(n - _same(0, n, (x0, x1, x2, x3)))
    count1 = ca.var(n - _same(1, n, (x0, x1, x2, x3)))
    count2 = ca.var(n - _same(2, n, (x0, x1, x2, x3)))
    count3 = ca.var(n - _same(3, n, (x0, x1, x2, x3)))
    hist0 = ca.var(sp.Piecewise((n - count0, sp.Lt(0, n)), (0, True)))
    hist1 = ca.var(sp.Piecewise((n - count1, sp.Lt(1, n)), (0, True)))
    hist2 = ca.var(sp.Piecewise((n - count2, sp.Lt(2, n)), (0, True)))
    hist3 = ca.var(sp.Piecewise((n - count3, sp.Lt(3, n)), (0, True)))
    out = ca.output(_digits((hist0, hist1, hist2, hist3), L + 1))


# --- sort ---------------------------------------------------------------------------


def _rank(p: int, keys: Sequence[sp.Basic]) -> sp.Basic:
    """Number of keys smaller than ``keys[p]``: ``SelectorWidth(Select(keys, keys, LT))``."""
    return sum(_ind(sp.Lt(k, keys[p])) for j, k in enumerate(keys) if j != p)


class TracrSort(ca.Hypothesis):
    """``lib.make_sort(tokens, tokens, max_seq_len=4, min_key=1)``: a stable sort of the tokens."""

    x0, x1, x2, x3 = ca.inputs("x0 x1 x2 x3", domain=range(V))
    key0, key1, key2, key3 = (
        ca.var(L * x0 + 0),
        ca.var(L * x1 + 1),
        ca.var(L * x2 + 2),
        ca.var(L * x3 + 3),
    )
    target0 = ca.var(_rank(0, (key0, key1, key2, key3)))
    target1 = ca.var(_rank(1, (key0, key1, key2, key3)))
    target2 = ca.var(_rank(2, (key0, key1, key2, key3)))
    target3 = ca.var(_rank(3, (key0, key1, key2, key3)))
    y0 = ca.var(_unanimous(0, (target0, target1, target2, target3), (x0, x1, x2, x3)))
    y1 = ca.var(_unanimous(1, (target0, target1, target2, target3), (x0, x1, x2, x3)))
    y2 = ca.var(_unanimous(2, (target0, target1, target2, target3), (x0, x1, x2, x3)))
    y3 = ca.var(_unanimous(3, (target0, target1, target2, target3), (x0, x1, x2, x3)))
    out = ca.output(_digits((y0, y1, y2, y3), BASE))


class SortAntiStable(ca.Hypothesis):
    """Wrong on purpose: equal tokens are ranked last-first, ``key_p = 4 x_p + (3 - p)``.

    The sorted tokens are the same on every input; the targets of equal
    tokens are swapped, which interventions on ``key_p`` and ``target_p``
    expose.
    """

    x0, x1, x2, x3 = ca.inputs("x0 x1 x2 x3", domain=range(V))
    key0, key1, key2, key3 = (
        ca.var(L * x0 + 3),
        ca.var(L * x1 + 2),
        ca.var(L * x2 + 1),
        ca.var(L * x3 + 0),
    )
    target0 = ca.var(_rank(0, (key0, key1, key2, key3)))
    target1 = ca.var(_rank(1, (key0, key1, key2, key3)))
    target2 = ca.var(_rank(2, (key0, key1, key2, key3)))
    target3 = ca.var(_rank(3, (key0, key1, key2, key3)))
    y0 = ca.var(_unanimous(0, (target0, target1, target2, target3), (x0, x1, x2, x3)))
    y1 = ca.var(_unanimous(1, (target0, target1, target2, target3), (x0, x1, x2, x3)))
    y2 = ca.var(_unanimous(2, (target0, target1, target2, target3), (x0, x1, x2, x3)))
    y3 = ca.var(_unanimous(3, (target0, target1, target2, target3), (x0, x1, x2, x3)))
    out = ca.output(_digits((y0, y1, y2, y3), BASE))


# --- frac_prevs -----------------------------------------------------------------------

#: Place values of the mixed-radix output: ``count_p`` takes ``p + 2`` values.
FRAC_PLACES = (1, 2, 6, 24)


class TracrFracPrevs(ca.Hypothesis):
    """``lib.make_frac_prevs(tokens == "x")``: ``frac_p = count_p / (p + 1)``, with ``x`` the token index 0."""

    x0, x1, x2, x3 = ca.inputs("x0 x1 x2 x3", domain=range(V))
    is_x0, is_x1, is_x2, is_x3 = (
        ca.var(_ind(sp.Eq(x0, 0))),
        ca.var(_ind(sp.Eq(x1, 0))),
        ca.var(_ind(sp.Eq(x2, 0))),
        ca.var(_ind(sp.Eq(x3, 0))),
    )
    count0 = ca.var(is_x0)
    count1 = ca.var(is_x0 + is_x1)
    count2 = ca.var(is_x0 + is_x1 + is_x2)
    count3 = ca.var(is_x0 + is_x1 + is_x2 + is_x3)
    out = ca.output(sum(c * w for c, w in zip((count0, count1, count2, count3), FRAC_PLACES)))


class FracPrevsExclusive(ca.Hypothesis):
    """Wrong on purpose: ``count_p`` counts the ``x`` tokens strictly before ``p``; the read-out adds ``is_x_p``.

    Same ``out`` as :class:`TracrFracPrevs` on every input; an intervention
    on ``count_p`` from a source whose token at ``p`` differs tells them apart.
    """

    x0, x1, x2, x3 = ca.inputs("x0 x1 x2 x3", domain=range(V))
    is_x0, is_x1, is_x2, is_x3 = (
        ca.var(_ind(sp.Eq(x0, 0))),
        ca.var(_ind(sp.Eq(x1, 0))),
        ca.var(_ind(sp.Eq(x2, 0))),
        ca.var(_ind(sp.Eq(x3, 0))),
    )
    count0 = ca.var(sp.Integer(0))
    count1 = ca.var(is_x0)
    count2 = ca.var(is_x0 + is_x1)
    count3 = ca.var(is_x0 + is_x1 + is_x2)
    out = ca.output(
        sum(
            (c + b) * w
            for c, b, w in zip(
                (count0, count1, count2, count3),
                (is_x0, is_x1, is_x2, is_x3),
                FRAC_PLACES,
            )
        )
    )
