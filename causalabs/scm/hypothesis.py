"""``Hypothesis``: the base class users subclass to state a high-level causal model.

The class body declares variables with :func:`causalabs.inputs`,
:func:`causalabs.var` and :func:`causalabs.output`.  When the class is
created, it is validated (cycles, unknown symbols, domains, outputs no input
reaches, mechanisms leaving their domain) and compiled; any problem raises a
:class:`~causalabs.errors.HypothesisDefinitionError` naming the class and the
variable.
"""

from __future__ import annotations

import graphlib
import hashlib
import inspect
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import sympy as sp

from causalabs.errors import (
    CycleError,
    DomainDefinitionError,
    HypothesisDefinitionError,
    MechanismRangeError,
    UnknownSymbolError,
    UnreachableOutputError,
)
from causalabs.scm import requirements
from causalabs.scm.compile import NonIntegerValueError, compile_callable, compile_expression
from causalabs.scm.declare import Declaration, lookup
from causalabs.scm.domains import Domain, contains, format_values, values_at
from causalabs.scm.model import CausalModel, Variable

#: Above this many parent-value combinations, a domain is not inferred by enumeration.
MAX_IMAGE_ENUMERATION = 2_000_000
_IMAGE_SAMPLE = 200_000


class Hypothesis:
    """Base class of high-level causal models.

    Example::

        class HierarchicalEquality(ca.Hypothesis):
            w, x, y, z = ca.inputs("w x y z", domain=range(4))
            left = ca.var(sp.Eq(w, x))
            right = ca.var(sp.Eq(y, z))
            out = ca.output(sp.Eq(left, right))

    After creation the class attributes are named sympy symbols
    (``HierarchicalEquality.left`` is ``Symbol('left')``) and
    ``HierarchicalEquality.__causal_model__`` is the validated
    :class:`CausalModel`.
    """

    __causal_model__: ClassVar[CausalModel]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names, decls = _collect(cls)
        requires = requirements.collect(cls)
        model = build_model(cls, names, decls, requires)
        cls.__ca_declarations__ = (names, decls)
        cls.__ca_requirements__ = model.requires
        cls.__causal_model__ = model
        for name, v in model.variables.items():
            setattr(cls, name, v.symbol)

    def __init__(self) -> None:
        raise TypeError(
            f"{type(self).__name__} is a hypothesis class; use the class itself "
            "(for example causalabs.run(HypothesisClass, inputs)), not an instance"
        )


def _collect(cls: type) -> tuple[dict[sp.Symbol, str], dict[str, Declaration]]:
    """Map placeholder symbols to attribute names, and names to declarations.

    Declarations of base hypothesis classes are inherited; a subclass may
    redeclare a variable, and the base's mechanisms then use the new one.
    """
    names: dict[sp.Symbol, str] = {}
    decls: dict[str, Declaration] = {}
    for klass in reversed(cls.__mro__[1:]):
        inherited = vars(klass).get("__ca_declarations__")
        if inherited is not None:
            names.update(inherited[0])
            decls.update(inherited[1])
            # A subclass body can only reach inherited variables as ``Base.name``,
            # which after the base's creation is the final symbol ``Symbol(name)``.
            names.update({sp.Symbol(n): n for n in inherited[1]})
    own: dict[sp.Symbol, str] = {}
    for attr, value in vars(cls).items():
        decl = lookup(value) if isinstance(value, sp.Symbol) else None
        if decl is None:
            continue
        if value in own:
            raise HypothesisDefinitionError(
                f"{cls.__name__}: one declaration is bound to two names, "
                f"{own[value]!r} and {attr!r}; declare each variable once"
            )
        own[value] = attr
        names[value] = attr
        decls[attr] = decl
    return names, decls


def _resolve_parents(
    cls: type, name: str, decl: Declaration, names: dict[sp.Symbol, str], decls: dict[str, Declaration]
) -> tuple[str, ...]:
    if isinstance(decl.mechanism, sp.Basic):
        parents = []
        for sym in sorted(decl.mechanism.free_symbols, key=lambda s: s.name):
            if sym not in names:
                foreign = lookup(sym)
                if foreign is not None:
                    label = foreign.given_name or foreign.kind
                    what = f"{label!r}, a variable declared outside the body of {cls.__name__}"
                elif sym.name in decls:
                    what = (
                        f"{sym.name!r} from another hypothesis class, not the {sym.name!r} "
                        f"declared in {cls.__name__}"
                    )
                else:
                    what = f"{sym.name!r}, which is not a variable of {cls.__name__}"
                raise UnknownSymbolError(
                    f"{cls.__name__}.{name}: its mechanism uses {what} (declare each variable "
                    "in the class body with ca.inputs/ca.var before using it)"
                )
            parents.append(names[sym])
        # Declaration order, not placeholder names (those carry a global counter).
        rank = {n: i for i, n in enumerate(decls)}
        return tuple(sorted(set(parents), key=rank.__getitem__))
    out = []
    for p in decl.parents or ():
        if isinstance(p, str):
            if p not in decls:
                raise UnknownSymbolError(
                    f"{cls.__name__}.{name}: parent {p!r} is not a variable of {cls.__name__}"
                )
            out.append(p)
        elif isinstance(p, sp.Symbol) and p in names:
            out.append(names[p])
        else:
            raise UnknownSymbolError(
                f"{cls.__name__}.{name}: parent {p!r} is not a variable of {cls.__name__}"
            )
    return tuple(out)


def _topological(cls: type, parents: dict[str, tuple[str, ...]], order_hint: list[str]) -> list[str]:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for n in order_hint:
        sorter.add(n, *parents[n])
    try:
        static = list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        raise CycleError(
            f"{cls.__name__}: variables form a cycle: {' -> '.join(map(str, cycle))}"
        ) from None
    # Stable order: inputs in declaration order, then each variable as soon as its parents are.
    rank = {n: i for i, n in enumerate(order_hint)}
    done: set[str] = set()
    out: list[str] = []
    remaining = sorted(static, key=rank.__getitem__)
    while remaining:
        for n in remaining:
            if all(p in done for p in parents[n]):
                out.append(n)
                done.add(n)
                remaining.remove(n)
                break
    return out


def _parent_product(domains: list[Domain], seed_name: str) -> tuple[list[np.ndarray], bool]:
    """All combinations of the parents' domains (or a seeded sample when too many).

    The number of combinations is counted first; a sample draws indices and
    maps them to values, so a large ``range`` domain is never built.
    """
    total = math.prod(len(d) for d in domains)
    if total <= MAX_IMAGE_ENUMERATION:
        grids = np.meshgrid(*[np.asarray(d, dtype=np.int64) for d in domains], indexing="ij")
        return [g.reshape(-1) for g in grids], True
    seed = int.from_bytes(hashlib.sha256(seed_name.encode()).digest()[:4], "little")
    rng = np.random.default_rng(seed)
    return [values_at(d, rng.integers(0, len(d), _IMAGE_SAMPLE)) for d in domains], False


def build_model(
    cls: type, names: dict[sp.Symbol, str], decls: dict[str, Declaration], requires: Sequence[Any] = ()
) -> CausalModel:
    """Validate and compile the declarations of a hypothesis class."""
    if not decls:
        raise HypothesisDefinitionError(
            f"{cls.__name__}: no variables declared; use ca.inputs(...), ca.var(...), ca.output(...)"
        )
    for n, d in decls.items():
        if d.problem is not None:
            raise d.problem_error(f"{cls.__name__}.{n}: {d.problem}")
    order_hint = list(decls)
    parents = {n: _resolve_parents(cls, n, d, names, decls) for n, d in decls.items()}
    for n, d in decls.items():
        if d.kind == "input" and d.given_name and d.given_name != n:
            raise HypothesisDefinitionError(
                f"{cls.__name__}.{n}: declared as {d.given_name!r} in ca.inputs(...) but bound to "
                f"the attribute {n!r}; use the same name in both places"
            )
    order = _topological(cls, parents, order_hint)
    inputs_ = [n for n in order if decls[n].kind == "input"]
    outputs = [n for n in order if decls[n].kind == "output"]
    if not inputs_:
        raise HypothesisDefinitionError(f"{cls.__name__}: declare at least one input with ca.inputs(...)")
    if not outputs:
        raise HypothesisDefinitionError(f"{cls.__name__}: declare at least one output with ca.output(...)")

    symbols = {n: sp.Symbol(n) for n in order}
    rename = {ph: symbols[n] for ph, n in names.items() if n in symbols}
    variables: dict[str, Variable] = {}
    compiled: dict[str, Any] = {}
    for n in order:
        d = decls[n]
        if d.kind == "input":
            assert d.domain is not None
            variables[n] = Variable(n, "input", d.domain, (), None, symbols[n])
            continue
        ps = parents[n]
        if isinstance(d.mechanism, sp.Basic):
            mech = d.mechanism.xreplace(rename)
            fn = compile_expression(mech, [symbols[p] for p in ps])
        else:
            mech = d.mechanism
            fn = compile_callable(mech, d.vectorized, len(ps))
        domain = _check_image(cls, n, d, ps, variables, fn)
        variables[n] = Variable(n, d.kind, domain, ps, mech, symbols[n])
        compiled[n] = fn

    for out in outputs:
        anc = {p for p in _ancestors(out, parents)}
        if not any(decls[a].kind == "input" for a in anc):
            raise UnreachableOutputError(
                f"{cls.__name__}.{out}: output does not depend on any input "
                f"(its mechanism is {_shown_mechanism(variables[out])}); no intervention "
                "on an input could ever change it"
            )
    try:
        source = inspect.getsourcefile(cls)
    except (TypeError, OSError):  # built-in, or defined in a REPL / exec() / python -c
        source = None
    conditions = requirements.resolve(cls, requires, rename, inputs_)
    admit = requirements.compile_admit(conditions, [symbols[n] for n in inputs_]) if conditions else None
    model = CausalModel(
        name=cls.__name__,
        variables=variables,
        compiled=compiled,
        doc=inspect.cleandoc(vars(cls).get("__doc__") or ""),  # its own, not the base's
        source_file=source,
        requires=tuple(conditions),
        admit=admit,
    )
    if conditions:
        requirements.check_admits_some(cls, model)
    return model


def _shown_mechanism(v: Variable) -> str:
    if isinstance(v.mechanism, sp.Basic):
        return sp.sstr(v.mechanism)
    return f"the callable {getattr(v.mechanism, '__name__', type(v.mechanism).__name__)}"


def _ancestors(name: str, parents: dict[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = list(parents[name])
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            stack.extend(parents[p])
    return seen


def _check_image(
    cls: type,
    name: str,
    decl: Declaration,
    parents: tuple[str, ...],
    variables: dict[str, Variable],
    fn: Any,
) -> Domain:
    """The variable's domain: declared (and checked) or inferred from the mechanism's image."""
    where = f"{cls.__name__}.{name}"
    if not parents:
        try:
            image = np.unique(np.atleast_1d(fn()))
        except NonIntegerValueError as exc:
            raise MechanismRangeError(f"{where}: the mechanism {exc}") from None
        except Exception as exc:  # noqa: BLE001 - user code
            raise HypothesisDefinitionError(f"{where}: evaluating the mechanism failed: {exc}") from exc
        exhaustive = True
    else:
        cols, exhaustive = _parent_product([variables[p].domain for p in parents], where)
        try:
            values = fn(*cols)
        except NonIntegerValueError as exc:
            raise MechanismRangeError(
                f"{where}: the mechanism {exc} on its parents' domains; variables take "
                "integer values (use sp.floor, sp.Mod or integer arithmetic)"
            ) from None
        except Exception as exc:  # noqa: BLE001 - user code
            raise HypothesisDefinitionError(
                f"{where}: evaluating the mechanism on its parents' domains failed: {exc}"
            ) from exc
        image = np.unique(np.asarray(values))
    if decl.domain is None:
        if not exhaustive:
            raise DomainDefinitionError(
                f"{where}: its parents have too many value combinations to infer the domain; "
                "give domain=... explicitly"
            )
        return tuple(int(v) for v in image)
    outside = sorted(int(v) for v in image[~contains(decl.domain, image)])
    if outside:
        raise MechanismRangeError(
            f"{where}: the mechanism produces {outside[:5]} outside the declared domain "
            f"{_show_domain(decl.domain)}"
        )
    return decl.domain


def _show_domain(domain: Domain) -> str:
    if len(domain) > 6 and domain[-1] - domain[0] + 1 == len(domain):
        return f"{{{domain[0]}..{domain[-1]}}}"
    return format_values(domain)

