"""Run a counterfactual dataset through a network under an alignment.

For every pair (base, sources) the network runs on the base with each
intervened variable's site set to its value on that variable's source; the
decoded output is compared with the hypothesis' counterfactual output.

The path follows what the backend declares (its
:class:`~causalabs.backends.Capabilities`): with ``collect`` and ``patch``
(the native backend) every distinct source input in the whole dataset is run
once, only up to its site, and its vectors are reused by every pair that
needs them, each pair then costing one patched base pass; otherwise the
backend's ``interchange`` runs batch by batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.backends import Interchanges, Patches, RunsSuffix, collector, get_backend, patcher, suffix_runner
from causalabs.data.ops import stack_rows
from causalabs.engine.collect import collect_batch, rows_per_pass
from causalabs.engine.distinct import DistinctInputs
from causalabs.engine.prefixes import DEFAULT_HOST_MEMORY, DEFAULT_MEMORY, plain_suffix, record_rows, run_on_prefixes
from causalabs.engine.prefixes_local import run_local
from causalabs.engine.readout import readings
from causalabs.errors import AlignmentError, DatasetError, NonFiniteError
from causalabs.executor.progress import count_pairs
from causalabs.network.alignment import Alignment
from causalabs.network.network import Decoded, Network, take_rows
from causalabs.network.sites import Site, check_disjoint
from causalabs.network.suffix import Suffix

Batch = dict[str, np.ndarray]


@attrs.frozen(eq=False)
class PairResults:
    """Per-pair outcome of an interchange evaluation (CPU numpy arrays of length n)."""

    intervened: tuple[str, ...]
    predicted: np.ndarray  # network's decoded counterfactual output
    expected: np.ndarray  # hypothesis' counterfactual output
    base_output: np.ndarray  # hypothesis' output on the base, no intervention
    prob_expected: np.ndarray | None  # softmax probability of the expected value, if scores exist
    exhaustive: bool  # the pairs are every pair of a finite domain
    dataset_digest: str | None = None
    #: how the pairs ran: "suffix" (cached prefixes, one suffix pass per pair),
    #: "suffix-local" (a causal decoder's positions from the patch on only),
    #: "patch" (one full patched pass per pair), "interchange" (the backend's
    #: interchange, batch by batch); after "patch" a reason may follow why the
    #: suffix path did not apply ("patch: <reason>"), after "suffix" why the
    #: position-local one did not, for a decoder it supports ("suffix: <reason>").
    execution: str = "patch"
    #: ``evaluate_pairs(logits=True)``: float64 (n, 3) per pair of the patched run: the decoder's score
    #: (logit) of the expected value, its score of the base output, and the log of its normaliser
    #: (:func:`causalabs.engine.readout.readings`); NaN where a value is not among the decoder's classes
    logits: np.ndarray | None = None

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.expected

    @property
    def changed(self) -> np.ndarray:
        """Pairs where the intervention should change the hypothesis' output."""
        return self.expected != self.base_output

    def __len__(self) -> int:
        return int(self.predicted.shape[0])


def _prob_of(decoded: Decoded, expected: torch.Tensor) -> torch.Tensor | None:
    """Softmax probability of the expected value (0 where it is not among the classes)."""
    if decoded.scores is None or decoded.classes is None:
        return None
    classes = torch.tensor(decoded.classes, device=expected.device)
    order = torch.argsort(classes)
    sorted_classes = classes[order]
    pos = torch.searchsorted(sorted_classes, expected).clamp(max=len(classes) - 1)
    found = sorted_classes[pos] == expected
    col = order[pos]
    scores = decoded.scores.float()
    p = (scores.gather(1, col[:, None]).squeeze(1) - scores.logsumexp(-1)).exp()
    return torch.where(found, p, torch.zeros_like(p))


def _soft(dec: Decoded, expected: torch.Tensor, base: torch.Tensor | None) -> torch.Tensor | None:
    """P(expected) (n,), or with ``base`` P(expected) and the readings of the two values (n, 4)."""
    prob = _prob_of(dec, expected)
    if base is None or prob is None:
        return prob
    return torch.cat([prob.double()[:, None], readings(dec, expected, base)], dim=1)


def _slice(batch: Batch, start: int, stop: int) -> Batch:
    return {k: v[start:stop] for k, v in batch.items()}


def _self_sourced(base: Batch, sources: Sequence[Batch], names: Sequence[str]) -> np.ndarray:
    """Pairs whose every source is the base input; they keep the base's own vectors (bitwise)."""
    if names and all(np.shape(base[k]) == (1,) for k in names):  # one pair: compare scalars
        return np.array([all(bool(src[k][0] == base[k][0]) for src in sources for k in names)])
    b = stack_rows(base, names)
    same = np.ones(b.shape[0], dtype=bool)
    for src in sources:
        same &= (stack_rows(src, names) == b).all(axis=1)
    return same


def _overwrites(patches: Sequence[tuple[Site, torch.Tensor]], suffix: Suffix) -> bool:
    """One patch, of the whole tensor at the suffix's location (no positions, no subspace): each pair's
    tensor there is its source's, and the base's prefix need not run."""
    if len(patches) != 1:
        return False
    s, _ = patches[0]
    return s.positions is None and s.subspace.is_all and (s.module, s.io) == (suffix.module, suffix.io)


def run_patched(
    network: Network,
    be: Patches,
    base: Batch,
    sources: Sequence[Batch],
    sites: Sequence[Site],
    vectors: Sequence[torch.Tensor],
    index: torch.Tensor,
    *,
    batch_size: int,
    expected: torch.Tensor | None = None,
    base_output: torch.Tensor | None = None,
    inputs: Any = None,
    input_rows: torch.Tensor | None = None,
    prefix: tuple[RunsSuffix, Suffix, torch.Tensor | None] | None = None,
    same: np.ndarray | None = None,
) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
    """Patched base passes, ``batch_size`` pairs at a time: decoded values (and P(expected) if asked; with
    ``base_output`` too, rows of P(expected) and :func:`~causalabs.engine.readout.readings`).

    Pair ``p`` writes ``vectors[i][index[i, p]]`` into ``sites[i]``;
    ``sources[i]`` are the inputs those vectors came from (pairs whose every
    source is the base keep the base's own vectors, bitwise).  ``inputs``:
    encoded inputs, base row ``p`` being row ``input_rows[p]`` of them (row
    ``p`` without ``input_rows``), so bases are not encoded again per pass.
    ``prefix=(runner, suffix, acts)``: ``acts`` holds every row of
    ``inputs``' tensor at the suffix's location (every site must be there);
    each pass then runs only the suffix (:meth:`RunsSuffix.patch_suffix`).
    With ``acts`` None each pass runs the suffix's plain prefix first
    (:attr:`~causalabs.network.suffix.Suffix.prefix`): a full pass without hooks;
    where one patch overwrites the whole tensor there and no pair keeps its
    own, the bases' prefixes are skipped (the source tensors are the patched ones).
    ``same``: which pairs are self-sourced, when the caller knows already.
    """
    n = len(next(iter(base.values())))
    batch_size = rows_per_pass(batch_size)
    names = list(base)
    predicted: list[torch.Tensor] = []
    probs: list[torch.Tensor | None] = []
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        patches = [(s, vectors[i].index_select(0, index[i, start:stop])) for i, s in enumerate(sites)]
        chunk = base if start == 0 and stop == n else _slice(base, start, stop)
        mine = same[start:stop] if same is not None else _self_sourced(chunk, [_slice(src, start, stop) for src in sources], names)
        keep = torch.from_numpy(mine) if mine.any() else None
        encoded = None
        if inputs is not None:
            rows = torch.arange(start, stop) if input_rows is None else input_rows[start:stop]
            encoded = take_rows(inputs, rows.to(network.device))
        try:
            if prefix is not None and encoded is not None:
                runner, suffix, acts = prefix
                if acts is None and keep is None and _overwrites(patches, suffix):
                    h = patches[0][1]  # the pairs' source tensors: a base's own would be overwritten whole
                elif acts is None:  # the suffix's plain prefix, on this batch
                    with torch.no_grad():
                        h = suffix.prefix(encoded)  # type: ignore[misc]
                else:  # the recorded tensors of these bases (``rows``, as encoded above), from the host if spilled
                    h = acts.index_select(0, rows.to(acts.device)).to(network.device)
                out = runner.patch_suffix(network, suffix, h, chunk, patches, inputs=encoded, keep=keep)
            else:
                out = be.patch(network, chunk, patches, keep=keep, inputs=encoded)
            dec = network.decode(out)
        except NonFiniteError as exc:  # the plain forward was finite (checked on load): name the patched sites
            raise NonFiniteError(f"{exc}, with {', '.join(s.name for s in sites)} patched") from None
        predicted.append(dec.values)
        probs.append(None if expected is None else _soft(
            dec, expected[start:stop], None if base_output is None else base_output[start:stop]))
        count_pairs(stop - start)
    return predicted, probs


def evaluate_pairs(
    network: Network,
    alignment: Alignment,
    dataset: Any,
    *,
    backend: str | Interchanges = "native",
    batch_size: int = 256,
    exhaustive: bool | None = None,
    soft: bool = True,
    suffix: bool = True,
    memory: int = DEFAULT_MEMORY,
    logits: bool = False,
    host_memory: int = DEFAULT_HOST_MEMORY,
) -> PairResults:
    """Run every pair of ``dataset`` (a :class:`~causalabs.data.CounterfactualDataset`).

    ``soft=False`` skips the probability of the expected value (``prob_expected``
    is then None), which saves a softmax over every class on every pair.
    ``backend``: a name or a backend; its declared capabilities choose the path.
    ``suffix=False`` keeps one full patched pass per pair even where a checked
    suffix exists (see :mod:`causalabs.engine.prefixes`); ``memory`` bounds
    the bytes of recorded activations held at once on that path, on the
    network's device; on an accelerator, activations beyond it are held in
    host memory up to ``host_memory`` bytes (each batch's rows moved back as
    it runs) before the path records them again by chunks.
    ``PairResults.execution`` says which path ran.  ``logits=True`` also reads, on every patched run, the
    decoder's scores of the expected value and of the base output (``PairResults.logits``; None when the
    decoder gives no scores), for the LM metrics (:mod:`causalabs.metrics.lm`).
    """
    be = get_backend(backend)
    col, pat = collector(be), patcher(be)
    runner = suffix_runner(be) if suffix else None
    intervened = tuple(dataset.intervened)
    for v in intervened:
        if v not in alignment.sites:
            raise AlignmentError(
                f"the dataset intervenes on {v!r} but the alignment has no site for it "
                f"(it aligns {', '.join(alignment.sites) or 'nothing'})"
            )
    sites: list[Site] = [alignment.sites[v] for v in intervened]
    check_disjoint(sites)
    n = len(dataset.expected)
    if n == 0:
        raise DatasetError("the counterfactual dataset is empty")
    device = network.device
    soft = soft or logits
    # a copy: dataset arrays are read-only, and torch warns about sharing them; read by the soft metrics only
    expected_all = torch.tensor(np.asarray(dataset.expected, dtype=np.int64), device=device) if soft else torch.empty(0)
    base_all = torch.tensor(np.asarray(dataset.base_output, dtype=np.int64), device=device) if logits else None
    predicted: list[torch.Tensor] = []
    probs: list[torch.Tensor | None] = []
    execution = "patch" if pat is not None and col is not None else "interchange"
    srcs = [dataset.sources[v] for v in intervened]
    distinct = DistinctInputs(network, dataset.base, srcs) if runner is not None or pat is not None else None
    if runner is not None and distinct is not None:
        def finish(dec: Decoded, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
            count_pairs(len(idx))  # a suffix path calls this once per batch, after any fallback
            if not soft:
                return dec.values, None
            base = None if base_all is None else base_all.index_select(0, idx)
            return dec.values, _soft(dec, expected_all.index_select(0, idx), base)

        batch_size = rows_per_pass(batch_size)  # a --batch-size cap holds on this path too
        kw = {"batch_size": batch_size, "finish": finish, "memory": memory, "host_memory": host_memory}
        got = run_local(network, runner, distinct, dataset.base, sites, **kw)  # type: ignore[arg-type]
        label = "suffix-local"
        if isinstance(got, str):  # why not position-local ("" for a network that never is)
            label = f"suffix: {got}" if got else "suffix"
            got = run_on_prefixes(network, runner, distinct, dataset.base, sites, **kw)  # type: ignore[arg-type]
        if isinstance(got, str):
            execution = f"patch: {got}" if pat is not None else f"interchange: {got}"
        else:
            execution = label
            predicted, probs, covered = got
            order = torch.cat(covered)
            predicted = [_unpermute(torch.cat(predicted), order)]
            probs = [None] if any(p is None for p in probs) else [_unpermute(torch.cat(probs), order)]  # type: ignore[arg-type]
    if execution.startswith("suffix"):
        pass
    elif col is not None and pat is not None and distinct is not None:
        # every distinct source once (in row_ids order, as collect_distinct runs them), up to its site
        is_source = distinct.source_mask()
        plain = plain_suffix(network, runner, sites, distinct)
        kw: dict[str, Any] = {}
        if plain is None:
            vectors = collect_batch(col, network, distinct.batch(is_source), sites, batch_size)
        else:  # the same passes without hooks: prefix, patch, suffix (the distinct inputs encoded once)
            vectors = record_rows(runner, network, distinct, is_source, sites, rows_per_pass(batch_size), plain.prefix)  # type: ignore[arg-type]
            kw = {"inputs": distinct.inputs, "input_rows": distinct.ids_on(device)[0], "prefix": (runner, plain, None)}
        at = is_source.cumsum(dtype=np.int64) - 1  # a distinct row's place among the sources
        inverse = torch.as_tensor(at[distinct.ids[1:]], device=device)
        predicted, probs = run_patched(
            network, pat, dataset.base, srcs, sites,
            [vectors[s.location_key()] for s in sites], inverse,
            batch_size=batch_size, expected=expected_all if soft else None, base_output=base_all,
            same=distinct.self_sourced(), **kw,
        )
    else:
        batch_size = rows_per_pass(batch_size)
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            interventions = [(s, _slice(dataset.sources[v], start, stop)) for v, s in zip(intervened, sites)]
            dec = network.decode(be.interchange(network, _slice(dataset.base, start, stop), interventions))
            predicted.append(dec.values)
            probs.append(_soft(dec, expected_all[start:stop], None if base_all is None else base_all[start:stop])
                         if soft else None)
            count_pairs(stop - start)
    pred = np.asarray((predicted[0] if len(predicted) == 1 else torch.cat(predicted)).cpu().numpy(), dtype=np.int64)
    given = [p for p in probs if p is not None]
    prob = None if len(given) < len(probs) else torch.cat(given).cpu().numpy()
    read = None
    if prob is not None and base_all is not None:  # rows of P(expected) and the readings
        prob, read = prob[:, 0].astype(np.float32), prob[:, 1:]
    if exhaustive is None:
        exhaustive = getattr(dataset, "mode", "") == "exhaustive"
    return PairResults(
        intervened=intervened,
        predicted=pred,
        expected=np.asarray(dataset.expected, dtype=np.int64),
        base_output=np.asarray(dataset.base_output, dtype=np.int64),
        prob_expected=prob,
        exhaustive=bool(exhaustive),
        dataset_digest=getattr(dataset, "digest", None),
        execution=execution,
        logits=read,
    )


def _unpermute(values: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """``values[j]`` belongs to pair ``order[j]``: back in pair order."""
    out = torch.empty_like(values)
    out[order] = values
    return out
