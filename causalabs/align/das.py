"""Distributed alignment search (DAS; Geiger et al. 2023) by interchange-intervention training.

An orthogonal featurizer is learned at one location of a frozen network so
that rotated coordinates ``[0:k1]`` carry the first variable, ``[k1:k1+k2]``
the second, and so on: the loss is the cross-entropy of the network's output
under the interchange against the hypothesis' counterfactual output.

Cost per step: the network is frozen, so every distinct source input's
vector at the location is computed once before training, base inputs are
encoded once and counterfactual targets turned into class indices once;
each step is one patched base pass (gradients flow only into the
featurizer) and the orthonormal basis is computed once per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from torch.nn.utils import parametrize

from causalabs.align.cached import CachedBases, patched_output, record_bases
from causalabs.align.rotation import LearnedRotation
from causalabs.align.settings import DAS_SETTINGS
from causalabs.align.stopping import HeldOut, Stopper, Training, holdout_split
from causalabs.backends.native import NativeBackend
from causalabs.data.ops import stack_rows
from causalabs.engine.collect import collect_distinct
from causalabs.errors import AlignmentError, DatasetError, NetworkError
from causalabs.network.alignment import Alignment
from causalabs.network.featurizers import Rotation
from causalabs.network.network import Network, encode
from causalabs.network.sites import Site, Subspace

Batch = dict[str, np.ndarray]

@attrs.frozen(eq=False)
class _Prepared:
    dataset: Any
    intervened: tuple[str, ...]
    vectors: torch.Tensor  # (U, [P,] D) distinct source vectors at the location
    index: torch.Tensor  # (len(intervened), n) rows of `vectors` per variable and pair
    inputs: Any  # every base row, encoded once, on the network's device
    expected: torch.Tensor  # (n,) counterfactual outputs, on the network's device
    cached: CachedBases | None = None  # the bases' tensors at the location, where a suffix applies


@attrs.frozen(eq=False)
class DASResult:
    """A fitted DAS alignment: the sites, the learned basis and the training curve."""

    alignment: Alignment
    basis: torch.Tensor  # width x sum(k), columns in variable order
    dims: dict[str, tuple[int, int]]
    location: Site
    losses: list[float]
    seed: int
    data_digests: tuple[str, ...]
    training: Training | None = None  # every epoch's loss and held-out score, the epoch kept, why it stopped
    #: how a training step ran: "mlp-tail" (the hand-derived MLP tail), "suffix-local" (a causal decoder's
    #: positions from the patch on), "suffix" (the layers after the site) or "full" (the whole network)
    execution: str = "full"


def _location(site: Site) -> Site:
    return Site(site.module, site.io, site.positions)


def _prepare(
    backend: NativeBackend, network: Network, location: Site, dataset: Any, batch_size: int, suffix: bool = True,
    local: bool = True,
) -> _Prepared:
    intervened = tuple(dataset.intervened)
    names = list(dataset.base)
    n = len(dataset.expected)
    if n == 0:
        raise DatasetError("DAS: a training dataset is empty")
    rows = np.concatenate([stack_rows(dataset.sources[v], names) for v in intervened])
    store, inverse = collect_distinct(backend, network, rows, names, [location], batch_size)
    vectors = store[location.location_key()]
    index = torch.as_tensor(inverse.reshape(len(intervened), n), device=vectors.device)
    inputs = encode(network, {k: np.asarray(v) for k, v in dataset.base.items()})
    expected = torch.tensor(np.asarray(dataset.expected), device=network.device)
    cached = record_bases(backend, network, location, dataset.base, inputs, batch_size=batch_size, local=local) if suffix else None
    return _Prepared(dataset, intervened, vectors, index, inputs, expected, cached)


def _span(classes: Sequence[int]) -> str:
    shown = [str(c) for c in classes]
    return ", ".join(shown) if len(shown) <= 8 else f"{', '.join(shown[:3])}, ..., {', '.join(shown[-2:])}"


def _class_index(classes: Sequence[int], expected: torch.Tensor) -> torch.Tensor:
    table = torch.as_tensor(list(classes), device=expected.device)
    match = table[None, :] == expected[:, None]
    if not bool(match.any(-1).all()):
        bad = expected[~match.any(-1)][0].item()
        raise AlignmentError(
            f"DAS: counterfactual output {bad} is not among the decoder's {len(classes)} classes ({_span(classes)})"
        )
    return match.float().argmax(-1)


def fit_das(
    network: Network,
    location: Site,
    dims: Mapping[Any, int],
    train: Sequence[Any],
    *,
    epochs: int = DAS_SETTINGS.epochs,
    batch_size: int = DAS_SETTINGS.batch_size,
    lr: float = DAS_SETTINGS.lr,
    patience: int | None = DAS_SETTINGS.patience,
    holdout: float = DAS_SETTINGS.holdout,
    min_delta: float = DAS_SETTINGS.min_delta,
    seed: int = 0,
    low_rank: bool = True,
    progress: Callable[[int, int, float], None] | None = None,
    fast_mlp: bool | None = None,
    suffix: bool = True,
    local: bool = True,
) -> DASResult:
    """Learn an orthogonal featurizer at ``location`` aligning each variable to ``dims[var]`` coordinates.

    ``train`` is a list of counterfactual datasets (for example one
    intervening on ``left``, one on ``right``, one on both); every batch is
    drawn from one of them.  Coordinates are assigned in the order of
    ``dims``.  Training stops when the held-out pairs (``holdout`` of each
    dataset, split off by a seeded permutation) have not improved for
    ``patience`` epochs, or at ``epochs`` (a cap), and keeps the best
    epoch's rotation (:mod:`causalabs.align.stopping`; ``result.training``
    says how it went).  ``patience=None`` runs exactly ``epochs`` epochs on
    every pair and keeps the last.  Defaults: :data:`causalabs.align.settings.DAS_SETTINGS`.
    ``low_rank`` (default) learns only the ``sum(dims)``
    directions an interchange reads (a ``width x k`` orthonormal basis);
    ``low_rank=False`` learns the full ``width x width`` rotation, whose
    extra columns no interchange uses.  ``fast_mlp``: train with the
    hand-derived gradient of :mod:`causalabs.align.mlp_tail` (an
    ``nn.Sequential`` whose layers after the site are Linear/ReLU and whose
    decoder scores the raw output): the same loss, batches and updates
    without autograd, equal up to float rounding.  ``None`` (default) uses
    it wherever it applies, ``True`` insists (``AlignmentError`` where it
    does not apply), ``False`` always uses autograd.  ``suffix`` (default):
    where a checked suffix exists at the location, the bases' tensors there
    are recorded once for the whole fit and a step runs only the layers after
    the site (:mod:`causalabs.align.cached`); ``False`` runs the whole network
    every step.  ``local`` (default): at fixed token positions of a causal
    decoder (after the first), a step runs the suffix only at the positions
    from the first patched one on (earlier keys and values, and any logits
    read there, from the bases' recorded pass); ``False`` runs the suffix at
    every position.  Deterministic for a given seed on CPU.
    """
    if not train:
        raise DatasetError("DAS: no training datasets given")
    dims_ = {getattr(k, "name", k): int(v) for k, v in dims.items()}
    for v, k in dims_.items():
        if k <= 0:
            raise AlignmentError(f"DAS: variable {v!r} needs a positive number of dimensions, got {k}")
    for ds in train:
        for v in ds.intervened:
            if v not in dims_:
                raise AlignmentError(f"DAS: a training dataset intervenes on {v!r}, which has no dims")
    _check_settings("DAS", epochs, batch_size, lr)
    torch.manual_seed(seed)
    backend = NativeBackend()
    loc = _location(location)
    for ds in train:
        if len(ds.expected) == 0:
            raise DatasetError("DAS: a training dataset is empty")
    fit_sets, held_sets = (list(train), []) if patience is None else holdout_split("DAS", train, holdout, seed)
    prepared = [_prepare(backend, network, loc, ds, 256, suffix, local) for ds in fit_sets]
    held = [_prepare(backend, network, loc, ds, 256, suffix, local) for ds in held_sets]
    width = int(prepared[0].vectors.shape[-1])
    total = sum(dims_.values())
    if total > width:
        raise AlignmentError(
            f"DAS: {total} dimensions requested ({', '.join(f'{v}={k}' for v, k in dims_.items())}) "
            f"but site {loc.name} has width {width}"
        )
    if not any(bool((np.asarray(p.dataset.expected) != np.asarray(p.dataset.base_output)).any()) for p in prepared):
        raise DatasetError("DAS: no training pair changes the output; the alignment would be unidentifiable")
    # Only the sum(dims) directions an interchange reads are learned (the low-rank form) unless
    # low_rank=False asks for the full width x width rotation: both give the same interventions.
    rot = LearnedRotation(width, total if low_rank else width, seed=seed).to(network.device)
    spans: dict[str, tuple[int, int]] = {}
    start = 0
    for v, k in dims_.items():
        spans[v] = (start, start + k)
        start += k
    sites = {v: Site(loc.module, loc.io, loc.positions, Subspace(featurizer=rot, dims=spans[v])) for v in dims_}
    stopper = Stopper(list(rot.parameters()), epochs, patience, min_delta)

    def after_epoch(epoch: int, loss: float) -> bool:
        score = heldout_score(backend, network, held, sites, "DAS") if held else None
        stop = stopper.step(epoch, loss, score)
        if progress is not None:
            progress(epoch, epochs, loss)
        return stop

    from causalabs.align.mlp_tail import fast_path_fits, tail_layers, train_mlp_tail

    tail = None if fast_mlp is False else tail_layers(network, loc)
    if tail is not None and not fast_path_fits(prepared, rot):
        tail = None
    if tail is not None:
        train_mlp_tail(
            network, tail, prepared, loc, rot, spans, schedule(_sizes(prepared), epochs, batch_size, seed),
            lr=lr, class_index=_class_index, after_epoch=after_epoch,
        )
    elif fast_mlp:
        raise AlignmentError(
            f"DAS fast_mlp: {network.name} at {loc.name} is not an nn.Sequential site in float32 followed only by "
            "Linear/ReLU layers with a decoder that scores the raw output, or its training data's site vectors "
            "would not fit in memory; use fast_mlp=False"
        )
    else:
        opt = torch.optim.Adam(rot.parameters(), lr=lr)
        train_interchange(
            network, prepared, sites, opt, epochs=epochs, batch_size=batch_size, seed=seed, label="DAS",
            after_epoch=after_epoch,
        )
    training = stopper.finish()
    basis = rot.frozen()
    fixed = Rotation(basis, check=False)
    final = {v: Site(loc.module, loc.io, loc.positions, Subspace(featurizer=fixed, dims=spans[v])) for v in dims_}
    info = {"method": "das", "seed": seed, "dims": dict(dims_), "training": training.to_dict()}
    return DASResult(
        alignment=Alignment(final, info=info),
        basis=basis.cpu(),
        dims=spans,
        location=loc,
        losses=training.losses,
        seed=seed,
        data_digests=tuple(str(getattr(ds, "digest", "")) for ds in train),
        training=training,
        execution="mlp-tail" if tail is not None else step_path(prepared),
    )


def step_path(prepared: Sequence[_Prepared]) -> str:
    """How a training step over ``prepared`` runs: "suffix-local", "suffix" or "full" (comma-separated where
    the training sets differ, for instance one too large to cache)."""
    kinds = {"full" if p.cached is None else "suffix-local" if p.cached.local is not None else "suffix" for p in prepared}
    return ", ".join(sorted(kinds))


def _check_settings(label: str, epochs: int, batch_size: int, lr: float) -> None:
    if epochs < 1:
        raise AlignmentError(f"{label}: epochs must be at least 1, got {epochs}")
    if batch_size < 1:
        raise AlignmentError(f"{label}: batch_size must be at least 1, got {batch_size}")
    if not lr > 0:
        raise AlignmentError(f"{label}: the learning rate must be positive, got {lr}")


@torch.no_grad()
def heldout_score(
    backend: NativeBackend, network: Network, prepared: Sequence[_Prepared], sites: Mapping[str, Site], label: str,
    chunk: int = 1024,
) -> HeldOut:
    """IIA and summed cross-entropy of the expected output on the held-out pairs, under ``sites``' featurizers."""
    correct, pairs = [], []
    loss = 0.0
    with parametrize.cached():
        for p in prepared:
            n, right = len(p.expected), 0
            for start in range(0, n, chunk):
                rows = torch.arange(start, min(n, start + chunk), device=p.vectors.device)
                idx = rows.cpu().numpy()
                patches = [
                    (sites[v], p.vectors.index_select(0, p.index[i].index_select(0, rows)))
                    for i, v in enumerate(p.intervened)
                ]
                base = {k: np.asarray(v)[idx] for k, v in p.dataset.base.items()}
                out = patched_output(backend, network, p.cached, base, patches, p.inputs, rows, grad=False)
                dec = network.decode(out)
                if dec.scores is None or dec.classes is None:
                    raise AlignmentError(f"{label}: {network.name}'s decode gives no scores to train on")
                expected = p.expected.index_select(0, rows)
                right += int((dec.values.to(expected.device) == expected).sum())
                target = _class_index(dec.classes, expected)
                loss += float(torch.nn.functional.cross_entropy(dec.scores.float(), target, reduction="sum"))
            correct.append(right)
            pairs.append(n)
    return HeldOut(tuple(correct), tuple(pairs), loss, tuple("+".join(p.intervened) for p in prepared))


def _sizes(prepared: Sequence[_Prepared]) -> list[int]:
    return [len(p.dataset.expected) for p in prepared]


def schedule(sizes: Sequence[int], epochs: int, batch_size: int, seed: int) -> Iterator[list[tuple[int, np.ndarray]]]:
    """Per epoch, the ``(dataset, rows)`` batches of a training run over datasets of ``sizes`` rows, in a seeded order.

    Every batch comes from one dataset; each epoch permutes every dataset's
    rows and the order of all batches.  Both training loops (autograd and
    :mod:`causalabs.align.mlp_tail`) read it, so they see the same batches.
    """
    rng = np.random.default_rng(seed)
    slots = [(d, i) for d, n in enumerate(sizes) for i in range(0, n, batch_size)]
    for _ in range(epochs):
        perms = [rng.permutation(n) for n in sizes]
        order = rng.permutation(len(slots))
        yield [(slots[j][0], perms[slots[j][0]][slots[j][1] : slots[j][1] + batch_size]) for j in order]


def train_interchange(
    network: Network,
    prepared: Sequence[_Prepared],
    sites: Mapping[str, Site],
    opt: torch.optim.Optimizer,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    label: str,
    extra_loss: Callable[[], torch.Tensor] | None = None,
    before_step: Callable[[int], None] | None = None,
    after_epoch: Callable[[int, float], bool | None] | None = None,
) -> list[float]:
    """Interchange-intervention training of the featurizers behind ``sites``; the mean loss per epoch.

    The network is frozen for the duration (and restored after, also on
    error); each batch comes from one prepared dataset, in a seeded order;
    the loss is the cross-entropy of the network's scores under the
    interchange against the counterfactual output, plus ``extra_loss()``.
    ``after_epoch(epoch, loss)`` runs after each epoch; a true answer stops
    training there.
    """
    backend = NativeBackend()
    params = list(network.module.parameters())
    was = [param.requires_grad for param in params]
    for param in params:
        param.requires_grad_(False)
    losses: list[float] = []
    step = 0
    targets: list[torch.Tensor | None] = [None] * len(prepared)  # class indices, once per dataset
    try:
        for epoch, batches in enumerate(schedule(_sizes(prepared), epochs, batch_size, seed)):
            total_loss, count = torch.zeros((), device=network.device), 0
            for d, idx in batches:
                if before_step is not None:
                    before_step(step)
                step += 1
                p = prepared[d]
                tidx = torch.as_tensor(idx, device=p.vectors.device)
                base = {k: np.asarray(v)[idx] for k, v in p.dataset.base.items()}  # positions may read it
                with parametrize.cached():
                    patches = [
                        (sites[v], p.vectors.index_select(0, p.index[i].index_select(0, tidx)))
                        for i, v in enumerate(p.intervened)
                    ]
                    out = patched_output(backend, network, p.cached, base, patches, p.inputs, tidx, grad=True)
                    dec = network.decode(out)
                    if dec.scores is None or dec.classes is None:
                        raise AlignmentError(f"{label}: {network.name}'s decode gives no scores to train on")
                    if not dec.scores.requires_grad:
                        raise NetworkError(
                            f"{label}: no gradient reaches {network.name}'s scores from "
                            f"{', '.join(sorted({f'{s.module}.{s.io}' for s in sites.values()}))} (the forward or decode after "
                            "the site detaches or thresholds); DAS trains through the network: search with "
                            "neurons or pca instead, or keep the part after the site differentiable"
                        )
                    target = targets[d]
                    if target is None:
                        target = targets[d] = _class_index(dec.classes, p.expected)
                    loss = torch.nn.functional.cross_entropy(dec.scores.float(), target.index_select(0, tidx))
                    if extra_loss is not None:
                        loss = loss + extra_loss()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total_loss = total_loss + loss.detach() * len(idx)
                count += len(idx)
            losses.append(float(total_loss) / max(count, 1))
            if after_epoch is not None and after_epoch(epoch + 1, losses[-1]):
                break
    finally:
        for param, w in zip(params, was):
            param.requires_grad_(w)
    return losses
