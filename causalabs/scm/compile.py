"""Compile mechanisms once into batched numpy functions (sympy ``lambdify``).

Mechanisms describe integer variables, but ``lambdify`` turns rationals into
floats: ``floor((a + b) / 3)`` would be computed as ``floor(a/3 + b/3)`` in
floating point and come out wrong for some inputs.  Before compiling,
``floor`` and ``ceiling`` of a fraction with an integer denominator are
rewritten into exact integer floor division, relations between fractions
(sympy writes ``Eq(2*a, a + b)`` inside a ``Piecewise`` as ``Eq(a, a/2 + b/2)``)
are multiplied out into integer ones, and any other non-integer result is an
error rather than being silently truncated.  ``ITE`` conditions are spelled
out with ``And``/``Or``, so that sympy's numpy printer never runs
``simplify`` over them.  An integer in a boolean context (``And(a, b)``) is
first written ``Ne(a, 0)``: sympy reads a bare symbol as a boolean, so once a
rewrite made another argument ``True`` it would fold ``And(a, True)`` into
``a`` itself, where z3 (and the hypothesis' meaning) has ``a != 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp


class NonIntegerValueError(ValueError):
    """A mechanism produced a value that is not an integer (internal; re-raised by the caller)."""


class MechanismCompileError(ValueError):
    """sympy could not turn a mechanism into numpy code (internal; re-raised by the caller)."""


class _ca_floordiv(sp.Function):  # noqa: N801 - printed by name into the lambdified code
    """Exact integer ``floor(p / q)`` for integer-valued ``p`` and a positive integer ``q``.

    It evaluates on numbers and is known to be an integer, so sympy can compare
    it (``Max``, ``Min`` and relations need that while they are rebuilt).
    """

    nargs = 2

    @classmethod
    def eval(cls, p: sp.Expr, q: sp.Expr) -> sp.Expr | None:
        if p.is_Rational and q.is_Integer and q.is_positive:
            return sp.floor(p / q)
        return None

    def _eval_is_integer(self) -> bool:
        return True


_RELATIONS = (sp.Eq, sp.Ne, sp.Lt, sp.Le, sp.Gt, sp.Ge)
_CONNECTIVES = (sp.And, sp.Or, sp.Not, sp.Xor)


def _truth(arg: sp.Basic) -> sp.Basic:
    """``arg`` as a truth value: itself when boolean-valued, else ``Ne(arg, 0)``."""
    boolean = isinstance(arg, (sp.logic.boolalg.BooleanAtom, sp.logic.boolalg.BooleanFunction, sp.core.relational.Relational))
    return arg if boolean else sp.Ne(arg, 0)


def _explicit_truth(expr: sp.Basic) -> sp.Basic:
    """Every non-boolean argument of ``And``/``Or``/``Not``/``Xor`` compared with 0 explicitly."""
    return expr.replace(
        lambda e: isinstance(e, _CONNECTIVES) and any(_truth(a) is not a for a in e.args),
        lambda e: e.func(*[_truth(a) for a in e.args]),
    )


def _integer_fraction(arg: sp.Expr) -> tuple[sp.Expr, sp.Integer] | None:
    """``(p, q)`` with ``arg == p / q``, ``p`` integer-coefficient and ``q`` a positive integer."""
    num, den = sp.fraction(sp.together(arg))
    if not (isinstance(den, sp.Integer) and den > 1):
        return None
    if not all(isinstance(n, sp.Integer) for n in num.atoms(sp.Number)):
        return None
    return num, den


def _exact_division(expr: sp.Basic) -> sp.Basic:
    """Rewrite ``floor``/``ceiling`` of integer fractions into exact floor division."""

    def floor_(e: sp.Basic) -> sp.Basic:
        frac = _integer_fraction(e.args[0])
        return e if frac is None else _ca_floordiv(*frac)

    def ceiling_(e: sp.Basic) -> sp.Basic:
        frac = _integer_fraction(e.args[0])
        return e if frac is None else -_ca_floordiv(-frac[0], frac[1])

    def relation(e: sp.Basic) -> sp.Basic:
        if not (isinstance(e.lhs, sp.Expr) and isinstance(e.rhs, sp.Expr)):
            return e
        frac = _integer_fraction(e.lhs - e.rhs)  # the denominator is positive: same relation
        return e if frac is None else e.func(frac[0], 0)

    def ite(e: sp.Basic) -> sp.Basic:
        c, a, b = e.args
        return sp.Or(sp.And(c, a), sp.And(sp.Not(c), b))

    expr = _explicit_truth(expr.replace(lambda e: isinstance(e, sp.ITE), ite))
    expr = expr.replace(lambda e: isinstance(e, _RELATIONS), relation)
    expr = expr.replace(lambda e: isinstance(e, sp.floor), floor_)
    return expr.replace(lambda e: isinstance(e, sp.ceiling), ceiling_)


def _first(arr: np.ndarray) -> Any:
    v = arr.flat[0]
    return v.item() if isinstance(v, np.generic) else v


def _as_int64(values: Any, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == object:  # a row-by-row callable: Python ints, bools, floats...
        try:
            ints = arr.astype(np.int64)
        except (TypeError, ValueError, OverflowError):
            raise NonIntegerValueError(f"produces non-integer values such as {_first(arr)!r}") from None
        bad = np.asarray(ints != arr, dtype=bool)
        if bad.any():
            raise NonIntegerValueError(f"produces non-integer values such as {_first(arr[bad])!r}")
        arr = ints
    elif arr.dtype.kind in "fc":
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | (np.mod(arr.real, 1) != 0) | (arr.imag != 0)
        if bad.any():
            raise NonIntegerValueError(f"produces non-integer values such as {_first(arr[bad])!r}")
        arr = arr.real
    if arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    if n is not None and arr.ndim == 0:
        arr = np.full(n, int(arr), dtype=np.int64)
    return arr


def compile_expression(expr: sp.Basic, parents: Sequence[sp.Symbol]) -> Callable[..., np.ndarray]:
    """Return ``f(*parent_arrays) -> int64 array`` evaluating ``expr`` column-wise."""
    try:
        raw = sp.lambdify(
            list(parents),
            _exact_division(expr),
            modules=[{"_ca_floordiv": np.floor_divide}, "numpy"],
        )
    except Exception as exc:  # noqa: BLE001 - sympy's printers raise many kinds
        # Raised on the first call instead: the hypothesis checks every mechanism at class
        # definition and re-raises this as a HypothesisDefinitionError naming the variable.
        why = f"sympy cannot compile {expr} into numpy code ({type(exc).__name__}: {exc})"
        cause = exc

        def failing(*args: np.ndarray) -> np.ndarray:
            raise MechanismCompileError(why) from cause

        return failing

    def run(*args: np.ndarray) -> np.ndarray:
        n = len(args[0]) if args and np.ndim(args[0]) else None
        return _as_int64(raw(*args), n)

    run.__doc__ = f"compiled: {expr}"
    return run


def compile_callable(
    fn: Callable[..., Any], vectorized: bool, n_parents: int
) -> Callable[..., np.ndarray]:
    """Wrap a user callable so that it maps parent arrays to an int64 array."""
    if vectorized:

        def run(*args: np.ndarray) -> np.ndarray:
            n = len(args[0]) if args and np.ndim(args[0]) else None
            return _as_int64(fn(*args), n)

    else:
        ufunc = np.frompyfunc(fn, n_parents, 1)

        def run(*args: np.ndarray) -> np.ndarray:
            return _as_int64(np.asarray(ufunc(*args)))

    return run
