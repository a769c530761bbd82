"""Declarations used in a hypothesis class body: ``inputs``, ``var``, ``output`` and ``require``.

Each declaration returns a sympy ``Symbol`` so that later mechanisms in the
class body can use it in expressions.  The symbol is a placeholder: its final
name is the class attribute it is bound to, and the class machinery in
:mod:`causalabs.scm.hypothesis` renames it when the class is created.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

import attrs
import numpy as np
import sympy as sp

from causalabs.errors import DomainDefinitionError, HypothesisDefinitionError
from causalabs.scm.domains import MAX_LISTED_DOMAIN, Domain, freeze_domain

_counter = itertools.count()

#: A domain as a user writes it: ``range(4)``, ``(0, 1)``, ``[2, 3, 5]`` (a ``range`` is never enumerated).
DomainLike = Iterable[int]

#: A parent reference in an escape-hatch (callable) mechanism.
ParentLike = Union[sp.Symbol, str]


@attrs.frozen
class Declaration:
    """What one ``inputs``/``var``/``output`` call declared, before naming."""

    placeholder: sp.Symbol
    kind: str  # "input" | "internal" | "output"
    given_name: str | None
    domain: Domain | None
    mechanism: Any  # sympy expression, callable, or None for inputs
    parents: tuple[ParentLike, ...] | None  # only for callables
    vectorized: bool = True
    #: A definition problem found at declaration time.  It is raised when the
    #: class is created, so that the message can name the class and variable.
    problem: str | None = None
    problem_error: type[Exception] = DomainDefinitionError


#: Placeholder symbol -> its declaration, for every declaration ever made.
_REGISTRY: dict[sp.Symbol, Declaration] = {}


def _domain_or_problem(domain: DomainLike) -> tuple[Domain | None, str | None]:
    """A user domain as a :data:`~causalabs.scm.domains.Domain`, or ``(None, what is wrong)``.

    A ``range`` of more than :data:`~causalabs.scm.domains.MAX_LISTED_DOMAIN`
    values is kept as a range (ascending): nothing is enumerated.  Any other
    iterable is read value by value, at most that many values, into a sorted
    tuple of distinct ints.
    """
    if isinstance(domain, range):
        if not len(domain):
            return None, "the domain is empty"
        return freeze_domain(domain), None
    if isinstance(domain, (str, bytes)):
        return None, f"a domain must be integers, got the string {domain!r}"
    try:
        values = list(itertools.islice(iter(domain), MAX_LISTED_DOMAIN + 1))
    except TypeError:
        return None, f"a domain must be a finite iterable of integers, got {type(domain).__name__}"
    if len(values) > MAX_LISTED_DOMAIN:
        return None, (
            f"a domain listed value by value may hold at most {MAX_LISTED_DOMAIN:,} values; "
            "write a larger run of integers as range(start, stop[, step])"
        )
    out: set[int] = set()
    for v in values:
        if isinstance(v, bool):
            out.add(int(v))
        elif isinstance(v, (int,)) or (hasattr(v, "__index__") and not isinstance(v, float)):
            out.add(int(v))
        else:
            return None, f"domain values must be integers, got {v!r}"
    if not out:
        return None, "the domain is empty"
    return tuple(sorted(out)), None


def normalize_domain(domain: DomainLike, what: str) -> Domain:
    """Turn a user domain into a range or a sorted tuple of distinct ints, or raise naming ``what``."""
    dom, problem = _domain_or_problem(domain)
    if dom is None:
        raise DomainDefinitionError(f"{what}: {problem}")
    return dom


class Placeholder(sp.Symbol):
    """A variable while its class body runs: a sympy ``Symbol`` that refuses to be a Python truth value.

    ``a and b`` asks Python whether ``a`` is true; a plain ``Symbol`` says yes,
    so ``ca.var(a and b)`` would silently mean ``b``.  A placeholder raises
    instead, and the class machinery explains the line (``sp.And(a, b)``;
    see :mod:`causalabs.scm.explain`).  ``not a``, ``if a:`` and ``a or b``
    are refused the same way.  Only a class body is refused: sympy's own
    code asks symbols for a truth value too (``not base`` in ``Pow``), and
    gets a plain ``Symbol``'s answer, True.  The class machinery renames
    placeholders to plain symbols when the class is created.
    """

    def __bool__(self) -> bool:
        caller = sys._getframe(1).f_locals
        if "__module__" in caller and "__qualname__" in caller:  # Python's and/or/not/if in a class body
            raise TypeError(f"cannot determine truth value of the symbolic variable {self.name}")
        return True


def _placeholder(label: str) -> sp.Symbol:
    return Placeholder(f"_ca_{next(_counter)}_{label}")


def inputs(names: str, *, domain: DomainLike) -> tuple[sp.Symbol, ...]:
    """Declare input variables sharing one domain: ``w, x = inputs("w x", domain=range(4))``.

    The names in the string label the variables until the class attribute
    names take over; use the same names in both places.
    """
    labels = names.replace(",", " ").split()
    if not labels:
        raise DomainDefinitionError("inputs(): give at least one name, as in inputs('a b', domain=range(2))")
    dom, problem = _domain_or_problem(domain)
    out = []
    for label in labels:
        sym = _placeholder(label)
        _REGISTRY[sym] = Declaration(sym, "input", label, dom, None, None, problem=problem)
        out.append(sym)
    return tuple(out)


def input(name: str, *, domain: DomainLike) -> sp.Symbol:  # noqa: A001 - mirrors inputs()
    """Declare a single input variable."""
    (sym,) = inputs(name, domain=domain)
    return sym


def _declare(
    kind: str,
    mechanism: Any,
    domain: DomainLike | None,
    parents: Sequence[ParentLike] | None,
    vectorized: bool,
) -> sp.Symbol:
    problem = None
    problem_error: type[Exception] = DomainDefinitionError
    if isinstance(parents, (sp.Symbol, str)):
        parents = (parents,)
    if callable(mechanism) and not isinstance(mechanism, sp.Basic):
        if parents is None:
            problem_error = HypothesisDefinitionError
            problem = "a Python callable mechanism needs parents=(...)"
        elif domain is None:
            problem = "a Python callable mechanism needs domain=..."
    elif isinstance(mechanism, (bool, int)):
        mechanism = sp.Integer(int(mechanism))
    elif not isinstance(mechanism, sp.Basic):
        problem_error = HypothesisDefinitionError
        problem = (
            f"a mechanism must be a sympy expression or a callable, got {type(mechanism).__name__}"
        )
    dom = None
    if domain is not None:
        dom, domain_problem = _domain_or_problem(domain)
        if problem is None and domain_problem is not None:
            problem, problem_error = domain_problem, DomainDefinitionError
    sym = _placeholder(kind)
    _REGISTRY[sym] = Declaration(
        sym,
        kind,
        None,
        dom,
        mechanism,
        None if parents is None else tuple(parents),
        vectorized,
        problem,
        problem_error,
    )
    return sym


def var(
    mechanism: Any,
    *,
    domain: DomainLike | None = None,
    parents: Sequence[ParentLike] | None = None,
    vectorized: bool = True,
) -> sp.Symbol:
    """Declare an intermediate variable computed by ``mechanism``.

    ``mechanism`` is a sympy expression over earlier variables (its parents are
    its free symbols), or, as an escape hatch, a Python callable taking the
    parents' values as numpy arrays (``parents=`` required; with
    ``vectorized=False`` it is called one row at a time).  Without ``domain``
    the domain is the mechanism's image over its parents' domains.
    """
    return _declare("internal", mechanism, domain, parents, vectorized)


def output(
    mechanism: Any,
    *,
    domain: DomainLike | None = None,
    parents: Sequence[ParentLike] | None = None,
    vectorized: bool = True,
) -> sp.Symbol:
    """Declare an output variable; same arguments as :func:`var`."""
    return _declare("output", mechanism, domain, parents, vectorized)


#: The class-namespace key under which ``require`` collects a class body's requirements.
REQUIREMENTS_KEY = "__ca_requires__"


def require(condition: Any) -> None:
    """Restrict the inputs of the hypothesis being defined: ``ca.require(sp.Ne(a, b))``.

    Called in a hypothesis class body, with a sympy condition over that
    class's *inputs* (``sp.Ne``, ``sp.Lt``, ``sp.And``...; an integer term
    means ``term != 0``).  Only inputs satisfying every requirement of the
    class are enumerated, drawn as bases or sources, searched by falsify or
    solved for by z3; interventions may still set intermediate variables to
    any value of their domains.  See docs/hypotheses.md, "Input requirements".
    """
    namespace = sys._getframe(1).f_locals
    if "__module__" not in namespace or "__qualname__" not in namespace:
        raise HypothesisDefinitionError(
            "ca.require(...) states a requirement of the hypothesis being defined: call it in the "
            "body of a ca.Hypothesis subclass"
        )
    owner = namespace["__qualname__"]
    if isinstance(condition, (bool, np.bool_)):
        raise HypothesisDefinitionError(
            f"{owner}: ca.require({condition!r}) got a Python bool, not a condition; "
            "a != b and a == b compare sympy symbols structurally: write sp.Ne(a, b) or sp.Eq(a, b)"
        )
    if not isinstance(condition, sp.Basic):
        raise HypothesisDefinitionError(
            f"{owner}: ca.require() takes a sympy condition over the inputs, got {type(condition).__name__}"
        )
    namespace.setdefault(REQUIREMENTS_KEY, []).append(condition)


def lookup(sym: sp.Symbol) -> Declaration | None:
    """The declaration behind a placeholder symbol, if it is one."""
    return _REGISTRY.get(sym)


Mechanism = Union[sp.Basic, Callable[..., Any]]
