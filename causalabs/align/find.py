"""Find an alignment for a hypothesis: one search method, one site per variable, training data drawn here.

``find_alignment(H, net, "1", method="das", dims={"left": 8, "right": 8})``
fits every internal variable of ``H`` at module ``"1"`` jointly;
``sites={"left": "1", "right": "3"}`` fits each group of variables that
share a site together.  Training pairs come from the hypothesis (balanced
over the counterfactual output, or random), one dataset per variable and one
intervening on the whole group, with seeds that
:data:`TRAIN_SEED_OFFSET` keeps away from the verifier's sampling seeds.
The result is a plain :class:`~causalabs.network.alignment.Alignment` whose
``info`` says how it was found, ready for :func:`causalabs.verify`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from causalabs.align.settings import DAS_SETTINGS
from causalabs.align.sweep import DAS
from causalabs.align.store import network_fingerprint
from causalabs.errors import AlignmentError
from causalabs.executor import Executor, LocalExecutor, Shared, Task, make_executor
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, shared_network
from causalabs.network.site_names import parse_site
from causalabs.network.sites import Site
from causalabs.scm.semantics import model_of

METHODS = ("das", "boundless", "neurons", "pca")
DATA = ("balanced", "random")
#: Training datasets of :func:`find_alignment` use seeds ``seed + TRAIN_SEED_OFFSET + j``.
TRAIN_SEED_OFFSET = 7_919


class Baseline:
    """A baseline (``neurons``: greedy units, ``pca``, ``boundless``) as a sweep method."""

    def __init__(
        self,
        name: str,
        dims: Mapping[str, int],
        epochs: int = DAS_SETTINGS.epochs,
        lr: float = DAS_SETTINGS.lr,
        patience: int | None = DAS_SETTINGS.patience,
    ) -> None:
        if name not in ("neurons", "pca", "boundless"):
            raise AlignmentError(f"unknown baseline {name!r}; choose neurons, pca or boundless")
        self.name = name
        self.dims = dict(dims)
        self.epochs = epochs
        self.lr = lr
        self.patience = patience

    @property
    def config(self) -> dict[str, Any]:
        if self.name == "boundless":
            return {"epochs": self.epochs, "lr": self.lr, "patience": self.patience}
        cfg: dict[str, Any] = {"dims": dict(sorted(self.dims.items()))}
        if self.name == "pca":
            cfg["assign"] = "greedy"
        return cfg

    def k(self, variables: tuple[str, ...]) -> int | None:
        return None if self.name == "boundless" else sum(self.dims[v] for v in variables)

    def __call__(
        self, network: Network, location: Site, variables: tuple[str, ...], train: Sequence[Any], seed: int
    ) -> Alignment:
        from causalabs.align.baselines import neuron_greedy, pca_alignment

        dims = {v: self.dims[v] for v in variables}
        if self.name == "neurons":
            return neuron_greedy(network, location, dims, train).alignment
        if self.name == "pca":
            return pca_alignment(network, location, dims, train, assign="greedy").alignment
        from causalabs.align.boundless import fit_boundless

        return fit_boundless(
            network, location, list(variables), train, epochs=self.epochs, lr=self.lr, patience=self.patience, seed=seed
        ).alignment


def search_method(
    method: str,
    dims: Mapping[str, int],
    *,
    epochs: int = DAS_SETTINGS.epochs,
    lr: float = DAS_SETTINGS.lr,
    patience: int | None = DAS_SETTINGS.patience,
) -> Any:
    """The sweep method called ``method`` (das, boundless, neurons or pca) with ``dims`` per variable.

    ``epochs`` (a cap), ``lr`` and ``patience`` are DAS's and Boundless
    DAS's training settings (defaults: :data:`~causalabs.align.settings.DAS_SETTINGS`).
    """
    if method not in METHODS:
        raise AlignmentError(f"unknown search method {method!r}; choose one of {', '.join(METHODS)}")
    if epochs < 1:
        raise AlignmentError(f"search: epochs must be at least 1, got {epochs}")
    if not lr > 0:
        raise AlignmentError(f"search: the learning rate must be positive, got {lr}")
    if patience is not None and patience < 1:
        raise AlignmentError(f"search: patience must be at least 1, got {patience}")
    if method == "das":
        return DAS(dims=dict(dims), epochs=epochs, lr=lr, patience=patience)
    return Baseline(method, dims, epochs, lr, patience)


def training_sets(
    hypothesis: Any, sets: Sequence[tuple[str, ...]], n: int, seed: int, data: str = "balanced"
) -> list[Any]:
    """One counterfactual dataset of ``n`` pairs per variable set, seeds ``seed``, ``seed + 1``, ..."""
    from causalabs.data import balanced, random_pairs

    if data not in DATA:
        raise AlignmentError(f"unknown training data {data!r}; choose balanced or random")
    if n < 1:
        raise AlignmentError(f"search: need at least one training pair per variable set, got {n}")
    make = balanced if data == "balanced" else random_pairs
    return [make(hypothesis, list(vs), n, seed=seed + j) for j, vs in enumerate(sets)]


def _site_map(model: Any, sites: str | Mapping[Any, str]) -> dict[str, str]:
    internals = list(model.internals)
    if not internals:
        raise AlignmentError(f"{model.name} has no internal variable to align")
    if isinstance(sites, str):
        return {v: sites for v in internals}
    out = {str(getattr(k, "name", k)): str(m) for k, m in sites.items()}
    for v in out:
        if v not in internals:
            raise AlignmentError(
                f"search: {model.name} has no internal variable {v!r} (it has {', '.join(internals)})"
            )
    if not out:
        raise AlignmentError("search: no site given")
    return out


def find_alignment(
    hypothesis: Any,
    network: Network,
    sites: str | Mapping[Any, str],
    *,
    method: str = "das",
    dims: Mapping[Any, int] | None = None,
    samples: int = 512,
    epochs: int = DAS_SETTINGS.epochs,
    lr: float = DAS_SETTINGS.lr,
    patience: int | None = DAS_SETTINGS.patience,
    seed: int = 0,
    data: str = "balanced",
    executor: str | Executor = "local",
    ray_address: str | None = None,
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
) -> Alignment:
    """Search ``network`` for the hypothesis' variables at ``sites`` (a module path for all, or var -> module).

    ``dims`` gives each variable's number of coordinates (default 1; ignored
    by Boundless DAS, which learns it).  DAS and Boundless DAS train until
    held-out IIA stops improving (``patience`` epochs; ``epochs`` is a cap).
    The result's ``info["training"]`` lists each fit's training record
    (:meth:`causalabs.align.stopping.Training.to_dict`, with its site and
    variables) and ``info["converged"]`` is False when some fit reached the
    cap still improving.  Deterministic for a seed on CPU.  Each site's fit
    is one task of ``executor`` (``"local"``, the default, or ``"ray"``
    with ``ray_address``, ``cpus_per_task`` and ``gpus_per_task``; see
    ``docs/scale.md``): the same alignment either way.
    """
    model = model_of(hypothesis)
    where = _site_map(model, sites)
    dims_ = {v: 1 for v in where}
    for k, n in (dims or {}).items():
        name = str(getattr(k, "name", k))
        if name not in where:
            raise AlignmentError(f"search: dims for {name!r}, which is not searched (searching {', '.join(where)})")
        if int(n) < 1:
            raise AlignmentError(f"search: {name!r} needs a positive number of dimensions, got {n}")
        dims_[name] = int(n)
    fit = search_method(method, dims_, epochs=epochs, lr=lr, patience=patience)
    groups: dict[str, list[str]] = {}
    for v, module in where.items():
        location = parse_site(module, network)
        if not location.subspace.is_all:
            raise AlignmentError(
                f"search at {module}: a search fits directions in a whole activation; a head ([head H]) is an "
                "interchange of fixed units: put it in an alignment, or search at the attention output "
                "projection's input (PATH.input)"
            )
        groups.setdefault(module, []).append(v)
    found: dict[str, Site] = {}
    digests: list[str] = []
    training: list[dict[str, Any]] = []
    offset = seed + TRAIN_SEED_OFFSET
    tasks = []
    for module, group in groups.items():  # one task per site; its training seeds follow from its place in the map
        sets: list[tuple[str, ...]] = [(v,) for v in group] + ([tuple(group)] if len(group) > 1 else [])
        train = training_sets(hypothesis, sets, samples, offset, data)
        offset += len(sets)
        digests += [str(ds.digest) for ds in train]
        tasks.append(Task((module, tuple(group)), _fit_group, (fit, parse_site(module, network), tuple(group), train, seed)))
    fits: dict[tuple[Any, ...], Alignment] = {}
    runner = make_executor(executor, ray_address=ray_address, cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task)
    shared = Shared("network", value=network)
    if not isinstance(runner, LocalExecutor):
        shared = shared_network(network, network_fingerprint(network)["weights_sha256"])
    runner.run(tasks, shared, lambda t, a: fits.__setitem__(t.key, a), label="search")
    for module, group in groups.items():
        fitted = fits[(module, tuple(group))]
        found.update({v: fitted.sites[v] for v in group})
        if "training" in fitted.info:
            training.append({"site": module, "variables": list(group), **fitted.info["training"]})
    info = {
        "method": method,
        "config": fit.config,
        "sites": dict(where),
        "seed": seed,
        "samples": samples,
        "data": data,
        "train_digests": digests,
    }
    if training:
        info["training"] = training
        info["converged"] = converged(training)
    return Alignment(found, info=info)


def _fit_group(
    network: Network, fit: Any, site: Site, group: tuple[str, ...], train: Sequence[Any], seed: int
) -> Alignment:
    """One task of a search: fit the variables of ``group`` together at ``site``."""
    return fit(network, site, group, train, seed)


def converged(training: Sequence[Mapping[str, Any]]) -> bool | None:
    """False if some fit reached its epoch cap still improving, True if every fit converged, else None."""
    flags = [t.get("converged") for t in training]
    if any(f is False for f in flags):
        return False
    return True if flags and all(f is True for f in flags) else None


__all__ = [
    "DATA", "METHODS", "TRAIN_SEED_OFFSET", "Baseline", "converged", "find_alignment", "search_method", "training_sets",
]
