"""Candidate mechanisms for one intermediate: a small grammar over the other variables.

For an intermediate ``v`` the candidates are functions of the variables ``v``
may read without a cycle (the inputs and the intermediates that do not
depend on ``v``):

* *templates*: each mechanism of the hypothesis (with at most
  :data:`MAX_TEMPLATE_ARITY` variables) applied to other variables of the
  same domains (``Eq(w, x)`` becomes ``Eq(y, z)``; ``floor((a0 + b0)/10)``
  becomes ``floor((a1 + b1)/10)``);
* *grammar*: one variable (a copy), a constant of ``v``'s domain, and for
  two variables ``a, b``: ``Eq``, ``Ne``, ``<``, ``<=``, ``+``, ``-``,
  ``And``/``Or``/``Xor`` (both boolean), ``Mod(a + b, k)`` and
  ``floor((a + b) / k)`` for each integer constant ``k`` the hypothesis uses.

Only candidates whose values stay in ``v``'s domain on every factual input
are kept, so the rival aligns to the same site with the same values.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import sympy as sp

from causalabs.rivals.budget import evaluation_steps
from causalabs.scm.compile import compile_expression
from causalabs.scm.domains import contains, domain_key
from causalabs.scm.model import CausalModel

MAX_TEMPLATE_ARITY = 3
#: Constants listed as candidates only for domains of at most this many values.
MAX_CONSTANT_DOMAIN = 8


def constants(model: CausalModel) -> list[int]:
    """Integer constants >= 2 the hypothesis' mechanisms use (moduli, divisors, place values)."""
    found: set[int] = set()
    for v in model.variables.values():
        if isinstance(v.mechanism, sp.Basic):
            for atom in v.mechanism.atoms(sp.Rational):
                for k in (atom.p, atom.q):
                    if abs(int(k)) >= 2:
                        found.add(abs(int(k)))
    return sorted(found)[:4]


def _boolean(model: CausalModel, name: str) -> bool:
    return set(model.variables[name].domain) <= {0, 1}


def _templates(model: CausalModel, available: list[str]) -> Iterator[sp.Basic]:
    by_domain: dict[object, list[str]] = {}
    for a in available:
        by_domain.setdefault(domain_key(model.variables[a].domain), []).append(a)
    for u in model.internals:
        mech = model.variables[u].mechanism
        slots = sorted(mech.free_symbols, key=lambda s: s.name)
        if not slots or len(slots) > MAX_TEMPLATE_ARITY:
            continue
        choices = [by_domain.get(domain_key(model.variables[s.name].domain), []) for s in slots]
        for combo in itertools.product(*choices):
            if len(set(combo)) == len(combo):
                yield mech.xreplace({s: sp.Symbol(c) for s, c in zip(slots, combo)})


def _grammar(model: CausalModel, available: list[str]) -> Iterator[sp.Basic]:
    syms = {a: sp.Symbol(a) for a in available}
    for a in available:
        yield syms[a]
    for a, b in itertools.combinations(available, 2):
        x, y = syms[a], syms[b]
        yield from (sp.Eq(x, y), sp.Ne(x, y), sp.Lt(x, y), sp.Lt(y, x), sp.Le(x, y), sp.Le(y, x), x + y, x - y, y - x)
        if _boolean(model, a) and _boolean(model, b):
            yield from (sp.And(x, y), sp.Or(x, y), sp.Xor(x, y))
        for k in constants(model):
            yield from (sp.Mod(x + y, k), sp.floor((x + y) / k))


def candidates(model: CausalModel, name: str, factual: Mapping[str, np.ndarray], limit: int,
               spend: Callable[[int], None] | None = None) -> list[sp.Basic]:
    """Up to ``limit`` distinct candidate mechanisms for ``name`` whose factual values stay in its domain.

    ``factual``: every variable's values on the enumerated (or sampled) inputs.
    Candidates that compute, on those inputs, what ``name`` already computes
    come first only if they read other variables (same values, other causes).
    ``spend(steps)`` is called before each expression is evaluated (it may stop generation).
    """
    var = model.variables[name]
    below = model.descendants(name) | {name}
    available = [n for n in model.variables if n not in below and not model.variables[n].is_output]
    out: list[sp.Basic] = []
    seen: set[sp.Basic] = {var.mechanism}
    if len(var.domain) <= MAX_CONSTANT_DOMAIN:
        pool: Iterator[sp.Basic] = itertools.chain(_templates(model, available), _grammar(model, available),
                                                    (sp.Integer(int(c)) for c in var.domain))
    else:
        pool = itertools.chain(_templates(model, available), _grammar(model, available))
    for expr in pool:
        if len(out) >= limit:
            break
        if expr in seen or isinstance(expr, sp.logic.boolalg.BooleanAtom):
            continue
        seen.add(expr)
        if spend is not None:
            spend(evaluation_steps(expr))  # the work budget (causalabs.rivals.budget)
        values = evaluate(expr, factual)
        if values is None or not contains(var.domain, values).all():
            continue
        out.append(expr)
    return out


def evaluate(expr: sp.Basic, factual: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """``expr`` on the factual values (None when it cannot be evaluated as integers)."""
    n = len(next(iter(factual.values())))
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    try:
        fn = compile_expression(expr, syms)
        out = fn(*(factual[s.name] for s in syms))
    except Exception:  # noqa: BLE001 - a candidate that does not compile is simply not a candidate
        return None
    return np.asarray(out, dtype=np.int64) if np.ndim(out) else np.full(n, int(out), dtype=np.int64)
