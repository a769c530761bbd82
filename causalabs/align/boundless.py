"""Boundless DAS (Wu et al. 2023, "Interpretability at scale"): learn the rotation *and* how many dims.

Plain DAS (:func:`causalabs.align.das.fit_das`) needs the number of rotated
coordinates of each variable up front.  Boundless DAS learns it: next to an
orthogonal featurizer (:class:`~causalabs.align.rotation.LearnedRotation`)
each variable ``v`` owns a soft interval ``[start_v, end_v)`` of rotated
coordinates.  Intervals are consecutive by construction (``start_0 = 0``,
``start_{v+1} = end_v``, ``end_v = start_v + width_v`` with a learned
positive ``width_v``), so they never overlap.  Coordinate ``i`` (centre
``c = i + 1/2``) belongs to ``v`` with the soft mask::

    mask_v[i] = sigmoid((c - start_v) / T) * sigmoid((end_v - c) / T)

and an interchange on ``v`` is ``h' = h + (((s - h) U) * mask_v) U^T``.  The
temperature ``T`` is annealed geometrically from ``temperature[0]`` to
``temperature[1]`` over the training steps, so the masks harden; the loss
is the interchange cross-entropy plus ``penalty * sum_v width_v / coords``,
which favours narrow intervals.

At the end the learned ``k_v`` is the number of coordinates whose mask (at
the final temperature) exceeds 1/2; these coordinates are contiguous, and
the returned hard :class:`~causalabs.network.Alignment` puts ``v`` on them
through a fixed :class:`~causalabs.network.Rotation`.  A variable whose mask
never exceeds 1/2 gets its single best unclaimed coordinate (``k_v = 1``)
and is listed in :attr:`BoundlessResult.collapsed`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from causalabs.align.das import _check_settings, _location, _prepare, heldout_score, step_path, train_interchange
from causalabs.align.rotation import LearnedRotation
from causalabs.align.settings import BOUNDARY_LR, DAS_SETTINGS
from causalabs.align.stopping import Stopper, Training, holdout_split
from causalabs.backends.native import NativeBackend
from causalabs.errors import AlignmentError, DatasetError
from causalabs.network.alignment import Alignment
from causalabs.network.featurizers import Featurizer, Rotation
from causalabs.network.network import Network
from causalabs.network.sites import Site, Subspace


@attrs.frozen(eq=False)
class BoundlessResult:
    """A fitted Boundless DAS alignment.

    ``alignment`` is the hard alignment (a fixed Rotation, ``dims[v]`` per
    variable), ready for :func:`~causalabs.engine.evaluate_pairs`; ``k`` the
    learned number of coordinates per variable; ``boundaries`` the learned
    soft interval ``(start, end)`` per variable, in coordinate units;
    ``basis`` the learned ``width x coords`` orthonormal basis; ``losses``
    the mean training loss (interchange cross-entropy plus penalty) per
    epoch; ``temperatures`` the temperature at the end of each epoch;
    ``training`` every epoch's loss and held-out score (of the hard
    alignment), the epoch kept and why training stopped.
    """

    alignment: Alignment
    k: dict[str, int]
    dims: dict[str, tuple[int, int]]
    boundaries: dict[str, tuple[float, float]]
    basis: torch.Tensor
    location: Site
    losses: list[float]
    temperatures: list[float]
    seed: int
    data_digests: tuple[str, ...]
    collapsed: tuple[str, ...] = ()
    training: Training | None = None
    execution: str = "full"  # how a training step ran: "suffix-local", "suffix" or "full" (as DASResult's)


class _SoftBoundaries(Featurizer):
    """Training-time featurizer: "coordinate" ``j`` stands for variable ``j``'s soft interval.

    Sites use ``dims=(j, j + 1)``, so the engine's disjointness check sees
    one slot per variable; :meth:`interchange` applies that variable's mask
    in the rotated space of ``rotation``.
    """

    centres: torch.Tensor

    def __init__(self, rotation: LearnedRotation, variables: int, init_width: float) -> None:
        super().__init__()
        self.rotation = rotation
        self.width = rotation.width
        self.coords = variables
        self.n_coords = rotation.k
        # width_v = softplus(raw_v); start at init_width
        raw = math.log(math.expm1(init_width))
        self.raw_widths = nn.Parameter(torch.full((variables,), raw, dtype=torch.float32))
        self.register_buffer("centres", torch.arange(rotation.k, dtype=torch.float32) + 0.5)
        self.temperature = 1.0

    def widths(self) -> torch.Tensor:
        return nn.functional.softplus(self.raw_widths)

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(starts, ends) of every variable's interval."""
        w = self.widths()
        ends = torch.cumsum(w, 0)
        return ends - w, ends

    def masks(self, temperature: float | None = None) -> torch.Tensor:
        """``variables x coords`` soft masks at ``temperature`` (default: the current one)."""
        t = self.temperature if temperature is None else temperature
        starts, ends = self.bounds()
        c = self.centres[None, :]
        return torch.sigmoid((c - starts[:, None]) / t) * torch.sigmoid((ends[:, None] - c) / t)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # pragma: no cover - never used as a map
        raise NotImplementedError("_SoftBoundaries is only used through interchange()")

    def interchange(self, h: torch.Tensor, s: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        u = self.rotation.directions.to(device=h.device, dtype=h.dtype)
        mask = self.masks()[start].to(device=h.device, dtype=h.dtype)
        return h + (((s - h) @ u) * mask) @ u.T


def _hard_dims(masks: torch.Tensor, names: Sequence[str]) -> tuple[dict[str, tuple[int, int]], tuple[str, ...]]:
    """Contiguous coordinates with mask > 1/2 per variable; a collapsed variable gets its best free one."""
    above = masks > 0.5
    claimed = above.any(0)
    dims: dict[str, tuple[int, int]] = {}
    collapsed = []
    for j, v in enumerate(names):
        idx = torch.nonzero(above[j]).flatten()
        if len(idx):
            dims[v] = (int(idx[0]), int(idx[-1]) + 1)
            continue
        score = masks[j].masked_fill(claimed, -1.0)
        best = int(torch.argmax(score))
        if bool(claimed[best]):
            raise AlignmentError(f"Boundless DAS: no free rotated coordinate left for variable {v!r}")
        claimed[best] = True
        dims[v] = (best, best + 1)
        collapsed.append(v)
    return dims, tuple(collapsed)


def fit_boundless(
    network: Network,
    location: Site,
    variables: Sequence[Any],
    train: Sequence[Any],
    *,
    epochs: int = DAS_SETTINGS.epochs,
    batch_size: int = DAS_SETTINGS.batch_size,
    lr: float = DAS_SETTINGS.lr,
    boundary_lr: float = BOUNDARY_LR,
    patience: int | None = DAS_SETTINGS.patience,
    holdout: float = DAS_SETTINGS.holdout,
    min_delta: float = DAS_SETTINGS.min_delta,
    seed: int = 0,
    temperature: tuple[float, float] = (2.0, 0.05),
    penalty: float = 0.3,
    init_width: float | None = None,
    coords: int | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    suffix: bool = True,
) -> BoundlessResult:
    """Learn a rotation at ``location`` and a soft interval of rotated coordinates per variable.

    ``variables`` fixes the order of the intervals; ``train`` is a list of
    counterfactual datasets as for :func:`~causalabs.align.das.fit_das`.
    ``temperature=(start, end)`` is annealed geometrically over all steps
    (both positive, ``start >= end``); ``penalty`` weighs the summed
    interval widths (as a fraction of ``coords``).  ``init_width`` is the
    starting width of each interval (default ``coords / (2 * len(variables))``).
    ``coords`` is how many rotated directions are learned (default: the
    site's width; pass less for wide sites).  ``epochs`` is a cap: as for
    :func:`~causalabs.align.das.fit_das`, training stops once the held-out
    pairs (``holdout`` of each dataset) have not improved for ``patience``
    epochs, judged on the hard alignment each epoch would give, and the best
    epoch is kept; the temperature is annealed over the cap.  ``suffix``: train on
    cached site activations where a checked suffix applies (as ``fit_das``).  Defaults:
    :data:`causalabs.align.settings.DAS_SETTINGS`, :data:`~causalabs.align.settings.BOUNDARY_LR`.  Deterministic for a
    seed on CPU.
    """
    if not train:
        raise DatasetError("Boundless DAS: no training datasets given")
    names = [getattr(v, "name", v) for v in variables]
    if not names:
        raise AlignmentError("Boundless DAS: no variables given")
    if len(set(names)) != len(names):
        raise AlignmentError(f"Boundless DAS: a variable is listed twice in {names}")
    for ds in train:
        for v in ds.intervened:
            if v not in names:
                raise AlignmentError(f"Boundless DAS: a training dataset intervenes on {v!r}, which is not among {names}")
    t0, t1 = (float(t) for t in temperature)
    if not (t0 > 0 and t1 > 0 and t0 >= t1):
        raise AlignmentError(f"Boundless DAS: temperature must be (start, end) with start >= end > 0, got {temperature}")
    if penalty < 0:
        raise AlignmentError(f"Boundless DAS: penalty must be >= 0, got {penalty}")
    _check_settings("Boundless DAS", epochs, batch_size, lr)
    for ds in train:
        if len(ds.expected) == 0:
            raise DatasetError("Boundless DAS: a training dataset is empty")
    torch.manual_seed(seed)
    backend = NativeBackend()
    loc = _location(location)
    fit_sets, held_sets = (list(train), []) if patience is None else holdout_split("Boundless DAS", train, holdout, seed)
    prepared = [_prepare(backend, network, loc, ds, 256, suffix) for ds in fit_sets]
    held = [_prepare(backend, network, loc, ds, 256, suffix) for ds in held_sets]
    width = int(prepared[0].vectors.shape[-1])
    n_coords = width if coords is None else int(coords)
    if not len(names) <= n_coords <= width:
        raise AlignmentError(
            f"Boundless DAS: coords={n_coords} must lie in [{len(names)}, {width}] for site {loc.name} "
            f"(width {width}, {len(names)} variables)"
        )
    if not any(bool((np.asarray(p.dataset.expected) != np.asarray(p.dataset.base_output)).any()) for p in prepared):
        raise DatasetError("Boundless DAS: no training pair changes the output; the alignment would be unidentifiable")
    w0 = n_coords / (2 * len(names)) if init_width is None else float(init_width)
    if not 0 < w0 <= n_coords:
        raise AlignmentError(f"Boundless DAS: init_width must lie in (0, {n_coords}], got {w0}")
    rot = LearnedRotation(width, n_coords, seed=seed).to(network.device)
    soft = _SoftBoundaries(rot, len(names), w0).to(network.device)
    sites = {v: Site(loc.module, loc.io, loc.positions, Subspace(featurizer=soft, dims=(j, j + 1))) for j, v in enumerate(names)}

    opt = torch.optim.Adam([{"params": rot.parameters(), "lr": lr}, {"params": [soft.raw_widths], "lr": boundary_lr}])
    batches = sum(-(-len(p.dataset.expected) // batch_size) for p in prepared)
    steps = max(epochs * batches - 1, 1)
    temps: list[float] = []

    def anneal(step: int) -> None:
        soft.temperature = t0 * (t1 / t0) ** (min(step, steps) / steps)

    stopper = Stopper([*rot.parameters(), soft.raw_widths], epochs, patience, min_delta)

    def hard_sites() -> dict[str, Site]:
        with torch.no_grad():
            dims, _ = _hard_dims(soft.masks(t1).cpu(), names)
        fixed = Rotation(rot.frozen(), check=False)
        return {v: Site(loc.module, loc.io, loc.positions, Subspace(featurizer=fixed, dims=dims[v])) for v in names}

    def epoch_done(epoch: int, loss: float) -> bool:
        temps.append(soft.temperature)
        score = heldout_score(backend, network, held, hard_sites(), "Boundless DAS") if held else None
        stop = stopper.step(epoch, loss, score)
        if progress is not None:
            progress(epoch, epochs, loss)
        return stop

    train_interchange(
        network,
        prepared,
        sites,
        opt,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        label="Boundless DAS",
        extra_loss=lambda: penalty * soft.widths().sum() / n_coords,
        before_step=anneal,
        after_epoch=epoch_done,
    )
    training = stopper.finish()
    with torch.no_grad():
        masks = soft.masks(t1).cpu()
        starts, ends = soft.bounds()
    dims, collapsed = _hard_dims(masks, names)
    basis = rot.frozen()
    fixed = Rotation(basis, check=False)
    final = {v: Site(loc.module, loc.io, loc.positions, Subspace(featurizer=fixed, dims=dims[v])) for v in names}
    k = {v: b - a for v, (a, b) in dims.items()}
    info = {
        "method": "boundless_das", "seed": seed, "k": dict(k), "dims": {v: list(d) for v, d in dims.items()},
        "training": training.to_dict(),
    }
    return BoundlessResult(
        alignment=Alignment(final, info=info),
        k=k,
        dims=dims,
        boundaries={v: (float(starts[j]), float(ends[j])) for j, v in enumerate(names)},
        basis=basis.cpu(),
        location=loc,
        losses=training.losses,
        temperatures=temps,
        seed=seed,
        data_digests=tuple(str(getattr(ds, "digest", "")) for ds in train),
        collapsed=collapsed,
        training=training,
        execution=step_path(prepared),
    )
