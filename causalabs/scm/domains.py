"""Finite domains of hypothesis variables, without materialising large ones.

A domain is a sorted sequence of distinct integers, held as one of two
values:

* a sorted tuple of distinct ints: every domain of at most
  :data:`MAX_LISTED_DOMAIN` values (``range(4)`` becomes ``(0, 1, 2, 3)``,
  ``[8, 0, 3]`` becomes ``(0, 3, 8)``), and every domain inferred from a
  mechanism's image;
* a ``range`` with a positive step, for a ``range(...)`` of more values:
  O(1) memory whatever its size; its length, bounds, membership and the
  value at an index are arithmetic.  (A domain of that size listed value by
  value is refused: write it as a range.)

Sizes are counted arithmetically (``len``, products of lengths); the helpers
here map between values and indices with numpy arithmetic for a range, so a
domain of thirty million values costs nothing until rows are actually drawn
or enumerated.  Two domains holding the same values compare equal whichever
form they take (:func:`domain_key`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Union

import numpy as np

#: A variable's domain: a positive-step ``range`` or a sorted tuple of distinct ints.
Domain = Union[range, tuple[int, ...]]

#: The most values a domain held as a tuple may have; larger ones must be (and stay) ranges.
MAX_LISTED_DOMAIN = 1_000_000


def ascending(r: range) -> range:
    """The same values as ``r`` in increasing order (a range with a positive step)."""
    return r if r.step > 0 else r[::-1]


def freeze_domain(domain: Iterable[Any]) -> Domain:
    """A domain value: a range of more than :data:`MAX_LISTED_DOMAIN` values stays a range (ascending),
    anything else becomes a tuple of ints."""
    if isinstance(domain, range):
        domain = ascending(domain)
        if len(domain) > MAX_LISTED_DOMAIN:
            return domain
    return tuple(int(v) for v in domain)


def domain_key(domain: Domain) -> Any:
    """A comparison key: equal for two domains holding the same values, range or tuple."""
    if isinstance(domain, range):
        if len(domain) <= 1:
            return ("run", domain.start, 1, len(domain))
        return ("run", domain.start, domain.step, len(domain))
    t = tuple(domain)
    if len(t) <= 1:
        return ("run", t[0] if t else 0, 1, len(t))
    step = t[1] - t[0]
    if step > 0 and all(b - a == step for a, b in zip(t, t[1:])):
        return ("run", t[0], step, len(t))
    return ("values", t)


def is_contiguous(domain: Domain) -> bool:
    """True when the domain is a run of consecutive integers."""
    return domain[-1] - domain[0] + 1 == len(domain)


def values_at(domain: Domain, index: np.ndarray) -> np.ndarray:
    """The domain's values at positions ``index`` (int64), without building the domain for a range."""
    idx = np.asarray(index, dtype=np.int64)
    if isinstance(domain, range):
        return domain.start + idx * domain.step
    return np.asarray(domain, dtype=np.int64)[idx]


def index_of(domain: Domain, values: np.ndarray) -> np.ndarray:
    """Position of each value in the sorted domain (values assumed to lie in it)."""
    v = np.asarray(values, dtype=np.int64)
    if isinstance(domain, range):
        return (v - domain.start) // domain.step
    return np.searchsorted(np.asarray(domain, dtype=np.int64), v)


def contains(domain: Domain, values: np.ndarray) -> np.ndarray:
    """A boolean mask: which ``values`` lie in the domain."""
    v = np.asarray(values, dtype=np.int64)
    if isinstance(domain, range):
        lo, hi = domain[0], domain[-1]
        return (v >= lo) & (v <= hi) & ((v - lo) % domain.step == 0)
    return np.isin(v, np.asarray(domain, dtype=np.int64))


def format_values(domain: Domain, *, show: int = 20) -> str:
    """``{0..9}`` for a run of integers, ``{0, 2, ..., 98}`` for a stepped range, ``{0, 2, 5}`` otherwise.

    Never enumerates a range; a listed domain of more than ``show`` values is elided.
    """
    if len(domain) > 4 and is_contiguous(domain):
        return f"{{{domain[0]}..{domain[-1]}}}"
    if isinstance(domain, range) and len(domain) > 4:
        return f"{{{domain[0]}, {domain[1]}, ..., {domain[-1]}}}"
    if len(domain) > show:
        head = ", ".join(map(str, domain[:3]))
        return f"{{{head}, ... ({len(domain):,} values) ..., {domain[-1]}}}"
    return "{" + ", ".join(map(str, domain)) + "}"
