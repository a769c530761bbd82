"""Compiled mechanisms (causalabs.scm.compile) against sympy's own row-by-row evaluation.

The reference substitutes each input row into the sympy expression
(``expr.subs``), which is exact rational arithmetic; the compiled numpy code
must give the same integers on the whole domain.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import numpy as np
import pytest
import sympy as sp

import causalabs as ca
from causalabs.errors import HypothesisDefinitionError
from causalabs.scm.compile import NonIntegerValueError, compile_expression

a, b, d = sp.symbols("a b d")
DOMAINS = {a: range(-3, 4), b: range(-2, 3), d: (-2, -1, 1, 2)}


def exact(expr: sp.Basic, row: dict[sp.Symbol, int]) -> int | None:
    """``expr`` at one row by substitution: an int (booleans as 0/1), or None if undefined."""
    v = expr.subs({s: sp.Integer(x) for s, x in row.items()})
    if v is sp.true or v is sp.false:
        return int(bool(v))
    return int(v) if isinstance(v, sp.Integer) else None


def assert_matches_subs(expr: sp.Basic, symbols: Sequence[sp.Symbol] = (a, b, d)) -> None:
    rows = list(itertools.product(*(DOMAINS[s] for s in symbols)))
    want = [exact(expr, dict(zip(symbols, r))) for r in rows]
    cols = [np.array(c, dtype=np.int64) for c in zip(*rows)]
    fn = compile_expression(expr, list(symbols))
    if any(w is None for w in want):  # undefined somewhere: numpy must not invent a value there
        with pytest.raises((NonIntegerValueError, ArithmeticError)):
            fn(*cols)
        return
    got = fn(*cols)
    assert got.dtype == np.int64
    bad = [(r, w, int(g)) for r, w, g in zip(rows, want, got) if w != g]
    assert not bad, f"{expr}: (row, exact, compiled) {bad[:5]}"


def assert_run_matches_subs(hyp: type) -> None:
    """Every variable of ``hyp`` on every input, against substitution variable by variable."""
    model = ca.model_of(hyp)
    inputs = ca.enumerate_inputs(hyp)
    values = ca.run(hyp, inputs)
    n = len(next(iter(inputs.values())))
    for i in range(n):
        env = {model.variables[k].symbol: int(inputs[k][i]) for k in model.inputs}
        for name, var in model.variables.items():
            if var.is_input:
                continue
            want = exact(var.mechanism, {s: env[s] for s in var.mechanism.free_symbols})
            assert want == int(values[name][i]), (name, {str(k): v for k, v in env.items()})
            env[var.symbol] = want


# --- the reported class ------------------------------------------------------------------


def test_floor_inside_max_inside_a_piecewise_condition_compiles_exactly() -> None:
    # sympy turns Eq(Piecewise(...), -3) into an ITE; its numpy printer then ran
    # simplify over the condition, and Max(b, floor(a/2)) broke on the rewritten floor.
    class H(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=range(-2, 3))
        d = ca.input("d", domain=(-2, -1, 1, 2))
        e1 = sp.And(
            sp.Eq(sp.Piecewise((a, b < 0), (-3, True)), -3),
            sp.Eq(sp.Max(b, sp.floor(a / 2)), sp.floor(1 / d)),
        )
        out = ca.output(sp.Piecewise((1, e1), (0, True)))

    assert_run_matches_subs(H)
    assert set(ca.run(H, ca.enumerate_inputs(H))["out"].tolist()) == {0, 1}


def test_equation_with_halves_in_a_piecewise_condition() -> None:
    # inside a Piecewise sympy rewrites Eq(2*a, a + b) as Eq(a, a/2 + b/2)
    class H(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=range(-3, 4))
        out = ca.output(sp.Piecewise((1, sp.Eq(2 * a, a + b)), (0, True)))

    assert_run_matches_subs(H)
    v = ca.run(H, ca.enumerate_inputs(H))
    np.testing.assert_array_equal(v["out"], (v["a"] == v["b"]).astype(np.int64))


def test_equation_with_halves_is_exact_beyond_float_precision() -> None:
    big = 2**53 + 1  # float64 rounds big to 2**53: a == a/2 + b/2 holds for a=big, b=big+1

    class Big(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=(big, big + 1))
        out = ca.output(sp.Piecewise((1, sp.Eq(2 * a, a + b)), (0, True)))

    v = ca.run(Big, ca.enumerate_inputs(Big))
    np.testing.assert_array_equal(v["out"], (v["a"] == v["b"]).astype(np.int64))


# --- expressions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        sp.Max(b, sp.floor(a / 2)),
        sp.Min(sp.ceiling(a / 3), sp.floor((a + b) / 2)),
        sp.Piecewise((1, sp.Eq(sp.Max(b, sp.floor(a / 2)), sp.floor(1 / d))), (0, True)),
        sp.Piecewise((1, sp.Eq(sp.Piecewise((a, b < 0), (-3, True)), -3)), (0, True)),
        sp.Piecewise((1, sp.Ge(2 * a, a + b + d)), (0, True)),
        sp.Piecewise((1, sp.Lt(a / 3, b / 2)), (0, True)),
        sp.Piecewise((1, sp.Ne(sp.Piecewise((a / 2, b > 0), (b, True)), 1)), (0, True)),
        sp.ceiling(d * sp.Abs(a) / 3 + d / 3 + sp.Piecewise((2, sp.Ge(2 * a, a + b)), (a, True)) / 3),
        sp.floor(sp.floor(a / 2) / 3) + sp.ceiling(sp.Max(a, b) / 2),
        sp.Eq(a > 0, b > 0),
        sp.ITE(a > 0, b > 0, d > 0),
    ],
    ids=str,
)
def test_compiled_expression_matches_substitution(expr: sp.Basic) -> None:
    assert_matches_subs(expr)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_undefined_rows_are_an_error_not_a_value() -> None:
    assert_matches_subs(sp.Piecewise((a, b > 0)))  # no branch holds where b <= 0
    assert_matches_subs(sp.floor(a / (b + 2)))  # division by zero at b = -2


def _int(r: random.Random, depth: int) -> sp.Expr:
    if depth <= 0 or r.random() < 0.25:
        return r.choice([a, b, d, sp.Integer(r.randint(-3, 3))])
    x = lambda: _int(r, depth - 1)
    return r.choice(
        [
            lambda: x() + x(),
            lambda: x() * x(),
            lambda: sp.floor(x() / r.choice([2, 3])),
            lambda: sp.ceiling((x() + x()) / r.choice([2, 3, 4])),
            lambda: sp.Mod(x(), r.choice([2, 3, -2])),
            lambda: sp.Max(x(), x()),
            lambda: sp.Min(x(), sp.floor(x() / 2)),
            lambda: sp.Abs(x()),
            lambda: sp.Piecewise((x(), _cond(r, depth - 1)), (x(), True)),
            lambda: sp.floor(1 / d) + x(),
        ]
    )()


def _cond(r: random.Random, depth: int) -> sp.Basic:
    rel = r.choice([sp.Eq, sp.Ne, sp.Lt, sp.Le, sp.Gt, sp.Ge])
    if depth <= 0 or r.random() < 0.4:
        return rel(2 * a, a + b) if r.random() < 0.2 else rel(_int(r, depth - 1), _int(r, depth - 1))
    return r.choice(
        [
            lambda: sp.And(_cond(r, depth - 1), _cond(r, depth - 1)),
            lambda: sp.Or(_cond(r, depth - 1), _cond(r, depth - 1)),
            lambda: sp.Not(_cond(r, depth - 1)),
            lambda: sp.Eq(
                sp.Piecewise((_int(r, depth - 1), _cond(r, depth - 1)), (r.randint(-3, 3), True)),
                r.randint(-3, 3),
            ),
        ]
    )()


@pytest.mark.parametrize("seed", range(40))
def test_random_mechanisms_match_substitution(seed: int) -> None:
    # Mod divisors are nonzero constants: numpy's x % 0 is 0 where sympy's is nan
    r = random.Random(seed)
    expr: sp.Basic = sp.Integer(0)
    while not expr.free_symbols:
        expr = sp.Piecewise((1, _cond(r, 3)), (0, True)) if seed % 2 else _int(r, 3)
    assert_matches_subs(expr)


# --- what cannot be compiled -------------------------------------------------------------


def test_a_mechanism_sympy_cannot_compile_names_the_class_and_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("printer failure")

    monkeypatch.setattr(sp, "lambdify", refuse)
    with pytest.raises(HypothesisDefinitionError, match=r"Broken\.out: .*printer failure"):

        class Broken(ca.Hypothesis):
            a, b = ca.inputs("a b", domain=range(3))
            out = ca.output(sp.Max(a, b))
