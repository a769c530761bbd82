"""How falsify's rows meet a hypothesis' input requirements (``ca.require``).

A row is a tuple of domain positions, one per input.  Under requirements,
rows are drawn from a table of the admissible inputs' positions (at most
:data:`POSITION_TABLE_LIMIT` of them), and :func:`admissible_pairs` masks the
pairs whose base and sources all satisfy the requirements: the search drops
the others, and the minimisation treats them as never failing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from causalabs.scm.semantics import enumerate_inputs
from causalabs.scm.space import admissible

__all__ = ["POSITION_TABLE_LIMIT", "admissible_pairs", "admissible_positions"]

#: Under requirements, rows are drawn from a table of the admissible inputs when there are at most this many.
POSITION_TABLE_LIMIT = 1_000_000


def admissible_positions(model: Any) -> np.ndarray | None:
    """(admissible inputs, inputs) domain positions, in enumeration order; None without requirements or above the limit."""
    if not model.constrained or model.input_space_size > POSITION_TABLE_LIMIT:
        return None
    every = enumerate_inputs(model)
    return np.stack([model.domain_index(n, every[n]) for n in model.inputs], axis=1)


def admissible_pairs(
    model: Any, values: Callable[[np.ndarray], dict[str, np.ndarray]], base_idx: np.ndarray, src_idx: np.ndarray
) -> np.ndarray:
    """Per pair: do the base (n, inputs) and every source (n, k, inputs) satisfy the requirements?"""
    if not model.constrained:
        return np.ones(len(base_idx), dtype=bool)
    ok = admissible(model, values(base_idx))
    for j in range(src_idx.shape[1]):
        ok &= admissible(model, values(src_idx[:, j]))
    return ok
