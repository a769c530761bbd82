"""The causal model value behind a hypothesis class: variables, graph, compiled mechanisms."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np
import sympy as sp

from causalabs.scm.domains import Domain, domain_key, freeze_domain, index_of, is_contiguous
from causalabs.scm.space import size


@attrs.frozen
class Variable:
    """One variable of a hypothesis.

    ``mechanism`` is a sympy expression over the parents' symbols, a Python
    callable (escape hatch, then ``symbolic`` is False), or None for inputs.
    """

    name: str
    kind: str  # "input" | "internal" | "output"
    #: a range (kept lazy, any size) or a sorted tuple of ints; see :mod:`causalabs.scm.domains`
    domain: Domain = attrs.field(converter=freeze_domain, eq=domain_key)
    parents: tuple[str, ...]
    mechanism: Any = attrs.field(eq=False, repr=False)
    symbol: sp.Symbol = attrs.field(repr=False)

    @property
    def is_input(self) -> bool:
        return self.kind == "input"

    @property
    def is_output(self) -> bool:
        return self.kind == "output"

    @property
    def symbolic(self) -> bool:
        """True when the mechanism is a sympy expression (z3 can reason about it)."""
        return self.mechanism is None or isinstance(self.mechanism, sp.Basic)

    @property
    def contiguous(self) -> bool:
        """True when the domain is a run of consecutive integers."""
        return is_contiguous(self.domain)


#: A compiled mechanism: parents' int64 arrays -> int64 array (or scalar).
Compiled = Callable[..., Any]


@attrs.frozen(eq=False)
class CausalModel:
    """A validated, compiled hypothesis: the value every pipeline works on.

    ``variables`` is in topological order (inputs first).  Build one by
    subclassing :class:`causalabs.Hypothesis`; get it with
    :func:`causalabs.model_of`.
    """

    name: str
    variables: Mapping[str, Variable]
    compiled: Mapping[str, Compiled] = attrs.field(repr=False)
    doc: str = ""
    source_file: str | None = None
    #: requirements on the inputs (``ca.require``), sympy conditions over input symbols
    requires: tuple[sp.Basic, ...] = ()
    #: the requirements compiled: input columns (model order) -> nonzero where all hold; None without requirements
    admit: Compiled | None = attrs.field(default=None, repr=False)
    #: values computed once per model (the admissible-input block counts of :mod:`causalabs.scm.space`)
    cache: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False)

    def _repr_html_(self) -> str:
        """Jupyter's display: the causal graph as an SVG figure and the variables with their mechanisms."""
        from causalabs.scm.display import repr_html

        return repr_html(self)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(n for n, v in self.variables.items() if v.is_input)

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(n for n, v in self.variables.items() if v.is_output)

    @property
    def output(self) -> str:
        """The single output variable's name (first output when there are several)."""
        return self.outputs[0]

    @property
    def internals(self) -> tuple[str, ...]:
        return tuple(n for n, v in self.variables.items() if v.kind == "internal")

    @property
    def box_size(self) -> int:
        """Every combination of the input domains, requirements or not (a product: never enumerated)."""
        return math.prod(len(self.variables[n].domain) for n in self.inputs)

    @property
    def constrained(self) -> bool:
        """True when the hypothesis declares requirements on its inputs (``ca.require``)."""
        return bool(self.requires)

    @property
    def input_space_size(self) -> int:
        """The number of inputs: the box without requirements, else those satisfying them.

        With requirements the admissible inputs are counted once (see
        :mod:`causalabs.scm.space`); above :data:`causalabs.scm.space.COUNT_LIMIT`
        box rows they cannot be, and this is the box size, an upper bound.
        """
        return size(self)

    def children(self, name: str) -> tuple[str, ...]:
        return tuple(n for n, v in self.variables.items() if name in v.parents)

    def ancestors(self, name: str) -> frozenset[str]:
        seen: set[str] = set()
        stack = list(self.variables[name].parents)
        while stack:
            p = stack.pop()
            if p not in seen:
                seen.add(p)
                stack.extend(self.variables[p].parents)
        return frozenset(seen)

    def descendants(self, name: str) -> frozenset[str]:
        return frozenset(n for n in self.variables if name in self.ancestors(n))

    def domain_index(self, name: str, values: np.ndarray) -> np.ndarray:
        """Position of each value in the variable's sorted domain."""
        return index_of(self.variables[name].domain, values)
