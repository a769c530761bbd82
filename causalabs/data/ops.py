"""Questions asked of an existing dataset: its distinct inputs, and whether it fits a hypothesis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from causalabs.data.dataset import CounterfactualDataset
from causalabs.errors import DatasetError
from causalabs.scm.semantics import Batch, interchange, model_of, rows, run


def stack_rows(batch: Batch, names: Sequence[str]) -> np.ndarray:
    """A batch as an (n, len(names)) matrix, columns in ``names`` order."""
    return np.stack([np.asarray(batch[k]) for k in names], axis=1)


def _packed(table: np.ndarray) -> np.ndarray | None:
    """Each row of an integer table as one int64 ordered as the rows are lexicographically, or None if it would not fit."""
    if not np.issubdtype(table.dtype, np.integer) or table.dtype.itemsize > 8:
        return None
    lo, hi = table.min(axis=0), table.max(axis=0)
    spans = [int(h) - int(low) + 1 for low, h in zip(lo.tolist(), hi.tolist())]
    if math.prod(spans) >= 1 << 62:  # Python integers: exact
        return None
    weights = np.ones(len(spans), dtype=np.int64)  # weights[j] = the product of the spans after column j
    weights[:-1] = np.cumprod(np.asarray(spans[:0:-1], dtype=np.int64))[::-1]
    shifted = table.astype(np.int64, copy=False) - lo.astype(np.int64)
    return shifted @ weights


def row_ids(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first position of each distinct row, id of each row's distinct row), ids in sorted order.

    Distinct rows come in ``np.unique(table, axis=0)`` order (lexicographic);
    one stable sort and a comparison of neighbours find them (several times
    faster than ``np.unique`` over rows, at every size).  The sort is of one
    mixed-radix integer per row when the columns' ranges allow it (the
    usual case: small value domains), else an ``np.lexsort`` of the columns.
    """
    n = table.shape[0]
    if n <= 1:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    if table.ndim == 1 or table.shape[1] == 0:
        table = table.reshape(n, -1)
    if table.shape[1] == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    key = _packed(table)
    new = np.empty(n, dtype=bool)
    new[0] = True
    if key is not None:  # one integer per row, in the rows' lexicographic order
        order = np.argsort(key, kind="stable")
        ranked_key = key[order]
        np.not_equal(ranked_key[1:], ranked_key[:-1], out=new[1:])
    else:
        order = np.lexsort(table.T[::-1])  # stable: equal rows keep their original order
        ranked = table[order]
        np.any(ranked[1:] != ranked[:-1], axis=1, out=new[1:])
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new].astype(np.int64), inverse


def input_pool(dataset: CounterfactualDataset) -> tuple[Batch, np.ndarray, dict[str, np.ndarray]]:
    """The distinct inputs used as bases or sources, and each row's index into them.

    Returns ``(pool, base_index, source_index)`` with ``pool[name][base_index]
    == dataset.base[name]`` and ``pool[name][source_index[v]] ==
    dataset.sources[v][name]``: compute each distinct input once, then gather.
    """
    names = dataset.inputs
    n = len(dataset)
    parts = [dataset.base] + [dataset.sources[v] for v in dataset.intervened]
    table = np.stack([np.concatenate([p[k] for p in parts]) for k in names], axis=1)
    first, ids = row_ids(table)
    pool = {k: table[first, j] for j, k in enumerate(names)}
    base_index = ids[:n]
    source_index = {v: ids[(i + 1) * n : (i + 2) * n] for i, v in enumerate(dataset.intervened)}
    return pool, base_index, source_index


def check_dataset(hypothesis: Any, dataset: CounterfactualDataset) -> None:
    """Raise :class:`DatasetError` unless the dataset's outputs are the hypothesis' own.

    Recomputes ``expected`` with :func:`causalabs.interchange` and
    ``base_output`` with :func:`causalabs.run`, and names the first row that
    differs (useful after loading a file written by another version).
    """
    model = model_of(hypothesis)
    if dataset.hypothesis != model.name:
        raise DatasetError(
            f"dataset {dataset.digest[:12]} was built for {dataset.hypothesis}, not {model.name}"
        )
    out = model.output
    checks = (
        ("expected", dataset.expected, interchange(model, dataset.base, dataset.sources)[out]),
        ("base_output", dataset.base_output, run(model, dataset.base)[out]),
    )
    for field, stored, fresh in checks:
        bad = np.flatnonzero(stored != fresh)
        if len(bad):
            i = int(bad[0])
            row = rows({k: v[i : i + 1] for k, v in dataset.base.items()})[0]
            srcs = {
                v: rows({k: a[i : i + 1] for k, a in s.items()})[0] for v, s in dataset.sources.items()
            }
            raise DatasetError(
                f"{model.name}: dataset {dataset.digest[:12]} row {i} (of {len(bad)} wrong) has "
                f"{field} {int(stored[i])}, but the hypothesis gives {int(fresh[i])} "
                f"for base {row} and sources {srcs}"
            )
