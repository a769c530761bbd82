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
site), one final patched pass: ``claimed + 1`` at most, copies of shared
nodes included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

from causalabs.backends.hooks import StopForward, edit_hooks
from causalabs.backends.native import (
    NativeBackend,
    _check_positions,
    _check_range,
    _place,
    _pos_bounds,
    mix,
    select,
)
from causalabs.engine.prefixes import DEFAULT_MEMORY
from causalabs.errors import (
    ScrubError,
    SiteError,
    UnmatchedValueError,
)
from causalabs.network.alignment import Alignment
from causalabs.network.network import Decoded, Network, encode, take_rows
from causalabs.network.sites import (
    Site,
    check_disjoint,
    check_featurizer_width,
    positions_tensor,
    resolve_module,
)
from causalabs.scm.semantics import as_batch, run
from causalabs.scm.space import check_admissible
from causalabs.scm.semantics import batch_size as rows_in
from causalabs.scrub.claims import Correspondence, check_order, correspondence
from causalabs.scrub.encoding import ROW, _take, encoded_once
from causalabs.scrub.plan import ScrubPlan
from causalabs.scrub.result import ScrubResult, label_losses, summarize
from causalabs.scrub.sampling import AgreeingSampler
from causalabs.scrub.suffix_pass import FinalPass, final_pass

Batch = dict[str, np.ndarray]


def _rows(inputs: Batch, idx: np.ndarray, columns: bool) -> Batch:
    """The batch of table rows ``idx``: only the row-index column when nothing needs the others."""
    if not columns and ROW in inputs:
        return {ROW: idx}
    return _take(inputs, idx)


def _write_rows(
    x: torch.Tensor, s: Site, rows: torch.Tensor, pos: torch.Tensor | None, src: torch.Tensor
) -> torch.Tensor:
    """``x`` with ``s``'s subspace on rows ``rows`` taken from ``src`` (other rows untouched, out of place)."""
    _check_positions(s, pos, x)
    if pos is not None:
        _check_range(s, _pos_bounds(s, pos), x.shape[1])
    check_featurizer_width(s, x.shape[-1])
    part = x.index_select(0, rows)
    h = select(part, pos)
    if h.shape != src.shape:
        raise SiteError(
            f"site {s.name}: source vectors of shape {tuple(src.shape)} do not fit the base's {tuple(h.shape)}"
        )
    return x.index_copy(0, rows, _place(part, pos, mix(h, src, s.subspace)))


def _record_level(
    backend: NativeBackend,
    network: Network,
    plan: ScrubPlan,
    level: Sequence[int],
    base: Batch,
    values: dict[int, torch.Tensor],
    b: int,
) -> None:
    """One patched pass for all nodes of ``level`` (their bases stacked, ``b`` rows each) into ``values``.

    Rows ``[j*b, (j+1)*b)`` belong to node ``level[j]``: they get that node's
    children's values written and give its site's vector.  A site every
    node of the level patches goes through ``backend.patch`` with the
    children's values concatenated; a site only some nodes patch is written
    on their rows alone by a hook of ours, so the other rows keep their own
    values exactly.  The pass stops once every node's site is recorded.
    """
    nodes = plan.nodes
    n = len(level) * b
    device = network.device
    # per site (copies of a shared node share its Site object): for each level slot, its child
    by_site: dict[Site, dict[int, int]] = {}
    for j, i in enumerate(level):
        for c in nodes[i].children:
            by_site.setdefault(plan.site(c), {})[j] = c
    patches: list[tuple[Site, torch.Tensor]] = []
    partial: list[tuple[Site, torch.Tensor, torch.Tensor | None, torch.Tensor]] = []
    for s, kids in by_site.items():
        if len(kids) == len(level):  # every node patches it: one source tensor over all rows
            srcs = [values[kids[j]] for j in range(len(level))]
            patches.append((s, srcs[0] if len(srcs) == 1 else torch.cat(srcs)))
        else:
            slots = sorted(kids)
            rows = torch.cat([torch.arange(j * b, (j + 1) * b) for j in slots]).to(device)
            pos = positions_tensor(s, base, n)
            pos = None if pos is None else pos.to(device).index_select(0, rows)
            partial.append((s, rows, pos, torch.cat([values[kids[j]] for j in slots])))
    # recording: per (module, io), the level slots whose site is there
    wanted: dict[tuple[str, str], list[tuple[int, Site, torch.Tensor | None]]] = {}
    for j, i in enumerate(level):
        s = plan.site(i)
        pos = positions_tensor(s, {k: v[j * b : (j + 1) * b] for k, v in base.items()}, b)
        wanted.setdefault((s.module, s.io), []).append((j, s, None if pos is None else pos.to(device)))
    got: dict[int, torch.Tensor] = {}
    edits = []
    for (path, io), items in wanted.items():
        module = resolve_module(network.module, path, network=network.name)

        def record(x: torch.Tensor, items: list[Any] = items) -> torch.Tensor:
            d = x.detach()
            for j, _, pos in items:
                part = d[j * b : (j + 1) * b]
                got[j] = select(part, pos) if pos is not None else part.clone()
            if len(got) == len(level):
                raise StopForward
            return x

        edits.append((module, io, f"{path}.{io}", record))
    by_module: dict[tuple[str, str], list[Any]] = {}
    for item in partial:
        by_module.setdefault((item[0].module, item[0].io), []).append(item)
    for (path, io), items in by_module.items():
        module = resolve_module(network.module, path, network=network.name)

        def write(x: torch.Tensor, items: list[Any] = items) -> torch.Tensor:
            for s, rows, pos, src in items:
                x = _write_rows(x, s, rows, pos, src)
            return x

        edits.append((module, io, f"{path}.{io}", write))
    if partial:  # each node's own children must not overlap (other rows' sites may)
        for i in level:
            check_disjoint([plan.site(c) for c in nodes[i].children])
    with torch.no_grad(), edit_hooks(edits), contextlib.suppress(StopForward):
        backend.patch(network, base, patches)
    for j, i in enumerate(level):
        if j not in got:
            raise ScrubError(f"site {plan.site(i).name}: the module never ran in {network.name}'s forward pass")
        values[i] = got[j]


def scrubbed_outputs(
    network: Network,
    plan: ScrubPlan,
    sampler: AgreeingSampler,
    inputs: Batch,
    refs: np.ndarray,
    rng: np.random.Generator,
    backend: NativeBackend,
    final: FinalPass | None = None,
) -> Any:
    """The network's raw output under scrubbing for reference rows ``refs`` (indices into the sampler's table).

    ``final``: cached prefixes for the final pass (:mod:`causalabs.scrub.suffix_pass`), which then runs
    only the layers after its sites; leaves at that location read their vectors from it.
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
    cached = [i for i in plan.leaves if final is not None and final.covers(plan.site(i))]
    for i in cached:  # leaves at the final pass's location: read from its cached tensors
        values[i] = final.vectors(network, plan.site(i), _rows(inputs, bases[i], plan.columns), bases[i])  # type: ignore[union-attr]
    leaves = [i for i in plan.leaves if i not in cached]
    if leaves:  # all other height-0 tree nodes share one recording pass
        idx = np.concatenate([bases[i] for i in leaves])
        acts = backend.collect(network, _rows(inputs, idx, plan.columns), [plan.site(i) for i in leaves])
        for j, i in enumerate(leaves):
            values[i] = acts[plan.site(i).location_key()][j * b : (j + 1) * b]
    for level in plan.levels:  # all inner nodes of one height share one patched pass
        base = _rows(inputs, np.concatenate([bases[i] for i in level]), plan.columns)
        _record_level(backend, network, plan, level, base, values, b)
    patches = [(plan.site(c), values[c]) for c in nodes[0].children]
    base = _rows(inputs, bases[0], plan.columns)
    if final is not None:
        return final.run(network, base, bases[0], patches)
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

    The final pass runs on cached prefixes where a checked suffix applies
    (:mod:`causalabs.scrub.suffix_pass`; ``memory`` bounds the bytes
    recorded); ``suffix=False`` keeps full patched passes.
    ``ScrubResult.execution`` says which ran, and why not the suffix.
    """
    if batch_size < 1:
        raise ScrubError(f"scrub: batch_size must be at least 1, got {batch_size}")
    if references is None and n < 1:
        raise ScrubError(f"scrub: n must be at least 1, got {n}")
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
    final = final_pass(network, fast, fast_table, plan, n_data, backend, batch_size=batch_size, memory=memory) if suffix else None
    execution = "suffix" if isinstance(final, FinalPass) else "patch" if final is None else f"patch: {final}"
    outs: list[tuple[np.ndarray, np.ndarray]] = []
    for s in range(0, len(refs), batch_size):
        chunk = refs[s : s + batch_size]
        raw = scrubbed_outputs(
            fast, plan, sampler, fast_table, chunk, rng, backend, final if isinstance(final, FinalPass) else None
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
        execution=execution,
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
