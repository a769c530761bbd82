"""sympy -> z3: a hypothesis' mechanisms as z3 integer terms (private; use causalabs.scm.smt).

Every causalabs value is an int64 and booleans are the ints 0/1, so boolean
subterms become ``If(b, 1, 0)`` and an int used as a condition becomes
``v != 0``.  Each variable gets one z3 ``Int`` named ``prefix + name``; inputs
are constrained to their domains (and, where the hypothesis declares
requirements with ``ca.require``, to those: an intervened input is exempt) and
every other variable equals its translated mechanism.  Arithmetic is exact over the rationals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union

import attrs
import numpy as np
import sympy as sp
import z3

from causalabs.errors import (
    UnknownVariableError,
    UnsupportedMechanismError,
    ValueOutOfDomainError,
)
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import HypothesisLike, VarRef, model_of, var_name

__all__ = ["Encoding", "condition", "in_domain", "requirements", "to_z3", "translate"]


@attrs.frozen(eq=False)
class Encoding:
    """A hypothesis in z3: one ``Int`` per encoded variable, and the constraints tying them.

    ``values`` holds only the variables that were encoded (all of them unless
    :func:`to_z3` was given ``needed``).  Add ``constraints`` to a solver
    before asking about ``values``.
    """

    model: CausalModel = attrs.field(repr=False)
    prefix: str
    values: Mapping[str, z3.ArithRef] = attrs.field(repr=False)
    constraints: tuple[z3.BoolRef, ...] = attrs.field(repr=False)

    def __getitem__(self, ref: VarRef) -> z3.ArithRef:
        name = var_name(self.model, ref)
        if name not in self.values:
            raise UnknownVariableError(f"{self.model.name}.{name} was not encoded (not needed)")
        return self.values[name]

    def read(self, solution: z3.ModelRef, names: Iterable[str] | None = None) -> dict[str, int]:
        """The values of ``names`` (default: the inputs) in a z3 model, as plain ints."""
        names = self.model.inputs if names is None else names
        return {n: solution.eval(self.values[n], model_completion=True).as_long() for n in names}


# --- translation ----------------------------------------------------------------

_RELATIONS = (
    (sp.Equality, lambda a, b: a == b),
    (sp.Unequality, lambda a, b: a != b),
    (sp.StrictLessThan, lambda a, b: a < b),
    (sp.LessThan, lambda a, b: a <= b),
    (sp.StrictGreaterThan, lambda a, b: a > b),
    (sp.GreaterThan, lambda a, b: a >= b),
)
_BOOLEAN = (
    sp.logic.boolalg.BooleanFunction,
    sp.logic.boolalg.BooleanAtom,
    sp.core.relational.Relational,
)
_RATIONAL = (sp.Add, sp.Mul, sp.Pow, sp.Max, sp.Min, sp.Abs, sp.Piecewise)


Num = Union[z3.ArithRef, int]


def _times(a: Num, b: Num) -> Num:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if isinstance(a, int) and a == 1:
        return b
    if isinstance(b, int) and b == 1:
        return a
    return a * b


def _ite(c: z3.BoolRef, a: Num, b: Num) -> Num:
    if isinstance(a, int) and isinstance(b, int) and a == b:
        return a
    return z3.If(c, a, b)


def _floordiv(a: z3.ArithRef, b: Num) -> z3.ArithRef:
    """Python's ``a // b`` (z3's ``div`` is Euclidean: it floors only for b > 0)."""
    if isinstance(b, int):
        return a / b if b > 0 else (-a) / (-b)
    return z3.If(b > 0, a / b, (-a) / (-b))  # b == 0: z3 leaves the value unspecified


def _pymod(a: z3.ArithRef, b: Num) -> z3.ArithRef:
    """Python's / numpy's ``a % b`` (sign of the divisor; numpy gives 0 for b == 0)."""
    if isinstance(b, int):
        return a - b * _floordiv(a, b) if b != 0 else z3.IntVal(0)
    return z3.If(b == 0, 0, a - b * _floordiv(a, b))


#: A rational value as (numerator, denominator); the denominator is always positive.
Fraction = tuple[z3.ArithRef, Num]


class _Translator:
    """sympy -> z3, memoised.  Arithmetic is exact over the rationals (sympy writes
    ``Eq(2*a, a + b)`` as ``Eq(a, a/2 + b/2)``); a fraction used as an integer value
    is floored (numpy refuses non-integer values, so that case is undefined there)."""

    def __init__(self, env: Mapping[str, z3.ArithRef], where: str, fresh: str) -> None:
        self.env = env
        self.where = where
        self.fresh = fresh
        self.undefined: list[z3.ArithRef] = []
        self.memo: dict[tuple[sp.Basic, str], Any] = {}

    def fail(self, what: str) -> UnsupportedMechanismError:
        return UnsupportedMechanismError(f"{self.where}: z3 cannot translate {what}")

    def _cached(self, e: Any, kind: str, fn: Any) -> Any:
        key = (e, kind)
        if key not in self.memo:
            self.memo[key] = fn(sp.sympify(e))
        return self.memo[key]

    def integer(self, e: Any) -> z3.ArithRef:
        return self._cached(e, "int", self._integer)

    def boolean(self, e: Any) -> z3.BoolRef:
        return self._cached(e, "bool", self._boolean)

    def rational(self, e: Any) -> Fraction:
        return self._cached(e, "q", self._rational)

    def _integer(self, e: sp.Basic) -> z3.ArithRef:
        if isinstance(e, sp.Symbol):
            if e.name not in self.env:
                raise UnknownVariableError(f"{self.where}: {e.name!r} is not a variable here")
            return self.env[e.name]
        if e.is_Integer:
            return z3.IntVal(int(e))
        if isinstance(e, _BOOLEAN):
            return z3.If(self.boolean(e), z3.IntVal(1), z3.IntVal(0))
        if isinstance(e, _RATIONAL) or e.is_Rational:
            num, den = self.rational(e)
            return num if isinstance(den, int) and den == 1 else _floordiv(num, den)
        if isinstance(e, sp.Mod):
            a, b = e.args
            return _pymod(self._exact(a, e), int(b) if b.is_Integer else self._exact(b, e))
        if isinstance(e, (sp.floor, sp.ceiling)):
            sign = 1 if isinstance(e, sp.floor) else -1
            num, den = self.rational(e.args[0])
            n = sign * num
            return sign * (n if isinstance(den, int) and den == 1 else _floordiv(n, den))
        if isinstance(e, sp.sign):
            a = self.integer(e.args[0])
            return z3.If(a > 0, 1, z3.If(a < 0, -1, 0))
        raise self.fail(f"{type(e).__name__} (in {e})")

    def _exact(self, e: sp.Basic, within: sp.Basic) -> z3.ArithRef:
        num, den = self.rational(e)
        if not (isinstance(den, int) and den == 1):
            raise self.fail(f"{within}: an argument that is a fraction")
        return num

    def _rational(self, e: sp.Basic) -> Fraction:
        num: Any
        den: Num
        if e.is_Rational:
            return z3.IntVal(int(e.p)), int(e.q)
        if isinstance(e, (sp.Add, sp.Mul)):
            parts = [self.rational(a) for a in e.args]
            num, den = parts[0]
            for n, d in parts[1:]:
                if isinstance(e, sp.Mul):
                    num, den = _times(num, n), _times(den, d)
                elif isinstance(den, int) and isinstance(d, int):
                    lcm = den * d // math.gcd(den, d)
                    num, den = _times(num, lcm // den) + _times(n, lcm // d), lcm
                else:
                    num, den = _times(num, d) + _times(n, den), _times(den, d)
            return num, den
        if isinstance(e, sp.Pow):
            base, exp = e.args
            if not exp.is_Integer:
                raise self.fail(f"the power {e} (only integer exponents)")
            n, d = self.rational(base)
            k = abs(int(exp))
            num = z3.Product([n] * k) if k else z3.IntVal(1)
            den = d**k if isinstance(d, int) else (z3.Product([d] * k) if k else 1)
            if int(exp) >= 0:
                return num, den
            den = z3.IntVal(den) if isinstance(den, int) else den
            return z3.If(num < 0, -den, den), z3.If(num < 0, -num, num)  # num == 0: undefined
        if isinstance(e, (sp.Max, sp.Min)):
            parts = [self.rational(a) for a in e.args]
            num, den = parts[0]
            for n, d in parts[1:]:
                bigger = _times(n, den) > _times(num, d)
                take = bigger if isinstance(e, sp.Max) else z3.Not(bigger)
                num, den = _ite(take, n, num), _ite(take, d, den)
            return num, den
        if isinstance(e, sp.Abs):
            n, d = self.rational(e.args[0])
            return z3.If(n < 0, -n, n), d
        if isinstance(e, sp.Piecewise):
            num, den = z3.IntVal(0), 1
            if e.args[-1].cond is not sp.true:  # where no branch holds numpy fails: leave it open
                num = z3.Int(f"{self.fresh}!undefined{len(self.undefined)}")
                self.undefined.append(num)
            for value, cond in reversed(e.args):
                n, d = self.rational(value)
                if cond is sp.true:
                    num, den = n, d
                else:
                    c = self.boolean(cond)
                    num, den = _ite(c, n, num), _ite(c, d, den)
            return num, den
        return self.integer(e), 1

    def _boolean(self, e: sp.Basic) -> z3.BoolRef:
        if e is sp.true or e is sp.false:
            return z3.BoolVal(bool(e))
        for cls, rel in _RELATIONS:
            if isinstance(e, cls):
                (n1, d1), (n2, d2) = self.rational(e.lhs), self.rational(e.rhs)
                return rel(_times(n1, d2), _times(n2, d1))  # denominators are positive
        if isinstance(e, sp.ITE):
            c, a, b = (self.boolean(x) for x in e.args)
            return z3.If(c, a, b)
        if isinstance(e, sp.logic.boolalg.BooleanFunction):
            args = [self.boolean(a) for a in e.args]
            if isinstance(e, sp.And):
                return z3.And(args)
            if isinstance(e, sp.Or):
                return z3.Or(args)
            if isinstance(e, sp.Not):
                return z3.Not(args[0])
            if isinstance(e, sp.Xor):
                out = args[0]
                for a in args[1:]:
                    out = z3.Xor(out, a)
                return out
            if isinstance(e, sp.Implies):
                return z3.Implies(args[0], args[1])
            if isinstance(e, sp.Equivalent):
                return z3.And([args[0] == a for a in args[1:]])
            if isinstance(e, sp.Nand):
                return z3.Not(z3.And(args))
            if isinstance(e, sp.Nor):
                return z3.Not(z3.Or(args))
            raise self.fail(f"{type(e).__name__} (in {e})")
        return self.integer(e) != 0


def translate(
    expr: Any, env: Mapping[str, z3.ArithRef], *, where: str = "expression"
) -> z3.ArithRef:
    """``expr`` (sympy) as a z3 integer term over ``env`` (symbol name -> z3 Int); booleans are 0/1."""
    return _Translator(env, where, f"{where}!").integer(expr)


def condition(expr: Any, env: Mapping[str, z3.ArithRef], *, where: str = "condition") -> z3.BoolRef:
    """``expr`` (sympy) as a z3 condition over ``env``; an integer term means ``term != 0``."""
    return _Translator(env, where, f"{where}!").boolean(expr)


def in_domain(value: z3.ArithRef, domain: Sequence[int]) -> z3.BoolRef:
    """``value`` lies in ``domain`` (a sorted tuple of ints): bounds when contiguous, else an Or."""
    lo, hi = int(domain[0]), int(domain[-1])
    if hi - lo + 1 == len(domain):
        return z3.And(value >= lo, value <= hi)
    return z3.Or([value == int(v) for v in domain])


def _closure(model: CausalModel, targets: Iterable[str], cut: Iterable[str] = ()) -> set[str]:
    """``targets`` and every variable they read, not looking past the ``cut`` (intervened) ones."""
    cut = set(cut)
    seen: set[str] = set()
    stack = list(targets)
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            if n not in cut:
                stack.extend(model.variables[n].parents)
    return seen


def to_z3(
    hypothesis: HypothesisLike,
    prefix: str = "",
    interventions: Mapping[VarRef, z3.ArithRef | int] | None = None,
    *,
    needed: Iterable[VarRef] | None = None,
) -> Encoding:
    """Encode a hypothesis in z3, optionally under interventions.

    ``interventions`` replace a variable's mechanism by an int (checked
    against the domain) or a z3 integer term (constrained to the domain).
    ``needed`` restricts the encoding to those variables and what they read;
    a needed variable with a Python-callable mechanism raises
    :class:`~causalabs.errors.UnsupportedMechanismError`.
    """
    model = model_of(hypothesis)
    fixed = {var_name(model, k): v for k, v in (interventions or {}).items()}
    targets = model.variables if needed is None else [var_name(model, r) for r in needed]
    keep = _closure(model, targets, fixed)
    # a requirement binds every input it names once one of them is encoded (unless intervened on)
    keep |= {n for r in model.requires for n in _names(r) if _names(r) & keep and not _names(r) & fixed.keys()}
    values: dict[str, z3.ArithRef] = {}
    constraints: list[z3.BoolRef] = []
    for name, var in model.variables.items():
        if name not in keep:
            continue
        z = values[name] = z3.Int(prefix + name)
        where = f"{model.name}.{name}"
        if name in fixed:
            value = fixed[name]
            if isinstance(value, (bool, int, np.integer)):
                if int(value) not in var.domain:
                    raise ValueOutOfDomainError(
                        f"{where}: value {int(value)} is outside its domain"
                    )
                constraints.append(z == int(value))
            else:
                constraints += [z == value, in_domain(z, var.domain)]
        elif var.is_input:
            constraints.append(in_domain(z, var.domain))
        elif not var.symbolic:
            raise UnsupportedMechanismError(
                f"{where}: its mechanism is a Python callable, which z3 cannot reason about; "
                "declare it with a sympy expression (or intervene on it)"
            )
        else:
            env = {p: values[p] for p in var.parents}
            constraints.append(z == _Translator(env, where, prefix + name).integer(var.mechanism))
    free = {n: values[n] for n in model.inputs if n in values and n not in fixed}
    constraints += requirements(model, free, where=f"{model.name} requirement ({prefix or 'inputs'})")
    return Encoding(model, prefix, values, tuple(constraints))


def _names(expr: sp.Basic) -> set[str]:
    return {s.name for s in expr.free_symbols}


def requirements(
    hypothesis: HypothesisLike, inputs: Mapping[str, z3.ArithRef], *, where: str = "requirement"
) -> list[z3.BoolRef]:
    """The hypothesis' requirements on its inputs (``ca.require``) over the z3 terms ``inputs``.

    Each requirement all of whose inputs are in ``inputs`` becomes one
    condition; the others are left out (their inputs are not encoded).
    """
    model = model_of(hypothesis)
    return [condition(r, inputs, where=where) for r in model.requires if _names(r) <= inputs.keys()]
