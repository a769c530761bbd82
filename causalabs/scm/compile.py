"""Compile mechanisms once into batched numpy functions (sympy ``lambdify``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp


def _as_int64(values: Any, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    if n is not None and arr.ndim == 0:
        arr = np.full(n, int(arr), dtype=np.int64)
    return arr


def compile_expression(expr: sp.Basic, parents: Sequence[sp.Symbol]) -> Callable[..., np.ndarray]:
    """Return ``f(*parent_arrays) -> int64 array`` evaluating ``expr`` column-wise."""
    raw = sp.lambdify(list(parents), expr, modules="numpy")

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
            return _as_int64(np.asarray(ufunc(*args)).astype(np.int64))

    return run
