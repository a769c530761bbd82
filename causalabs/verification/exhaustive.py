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
from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import torch

from causalabs.backends.native import NativeBackend
from causalabs.engine.collect import collect_batch
from causalabs.engine.evaluate import run_patched
from causalabs.engine.prefixes import cached_prefix
from causalabs.errors import DomainTooLargeError
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, encode
from causalabs.network.sites import Site, Subspace, check_disjoint
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import MAX_ENUMERATION, Batch, enumerate_inputs, enumerate_rows, interchange, run

#: Refuse exhaustive checks that would run more weighted pairs than this.
MAX_RUNS = 100_000_000
#: Encode every input once (and index the codes) up to this many inputs.
ENCODE_ONCE_LIMIT = 1_000_000
#: Inputs per chunk while source classes are counted (a multiple of the recording batch).
STREAM_CHUNK = 1 << 18


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
    #: the first failure among changed and among unchanged pairs (keys "changed", "unchanged"; absent: none)
    first_failures: dict[str, tuple[int, tuple[int, ...], int, int]] = attrs.field(factory=dict)


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


def _class_keys(
    network: Network, model: CausalModel, site: Site, variable: str, inputs: Batch, batch_size: int
) -> np.ndarray:
    """Each input's class key: (hypothesis value of ``variable``, the site coordinates a source passes on)."""
    n = len(next(iter(inputs.values())))
    vectors = collect_batch(NativeBackend(), network, inputs, [site], batch_size)[site.location_key()]
    # projected pass by pass, as the vectors were recorded (a matmul's last bits depend on its row count)
    parts = [project(vectors[i : i + batch_size], site.subspace) for i in range(0, n, batch_size)]
    coords = torch.cat(parts).reshape(n, -1).detach().to("cpu", torch.float64).numpy()
    values = run(model, inputs)[variable].astype(np.float64)[:, None]
    return np.concatenate([values, coords], axis=1)


def source_classes(
    network: Network, model: CausalModel, site: Site, variable: str, inputs: Batch, *, batch_size: int = 4096
) -> SourceClasses:
    """Group ``inputs`` by (site coordinates, hypothesis value of ``variable``)."""
    keys = _class_keys(network, model, site, variable, inputs, batch_size)
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    order = np.argsort(first)
    return SourceClasses(variable, first[order], counts[order])


class _ClassTable:
    """Source classes met so far while streaming over the inputs in order: first index and size of each."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        self.ids: dict[bytes, int] = {}
        self.first: list[int] = []
        self.size: list[int] = []

    def __len__(self) -> int:
        return len(self.first)

    def add(self, chunk: tuple[np.ndarray, np.ndarray, np.ndarray], offset: int) -> None:
        """Merge one chunk's classes (``np.unique`` of its keys: rows, first index, counts)."""
        unique, first, counts = chunk
        unique = np.ascontiguousarray(unique + 0.0)  # -0.0 and 0.0 are one key, as np.unique has it
        for row, f, c in zip(unique, first.tolist(), counts.tolist()):
            key = row.tobytes()
            j = self.ids.get(key)
            if j is None:
                self.ids[key] = len(self.first)
                self.first.append(offset + f)
                self.size.append(c)
            else:
                self.size[j] += c

    def classes(self) -> SourceClasses:
        first, size = np.asarray(self.first, dtype=np.int64), np.asarray(self.size, dtype=np.int64)
        order = np.argsort(first)
        return SourceClasses(self.variable, first[order], size[order])


def _chunks(n: int, batch_size: int, largest: int) -> list[tuple[int, int]]:
    """``[start, stop)`` spans covering ``0..n``: one pass, then doubling up to ``largest``, all on pass boundaries."""
    spans, start, size = [], 0, batch_size
    while start < n:
        spans.append((start, min(n, start + size)))
        start += size
        size = min(2 * size, largest)
    return spans


def _too_many(model: CausalModel, variables: Sequence[str], runs: int, *, at_least: bool) -> DomainTooLargeError:
    return DomainTooLargeError(
        f"{model.name}: an exhaustive check of {'+'.join(variables)} needs {'at least ' if at_least else ''}{runs:,} runs "
        f"(more than the limit MAX_RUNS = {MAX_RUNS:,}); use mode='sample' (--mode sample), "
        "or check fewer variables together (sets=...)"
    )


def check_space(model: CausalModel, sets: Sequence[Sequence[str]]) -> int:
    """The input space's size, counted arithmetically; refuse at once what no class count could make fit.

    Every set needs at least one run per base (each variable has at least one
    source class), so a space of more than :data:`MAX_RUNS` inputs is refused
    before any input is built or any network runs.
    """
    n = model.input_space_size
    if n > MAX_RUNS and sets:
        raise _too_many(model, sets[0], n, at_least=True)
    if n > MAX_ENUMERATION:
        raise DomainTooLargeError(
            f"{model.name}: the input space has {n:,} assignments, more than the enumeration limit "
            f"{MAX_ENUMERATION:,}; use mode='sample' (--mode sample)"
        )
    return n


def count_source_classes(
    network: Network,
    model: CausalModel,
    sites: Mapping[str, Site],
    sets: Sequence[Sequence[str]],
    *,
    batch_size: int = 4096,
    chunk: int = STREAM_CHUNK,
) -> dict[str, SourceClasses]:
    """The source classes of every variable in ``sets``, streaming over the inputs ``chunk`` at a time.

    The same classes as :func:`source_classes` over every input (the same
    passes run: chunks start on pass boundaries), but the inputs are built
    chunk by chunk from their indices and never all at once: one pass first,
    then chunks doubling up to ``chunk`` inputs.  Classes only grow as inputs
    stream by, so after each chunk ``n x`` the product of the class counts met
    so far bounds each set's runs from below: as soon as one set's bound
    passes :data:`MAX_RUNS` the check is refused
    (:class:`~causalabs.errors.DomainTooLargeError` naming the set and the
    limit), after a chunk rather than after the whole space.
    """
    n = check_space(model, sets)
    chunk = max(batch_size, chunk - chunk % batch_size)
    used = list(dict.fromkeys(v for vs in sets for v in vs))
    tables = {v: _ClassTable(v) for v in used}
    for start, stop in _chunks(n, batch_size, chunk):
        rows = enumerate_rows(model, start, stop)
        found = {}
        for v in used:
            keys = _class_keys(network, model, sites[v], v, rows, batch_size)
            found[v] = np.unique(keys, axis=0, return_index=True, return_counts=True)
        for vs in sets:  # a variable has at least as many classes as it had, or as this chunk alone holds
            bound = n * math.prod(max(len(tables[v]), len(found[v][0])) for v in vs)
            if bound > MAX_RUNS:
                raise _too_many(model, vs, bound, at_least=(start, stop) != (0, n))
        for v in used:
            tables[v].add(found[v], start)
    return {v: t.classes() for v, t in tables.items()}


def check_runs(model: CausalModel, n: int, classes: dict[str, SourceClasses], variables: Sequence[str]) -> int:
    """The runs an exhaustive check of ``variables`` needs (bases x source-class combinations); raise above MAX_RUNS."""
    runs = n * math.prod(len(classes[v].size) for v in variables)
    if runs > MAX_RUNS:
        raise _too_many(model, variables, runs, at_least=False)
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
    bases: tuple[int, int] | None = None,
) -> SetResult:
    """Every base against every combination of source classes, weighted by class sizes.

    Runs are built and checked ``chunk`` at a time (whole bases per chunk, in
    order), so the first failure found is still the smallest.  ``bases``
    (``[start, stop)``) checks only those bases: the results of spans that
    cover every base, merged by :func:`merge_results`, are the whole set's.
    """
    n = len(next(iter(inputs.values())))
    lo, hi = (0, n) if bases is None else bases
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
    span = {k: col[lo:hi] for k, col in inputs.items()}
    encoded = encode(network, span) if hi - lo <= ENCODE_ONCE_LIMIT else None
    prefix = cached_prefix(backend, network, span, encoded, sites, batch_size) if encoded is not None else None
    # bases in chunks, so memory stays bounded by ``chunk`` runs whatever the domain
    per_chunk = max(1, chunk // len(combos))
    successes = total = changed_successes = changed_total = 0
    first = None
    firsts: dict[str, tuple[int, tuple[int, ...], int, int]] = {}
    for b0 in range(lo, hi, per_chunk):
        rows = np.arange(b0, min(hi, b0 + per_chunk))
        base_idx = np.repeat(rows, len(combos))
        cls_idx = np.tile(combo_idx, (len(rows), 1))  # class of each variable's source, per run
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
            input_rows=None if encoded is None else torch.as_tensor(base_idx - lo), prefix=prefix,
        )
        predicted = torch.cat(values).cpu().numpy().astype(np.int64)
        correct, changed = predicted == expected, expected != base_output
        successes += int(weights[correct].sum())
        total += int(weights.sum())
        changed_successes += int(weights[correct & changed].sum())
        changed_total += int(weights[changed].sum())
        for stratum, mask in (("changed", changed), ("unchanged", ~changed)):
            failing = np.flatnonzero(~correct & mask)
            if stratum not in firsts and failing.size:
                i = int(failing[0])
                firsts[stratum] = (
                    int(base_idx[i]),
                    tuple(int(src_idx[v][i]) for v in variables),
                    int(expected[i]),
                    int(predicted[i]),
                )
        if first is None and firsts:
            first = min(firsts.values(), key=lambda f: (f[0], f[1]))  # runs are in (base, source class) order
    return SetResult(
        variables=tuple(variables),
        successes=successes,
        total=total,
        changed_successes=changed_successes,
        changed_total=changed_total,
        first_failure=first,
        first_failures=firsts,
    )


def merge_results(parts: Sequence[SetResult]) -> SetResult:
    """One set's result from the results of its base spans, given in base order (counts add up; the first
    failure is the first span's that has one)."""
    firsts: dict[str, tuple[int, tuple[int, ...], int, int]] = {}
    for p in parts:
        for stratum, f in p.first_failures.items():
            firsts.setdefault(stratum, f)
    return SetResult(
        variables=parts[0].variables,
        successes=sum(p.successes for p in parts),
        total=sum(p.total for p in parts),
        changed_successes=sum(p.changed_successes for p in parts),
        changed_total=sum(p.changed_total for p in parts),
        first_failure=next((p.first_failure for p in parts if p.first_failure is not None), None),
        first_failures=firsts,
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
