"""Counterfactual datasets: seeded (base, sources, intervened, expected) arrays with a digest.

Numpy only (no torch).  Build datasets with :func:`random_pairs`,
:func:`exhaustive_pairs` or :func:`balanced`; every generator is seeded with
``numpy.random.default_rng(seed)`` and reproducible to the bit.  See
``docs/data.md``.
"""

from causalabs.data.balance import balanced
from causalabs.data.dataset import CounterfactualDataset, concat, content_digest
from causalabs.data.generate import exhaustive_pairs, random_pairs
from causalabs.data.ops import check_dataset, input_pool
from causalabs.data.spaces import distinct_inputs

__all__ = [
    "CounterfactualDataset",
    "balanced",
    "check_dataset",
    "concat",
    "content_digest",
    "distinct_inputs",
    "exhaustive_pairs",
    "input_pool",
    "random_pairs",
]
