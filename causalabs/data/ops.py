"""Questions asked of an existing dataset: its distinct inputs, and whether it fits a hypothesis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from causalabs.data.dataset import CounterfactualDataset
from causalabs.errors import DatasetError
from causalabs.scm.semantics import Batch, interchange, model_of, rows, run


def stack_rows(batch: Batch, names: Sequence[str]) -> np.ndarray:
    """A batch as an (n, len(names)) matrix, columns in ``names`` order."""
    return np.stack([np.asarray(batch[k]) for k in names], axis=1)


def row_ids(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first position of each distinct row, id of each row's distinct row), ids in sorted order.

    Distinct rows come in ``np.unique(table, axis=0)`` order; each column is
    ranked and the ranks packed into one int64 key, so the sort is
    one-dimensional (an order of magnitude faster than sorting whole rows).
    """
    if table.shape[0] <= 1:
        return np.zeros(table.shape[0], dtype=np.int64), np.zeros(table.shape[0], dtype=np.int64)
    key = np.zeros(table.shape[0], dtype=np.int64)
    span = 1
    for j in range(table.shape[1]):
        uniq, inv = np.unique(table[:, j], return_inverse=True)
        span *= len(uniq)
        if span > 2**62:  # mixed-radix key would overflow: sort whole rows instead
            _, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
            return first, inverse.reshape(-1)
        key = key * len(uniq) + inv.reshape(-1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


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
