"""Causal scrubbing (Chan et al., Redwood Research 2022), batched on the native backend.

What is implemented (see ``docs/scrubbing.md`` for the reasoning):

* The tree starts at a virtual top node whose input is the reference.  If
  the output variable is claimed, the top's only child is the output node
  and the final pass runs on a uniformly random input; otherwise the top
  *is* the output node: its children are the claimed nodes feeding it
  through unclaimed nodes, and its input key the input variables feeding it
  that way.
* Each claimed node ``n`` with parent-context input ``c`` gets an input
  ``x_n`` drawn uniformly from the dataset rows with ``n(x_n) == n(c)``.
  Its children get ``x_n`` as their context.
* The site value of ``n`` is computed in a pass on a *base* input drawn
  uniformly among dataset rows that agree with ``x_n`` on ``n``'s input key
  (uniform over the whole dataset when the key is empty), with the sites of
  ``n``'s children set to their own scrubbed values.  Everything the
  hypothesis does not claim -- unclaimed modules, the complement of a
  claimed subspace, input variables not feeding ``n`` -- therefore comes
  from that base, which agrees with the hypothesis only where it claims
  agreement.
* The output is the final pass on the top node's base with its children's
  sites patched.

A claimed node that feeds several claimed parents is copied once per path
(treeification): each copy gets its own draw and its own value, patched
into its own parent's pass.

Passes per batch of references: one ``collect`` for all tree nodes of
height 0 (their bases concatenated), one patched pass per greater height
shared by all tree nodes of that height (their bases concatenated, each
node's rows patched with its own children's values and recorded at its own
site; :mod:`causalabs.scrub.suffix_levels`), one final patched pass:
``claimed + 1`` at most, copies of shared nodes included.  Where the sites
a pass patches lie at one location with a checked suffix, the pass runs
only the layers after that location, on tensors recorded once per
distinct dataset input (:mod:`causalabs.scrub.suffix_pass`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import torch

from causalabs.backends.native import NativeBackend
from causalabs.engine.prefixes import DEFAULT_MEMORY
from causalabs.errors import ScrubError, UnmatchedValueError
from causalabs.network.alignment import Alignment
from causalabs.network.network import Decoded, Network, encode
from causalabs.network.sites import Site, bind_positions, bound_positions
from causalabs.scm.semantics import as_batch, run
from causalabs.scm.space import check_admissible
from causalabs.scm.semantics import batch_size as rows_in
from causalabs.scrub.claims import Correspondence, check_order, correspondence
from causalabs.scrub.encoding import ROW, _take, encoded_once
from causalabs.scrub.plan import ScrubPlan
from causalabs.scrub.result import ScrubResult, label_losses, summarize
from causalabs.scrub.sampling import AgreeingSampler
from causalabs.scrub.suffix_levels import ScrubPrefixes, record_level, scrub_prefixes

Batch = dict[str, np.ndarray]


def _rows(inputs: Batch, idx: np.ndarray, columns: bool) -> Batch:
    """The batch of table rows ``idx``: only the row-index column when nothing needs the others."""
    if not columns and ROW in inputs:
        return {ROW: idx}
    return _take(inputs, idx)


def scrubbed_outputs(
    network: Network,
    plan: ScrubPlan,
    sampler: AgreeingSampler,
    inputs: Batch,
    refs: np.ndarray,
    rng: np.random.Generator,
    backend: NativeBackend,
    prefixes: ScrubPrefixes | None = None,
) -> Any:
    """The network's raw output under scrubbing for reference rows ``refs`` (indices into the sampler's table).

    ``prefixes``: the passes that run on cached prefixes (:func:`~causalabs.scrub.suffix_levels.scrub_prefixes`):
    the final pass and inner levels there run only the layers after their children's sites, and leaves
    at a cached location read their vectors from the cache.
    """
    nodes = plan.nodes
    chosen: dict[int, np.ndarray] = {0: refs}  # a node's context until it is visited, then its own draw
    bases: dict[int, np.ndarray] = {}
    for i in [0, *range(len(nodes) - 1, 0, -1)]:  # parents before children
        if i:
            chosen[i] = sampler.sample((nodes[i].var,), chosen[i], rng)
        bases[i] = sampler.sample(nodes[i].key, chosen[i], rng)
        for c in nodes[i].children:
            chosen[c] = chosen[i]
    values: dict[int, torch.Tensor] = {}
    b = len(refs)
    cache = prefixes.cache if prefixes is not None else None
    cached = [i for i in plan.leaves if cache is not None and cache.covers(plan.site(i))]
    for i in cached:  # leaves at a cached location: read from its cached tensors
        values[i] = cache.vectors(network, plan.site(i), _rows(inputs, bases[i], plan.columns), bases[i])  # type: ignore[union-attr]
    leaves = [i for i in plan.leaves if i not in cached]
    if leaves:  # all other height-0 tree nodes share one recording pass
        idx = np.concatenate([bases[i] for i in leaves])
        acts = backend.collect(network, _rows(inputs, idx, plan.columns), [plan.site(i) for i in leaves])
        for j, i in enumerate(leaves):
            values[i] = acts[plan.site(i).location_key()][j * b : (j + 1) * b]
    for k, level in enumerate(plan.levels):  # all inner nodes of one height share one patched pass
        idx = np.concatenate([bases[i] for i in level])
        base = _rows(inputs, idx, plan.columns)
        on_prefix = prefixes.levels[k] if prefixes is not None else None
        if on_prefix is not None:
            on_prefix.run(network, plan, level, base, idx, values, b, backend)
        else:
            record_level(backend, network, plan, level, base, values, b)
    patches = [(plan.site(c), values[c]) for c in nodes[0].children]
    base = _rows(inputs, bases[0], plan.columns)
    if prefixes is not None and prefixes.final is not None:
        return prefixes.final.run(network, base, bases[0], patches)
    return backend.patch(network, base, patches)


def _forward(network: Network, batch: Batch) -> Decoded:
    with torch.no_grad():
        return network.decode(network.call(network.module, encode(network, batch)))


def scrub(
    network: Network,
    hypothesis: Any,
    alignment: Alignment | Mapping[str, Site] | Correspondence,
    inputs: Mapping[str, Any],
    *,
    references: Mapping[str, Any] | None = None,
    n: int = 1_000,
    seed: int = 0,
    batch_size: int = 1_024,
    on_missing: Literal["raise", "drop"] = "raise",
    confidence: float = 0.95,
    bootstrap: int = 2_000,
    loss: Literal["cross-entropy", "error"] = "cross-entropy",
    suffix: bool = True,
    memory: int = DEFAULT_MEMORY,
) -> ScrubResult:
    """Causal-scrub ``hypothesis`` on ``network`` under ``alignment`` over the dataset ``inputs``.

    ``inputs`` is the dataset every resampled input is drawn from (a batch
    of high-level inputs).  References are ``references`` if given, else
    ``n`` rows drawn uniformly (with replacement) from ``inputs``.  The loss
    of a reference is the cross-entropy, under the network's scores, of the
    hypothesis' output on that reference (``loss="error"``: 1 where the
    decoded output differs from it, else 0, for decoders without scores).

    A reference whose needed high-level value (of a top-level claimed node,
    or of the output's input key) no dataset row has is never matched to a
    row of another value: ``on_missing="raise"`` raises
    :class:`~causalabs.errors.UnmatchedValueError` naming the node and how
    many references are affected, ``"drop"`` leaves them out and counts them
    in ``ScrubResult.dropped``.  Same seed, same numbers to the bit (CPU).

    The final pass and the inner levels run on cached prefixes where a
    checked suffix applies (:mod:`causalabs.scrub.suffix_pass`,
    :mod:`causalabs.scrub.suffix_levels`; ``memory`` bounds the bytes
    recorded); ``suffix=False`` keeps full patched passes.
    ``ScrubResult.execution`` says which ran, and why not the suffix.
    """
    if batch_size < 1:
        raise ScrubError(f"scrub: batch_size must be at least 1, got {batch_size}")
    if references is None and n < 1:
        raise ScrubError(f"scrub: n must be at least 1, got {n}")
    if isinstance(alignment, Alignment):  # position names (``last``, ``slot:S``) bound to the network's template
        alignment = bind_positions(alignment, network)  # before batches become row gathers of the encoded table
    elif not isinstance(alignment, Correspondence):
        alignment = {
            k: attrs.evolve(s, positions=bound_positions(s, network)) if isinstance(s, Site) else s
            for k, s in alignment.items()
        }
    corr = alignment if isinstance(alignment, Correspondence) else correspondence(hypothesis, alignment)
    model = corr.model
    data = as_batch(model, dict(inputs))
    n_data = rows_in(data)
    rng = np.random.default_rng(seed)
    if references is None:
        refs_batch = _take(data, rng.integers(0, n_data, n)) if n_data else data
    else:
        refs_batch = as_batch(model, dict(references))
        check_admissible(model, refs_batch, "the references")
    table = {k: np.concatenate([data[k], refs_batch[k]]) for k in model.inputs}
    values = run(model, table)
    sampler = AgreeingSampler(model, values, n_data)
    check_order(corr, network, _take(data, np.arange(min(1, n_data))))
    plan = ScrubPlan(corr)
    refs = np.arange(n_data, n_data + rows_in(refs_batch))
    refs, dropped = _check_missing(sampler, plan, refs, on_missing)
    if not len(refs):
        raise ScrubError(f"{model.name}: no references left to scrub ({dropped} dropped)")
    labels = values[model.output][refs]
    backend = NativeBackend()
    fast, fast_table = encoded_once(network, table)
    prefixes = scrub_prefixes(network, fast, fast_table, plan, n_data, backend, batch_size=batch_size, memory=memory) if suffix else None
    outs: list[tuple[np.ndarray, np.ndarray]] = []
    for s in range(0, len(refs), batch_size):
        chunk = refs[s : s + batch_size]
        raw = scrubbed_outputs(
            fast, plan, sampler, fast_table, chunk, rng, backend, prefixes
        )
        outs.append(label_losses(network.decode(raw), labels[s : s + batch_size], where=model.name, loss=loss))
    rand_idx = rng.integers(0, n_data, len(refs))
    plain: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"original": [], "random": []}
    for s in range(0, len(refs), batch_size):
        part = labels[s : s + batch_size]
        for key, rows in (("original", refs), ("random", rand_idx)):
            decoded = _forward(fast, _take(fast_table, rows[s : s + batch_size]))
            plain[key].append(label_losses(decoded, part, where=model.name, loss=loss))
    scrubbed, original, random = (_join(x) for x in (outs, plain["original"], plain["random"]))
    return summarize(
        hypothesis=model.name,
        correspondence=corr.describe(),
        seed=seed,
        scrubbed=scrubbed,
        original=original,
        random=random,
        passes=plan.passes,
        dropped=dropped,
        confidence=confidence,
        bootstrap=bootstrap,
        execution="patch" if prefixes is None else prefixes.execution,
    )


def _join(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _check_missing(
    sampler: AgreeingSampler, plan: ScrubPlan, refs: np.ndarray, on_missing: str
) -> tuple[np.ndarray, int]:
    """References whose top-level draws have agreeing rows; deeper draws always do (a row agrees with itself)."""
    if on_missing not in ("raise", "drop"):
        raise ScrubError(f"scrub: on_missing must be 'raise' or 'drop', got {on_missing!r}")
    bad = np.zeros(len(refs), dtype=bool)
    reasons: list[str] = []
    top = plan.nodes[0]
    keys: Sequence[tuple[str, ...]] = [*((plan.nodes[c].var,) for c in top.children), top.key]
    for key in keys:
        miss = sampler.missing(key, refs)
        if miss.any():
            first = int(refs[miss][0])
            shown = ", ".join(f"{k}={int(sampler.values[k][first])}" for k in key)
            reasons.append(f"{int(miss.sum())} need ({shown}) or another value of {', '.join(key)}")
            bad |= miss
    if not bad.any():
        return refs, 0
    if on_missing == "raise":
        raise UnmatchedValueError(
            f"{sampler.model.name}: {int(bad.sum())} of {len(refs)} references need a high-level value that "
            f"no dataset input has ({'; '.join(reasons)}); pass on_missing='drop' to leave them out"
        )
    return refs[~bad], int(bad.sum())
