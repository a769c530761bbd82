"""Exhaustive interchange checks over a finite input space, with source classes.

Every distinct input runs once up to each aligned site.  Under an
interchange on a subspace, a source matters only through its coordinates
in that subspace, and the hypothesis' counterfactual only through the
source's value of the variable.  Sources that agree on both form a *class*:
every source of a class gives the same network output and the same
expected output for a given base.  So checking every base against one
representative of each class (weighted by the class size) is the same as
checking every (base, source) pair, exactly, at a fraction of the cost.
Representatives are the smallest inputs of their class (inputs are
enumerated in lexicographic order), so the first failure found is also the
lexicographically smallest counterexample.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import attrs
import numpy as np
import torch

from causalabs.backends.native import NativeBackend
from causalabs.engine.collect import collect_batch
from causalabs.engine.evaluate import run_patched
from causalabs.errors import DomainTooLargeError
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, encode
from causalabs.network.sites import Site, Subspace, check_disjoint
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import Batch, enumerate_inputs, interchange, run

#: Refuse exhaustive checks that would run more weighted pairs than this.
MAX_RUNS = 100_000_000
#: Encode every input once (and index the codes) up to this many inputs.
ENCODE_ONCE_LIMIT = 1_000_000


@attrs.frozen(eq=False)
class SourceClasses:
    """Classes of inputs that act identically as sources for one variable."""

    variable: str
    representative: np.ndarray  # (G,) index of each class's smallest input
    size: np.ndarray  # (G,) inputs per class


@attrs.frozen(eq=False)
class SetResult:
    """Weighted outcome of every pair for one intervened variable set."""

    variables: tuple[str, ...]
    successes: int
    total: int
    changed_successes: int
    changed_total: int
    first_failure: tuple[int, tuple[int, ...], int, int] | None  # base, sources, expected, observed


def project(vectors: torch.Tensor, sub: Subspace) -> torch.Tensor:
    """The coordinates of ``vectors`` that an interchange on ``sub`` reads from a source."""
    if sub.units is not None:
        return vectors[..., list(sub.units)]
    if sub.featurizer is not None:
        assert sub.dims is not None
        a, b = sub.dims
        u = sub.featurizer.basis(a, b)
        if u is not None:
            return vectors @ u.to(device=vectors.device, dtype=vectors.dtype)
        return sub.featurizer(vectors)[..., a:b]
    return vectors


def source_classes(
    network: Network, model: CausalModel, site: Site, variable: str, inputs: Batch, *, batch_size: int = 4096
) -> SourceClasses:
    """Group ``inputs`` by (site coordinates, hypothesis value of ``variable``)."""
    n = len(next(iter(inputs.values())))
    vectors = collect_batch(NativeBackend(), network, inputs, [site], batch_size)[site.location_key()]
    # projected pass by pass, as the vectors were recorded (a matmul's last bits depend on its row count)
    parts = [project(vectors[i : i + batch_size], site.subspace) for i in range(0, n, batch_size)]
    coords = torch.cat(parts).reshape(n, -1).detach().to("cpu", torch.float64).numpy()
    values = run(model, inputs)[variable].astype(np.float64)[:, None]
    keys = np.concatenate([values, coords], axis=1)
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    order = np.argsort(first)
    return SourceClasses(variable, first[order], counts[order])


def check_runs(model: CausalModel, n: int, classes: dict[str, SourceClasses], variables: Sequence[str]) -> int:
    """The runs an exhaustive check of ``variables`` needs (bases x source-class combinations); raise above MAX_RUNS."""
    runs = n * math.prod(len(classes[v].size) for v in variables)
    if runs > MAX_RUNS:
        raise DomainTooLargeError(
            f"{model.name}: an exhaustive check of {'+'.join(variables)} needs {runs:,} runs "
            f"(more than {MAX_RUNS:,}); use mode='sample', or check fewer variables together (sets=...)"
        )
    return runs


def check_set(
    network: Network,
    model: CausalModel,
    alignment: Alignment,
    inputs: Batch,
    classes: dict[str, SourceClasses],
    variables: Sequence[str],
    *,
    batch_size: int = 16384,
    chunk: int = 1 << 20,
) -> SetResult:
    """Every base against every combination of source classes, weighted by class sizes.

    Runs are built and checked ``chunk`` at a time (whole bases per chunk, in
    order), so the first failure found is still the smallest.
    """
    n = len(next(iter(inputs.values())))
    reps = [classes[v].representative for v in variables]
    sizes = [classes[v].size for v in variables]
    check_runs(model, n, classes, variables)  # before listing the combinations, which may not fit in memory
    combos = list(itertools.product(*[range(len(r)) for r in reps]))
    combo_idx = np.asarray(combos, dtype=np.int64).reshape(len(combos), len(variables))
    backend = NativeBackend()
    sites = [alignment.sites[v] for v in variables]
    check_disjoint(sites)
    # each class representative runs once up to its site; every input is encoded once
    vectors = [
        collect_batch(backend, network, {k: col[reps[j]] for k, col in inputs.items()}, [s], batch_size)[
            s.location_key()
        ]
        for j, s in enumerate(sites)
    ]
    encoded = encode(network, inputs) if n <= ENCODE_ONCE_LIMIT else None
    # bases in chunks, so memory stays bounded by ``chunk`` runs whatever the domain
    per_chunk = max(1, chunk // len(combos))
    successes = total = changed_successes = changed_total = 0
    first = None
    for b0 in range(0, n, per_chunk):
        bases = np.arange(b0, min(n, b0 + per_chunk))
        base_idx = np.repeat(bases, len(combos))
        cls_idx = np.tile(combo_idx, (len(bases), 1))  # class of each variable's source, per run
        weights = np.ones(len(base_idx), dtype=np.int64)
        for j in range(len(variables)):
            weights *= sizes[j][cls_idx[:, j]]
        base = {k: v[base_idx] for k, v in inputs.items()}
        src_idx = {v: reps[j][cls_idx[:, j]] for j, v in enumerate(variables)}
        sources = {v: {k: col[src_idx[v]] for k, col in inputs.items()} for v in variables}
        expected = interchange(model, base, sources)[model.output]
        base_output = run(model, base)[model.output]
        values, _ = run_patched(
            network, backend, base, [sources[v] for v in variables], sites, vectors,
            torch.as_tensor(np.ascontiguousarray(cls_idx.T), device=network.device),
            batch_size=batch_size, inputs=encoded,
            input_rows=None if encoded is None else torch.as_tensor(base_idx),
        )
        predicted = torch.cat(values).cpu().numpy().astype(np.int64)
        correct, changed = predicted == expected, expected != base_output
        successes += int(weights[correct].sum())
        total += int(weights.sum())
        changed_successes += int(weights[correct & changed].sum())
        changed_total += int(weights[changed].sum())
        failing = np.flatnonzero(~correct)
        if first is None and failing.size:
            i = int(failing[0])
            first = (
                int(base_idx[i]),
                tuple(int(src_idx[v][i]) for v in variables),
                int(expected[i]),
                int(predicted[i]),
            )
    return SetResult(
        variables=tuple(variables),
        successes=successes,
        total=total,
        changed_successes=changed_successes,
        changed_total=changed_total,
        first_failure=first,
    )


def variable_sets(variables: Sequence[str], *, max_subsets: int = 15) -> list[tuple[str, ...]]:
    """Every non-empty subset of the aligned variables (singles and all together when there are many)."""
    vs = list(variables)
    subsets = [c for r in range(1, len(vs) + 1) for c in itertools.combinations(vs, r)]
    if len(subsets) <= max_subsets:
        return subsets
    return [(v,) for v in vs] + [tuple(vs)]


def all_inputs(model: CausalModel) -> Batch:
    return enumerate_inputs(model)
