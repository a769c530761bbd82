"""The sampled pairs of one variable set: balanced (stratified) or uniform, and which of them are distinct.

Shared by sample mode (:mod:`causalabs.verification.pipeline`) and
sequential mode (:mod:`causalabs.verification.sequential`), which draw their
pairs the same way.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from causalabs.data.balance import ENUMERATE_LIMIT as BALANCE_ENUMERATE_LIMIT
from causalabs.data.balance import balanced
from causalabs.data.dataset import CounterfactualDataset
from causalabs.data.generate import random_pairs
from causalabs.errors import DatasetError
from causalabs.scm.model import CausalModel
from causalabs.verification.verdict import STRATA

Sampling = Literal["balanced", "random"]


def sample_set(
    model: CausalModel, vs: tuple[str, ...], n: int, seed: int, sampling: Sampling, fallback: list[str]
) -> tuple[CounterfactualDataset, frozenset[str], bool]:
    """The pairs of one set: (dataset, strata proven empty, whether the pairs are a stratified sample).

    Balanced pairs are a stratified sample: half drawn uniformly from the
    changed pairs, half from the unchanged (``balance_values=False``: balancing
    source values too would weight some pairs over others inside a stratum,
    and the stratum's IIA would no longer be the one the claim is about).  A
    set where one stratum has no pair falls back to random pairs, with a
    warning; when the pair space was small enough to enumerate, the missing
    stratum is then proven empty.
    """
    if sampling == "balanced":
        try:
            return balanced(model, list(vs), n, seed=seed, balance_values=False), frozenset(), True
        except DatasetError as exc:
            warnings.warn(f"{'+'.join(vs)}: no balanced sample ({exc}); random pairs instead", stacklevel=4)
            fallback.append("+".join(vs))
            ds = random_pairs(model, list(vs), n, seed=seed)
            enumerated = model.input_space_size ** (1 + len(vs)) <= BALANCE_ENUMERATE_LIMIT
            seen = set() if not len(ds) else {"changed" if c else "unchanged" for c in np.unique(ds.changed)}
            return ds, frozenset(STRATA) - seen if enumerated else frozenset(), False
    return random_pairs(model, list(vs), n, seed=seed), frozenset(), False


def distinct(ds: CounterfactualDataset) -> np.ndarray:
    """Index of the first occurrence of each distinct (base, sources) row, in order."""
    cols = [ds.base[k] for k in sorted(ds.base)]
    cols += [ds.sources[v][k] for v in ds.intervened for k in sorted(ds.sources[v])]
    table = np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1) if cols else np.zeros((len(ds), 0))
    _, first = np.unique(table, axis=0, return_index=True)
    return np.sort(first)
