"""Alignment sweeps: fit and score an alignment at every site of a grid, resumably.

A sweep runs one *method* (DAS with given dims, or full-site patching that
needs no training) at every location of a grid (module paths x token
positions; for an MLP, module paths only) and for every variable set, and
scores the result by held-out interchange-intervention accuracy with
intervals.  Each location's records go to one JSON file in ``out_dir``,
written atomically (temporary file in the same folder, then ``os.replace``),
so a killed sweep resumes where it stopped: a location whose file exists and
matches the run (hypothesis, network, method and its settings, seed,
variable sets, data digests) is read back instead of recomputed.

Every location is fitted with the same ``seed``, so a record does not
depend on the order or on which locations were computed in an earlier run.
See ``docs/sweeps.md``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union

import attrs

from causalabs.align.store import network_fingerprint, save_alignment
from causalabs.align.sweep_files import (
    FORMAT,
    alignment_path,
    complete_alignment,
    fingerprint,
    read_existing,
    remove_leftovers,
    slug,
)
from causalabs.align.sweep_methods import DAS, FullSite, SiteMethod
from causalabs.atomic import write_json_atomic
from causalabs.engine.evaluate import evaluate_pairs
from causalabs.errors import SweepError
from causalabs.executor import Executor, RunSummary, Task, make_executor
from causalabs.metrics.estimate import Estimate
from causalabs.metrics.accuracy import iia
from causalabs.metrics.lm import MetricEstimate, check_metric
from causalabs.align.heldout_metric import heldout_metric
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, shared_network
from causalabs.network.sites import Site
from causalabs.scm.semantics import model_of

__all__ = [
    "DAS", "FORMAT", "FullSite", "SiteMethod", "SweepRecord", "SweepResult", "VariableSets", "alignment_path", "grid",
    "sweep", "variable_sets",
]

VariableSets = Union[str, Sequence[Union[str, Sequence[str]]]]  # noqa: UP007 (a runtime alias)


def _estimate(d: Mapping[str, Any]) -> Estimate:
    return Estimate(**d)


@attrs.frozen
class SweepRecord:
    """Held-out IIA of one method at one location for one variable set."""

    site: str  # the location's Site.name
    module: str
    position: str | None  # "3", "3,4", a position function's name, or None (no positions)
    variables: tuple[str, ...]
    method: str
    k: int | None  # coordinates aligned to the variable set; None: every unit
    overall: Estimate
    changed: Estimate
    seed: int
    train_digests: tuple[str, ...]
    test_digests: tuple[str, ...]
    elapsed_s: float = attrs.field(eq=False)
    metric: MetricEstimate | None = None  # sweep(metric="logit-diff" | "prob"): that held-out metric

    @property
    def iia(self) -> float:
        return self.overall.value

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=True)
        d["variables"], d["train_digests"], d["test_digests"] = (
            list(self.variables), list(self.train_digests), list(self.test_digests)
        )
        if self.metric is None:  # the default sweep's records keep their keys
            del d["metric"]
        else:
            d["metric"] = self.metric.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SweepRecord:
        return cls(
            site=d["site"], module=d["module"], position=d["position"], variables=tuple(d["variables"]),
            method=d["method"], k=d["k"], overall=_estimate(d["overall"]), changed=_estimate(d["changed"]),
            seed=int(d["seed"]), train_digests=tuple(d["train_digests"]),
            test_digests=tuple(d["test_digests"]), elapsed_s=float(d["elapsed_s"]),
            metric=None if d.get("metric") is None else MetricEstimate.from_dict(d["metric"]),
        )


@attrs.frozen(repr=False)
class SweepResult:
    """Every record of a sweep, in grid order (location, then variable set)."""

    records: tuple[SweepRecord, ...]
    hypothesis: str
    method: str
    computed: tuple[str, ...]  # locations fitted in this call
    resumed: tuple[str, ...]  # locations read back from out_dir
    out_dir: Path | None = None
    run: RunSummary | None = attrs.field(default=None, eq=False)  # where the time went

    def __repr__(self) -> str:
        best = max(self.records, key=lambda r: r.overall.value, default=None)
        top = "" if best is None else f"; best IIA {best.overall.value:.4f} ({'+'.join(best.variables)} at {best.site})"
        of = f" for {self.hypothesis}" if self.hypothesis else ""
        return f"<SweepResult {self.method}{of}: {len(self.records)} records{top}>"

    def _repr_html_(self) -> str:
        """Jupyter's display: IIA by module x position (one panel per variable set) and the records."""
        from causalabs.align.display import repr_html

        return repr_html(self)

    def to_json_lines(self) -> str:
        return "".join(json.dumps(r.to_dict(), sort_keys=True) + "\n" for r in self.records)


def grid(
    modules: Sequence[str], positions: Sequence[Any] | None = None, *, io: Literal["output", "input"] = "output"
) -> list[Site]:
    """Locations ``modules x positions`` (module-major); ``positions=None``: one per module, no positions."""
    if not modules:
        raise SweepError("sweep grid: no modules given")
    if positions is not None and not len(positions):
        raise SweepError("sweep grid: positions is empty; pass None for sites without positions")
    pos: list[Any] = [None] if positions is None else list(positions)
    return [Site(m, io, p) for m in modules for p in pos]


def variable_sets(variables: VariableSets) -> list[tuple[str, ...]]:
    """Normalise ``"left"``, ``["left", "right"]`` or ``[["left", "right"], "left"]`` to tuples of names."""

    def name(x: Any) -> str:
        return str(getattr(x, "name", x))

    items: list[Any] = [variables] if isinstance(variables, str) else list(variables)
    out = [(name(v),) if isinstance(v, str) or hasattr(v, "name") else tuple(map(name, v)) for v in items]
    if not out or any(not s for s in out):
        raise SweepError(f"sweep: empty variable set in {variables!r}")
    return out


def _position_label(location: Site) -> str | None:
    p = location.positions
    if p is None:
        return None
    if callable(p):
        return str(getattr(p, "__name__", "fn"))
    return ",".join(map(str, p))


def _position_digest(location: Site) -> str | None:
    """A digest of a position function's code, defaults and closure: a changed function is a new site."""
    p = location.positions
    if not callable(p):
        return None
    code = getattr(p, "__code__", None)
    if code is None:  # a callable object: its class and state
        return hashlib.sha256(f"{type(p).__qualname__}|{vars(p) if hasattr(p, '__dict__') else p!r}".encode()).hexdigest()
    closure = [c.cell_contents for c in (getattr(p, "__closure__", None) or ())]
    parts = (code.co_code.hex(), repr(code.co_consts), repr(code.co_names), repr(getattr(p, "__defaults__", None)),
             repr(closure))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _method_info(method: Callable[..., Alignment]) -> tuple[str, dict[str, Any]]:
    name = getattr(method, "name", None) or getattr(method, "__qualname__", type(method).__name__)
    return str(name), dict(getattr(method, "config", {}) or {})


def _k(method: Any, variables: tuple[str, ...]) -> int | None:
    k = getattr(method, "k", None)
    return k(variables) if callable(k) else k


def _read_existing(path: Path, fp: str) -> list[SweepRecord] | None:
    """The records of a matching result file; None when it is absent, stale or unreadable."""
    records = read_existing(path, fp)
    if records is None:
        return None
    try:
        return [SweepRecord.from_dict(r) for r in records]
    except (KeyError, TypeError, ValueError) as exc:
        raise SweepError(f"sweep result file {path} matches this run but its records are malformed: {exc}") from exc


def _within(ds: Any, variables: tuple[str, ...]) -> bool:
    return set(ds.intervened) <= set(variables)


def fit_task(
    network: Network, location: Site, variables: tuple[str, ...], train: Sequence[Any],
    test: Sequence[Any], method: Any, name: str, seed: int, backend: str, metric: str = "iia",
) -> tuple[SweepRecord, Alignment]:
    """One task of a sweep: fit ``method`` at ``location`` for ``variables`` and score it on ``test``.

    ``train`` and ``test`` are the datasets within the variable set; ``seed``
    is the sweep's, the same for every task, so the result depends on the
    task's identity (location, variables) alone.
    """
    start = time.perf_counter()
    alignment = method(network, location, variables, train, seed)
    results: list[Any] = [evaluate_pairs(network, alignment, ds, backend=backend, logits=metric != "iia") for ds in test]
    report = iia(results)
    extra = None if metric == "iia" else heldout_metric(network, test, results, metric)
    record = SweepRecord(
        site=location.name, module=location.module, position=_position_label(location), variables=variables,
        method=name, k=_k(method, variables), overall=report.overall.overall, changed=report.overall.changed,
        seed=seed, train_digests=tuple(str(ds.digest) for ds in train),
        test_digests=tuple(str(ds.digest) for ds in test), elapsed_s=time.perf_counter() - start, metric=extra,
    )
    return record, alignment


def _alignment_info(extra: Mapping[str, Any], config: Mapping[str, Any], record: SweepRecord) -> dict[str, Any]:
    """What an alignment file of a sweep records: ``extra``, the method and its settings, the site, and the held-out IIA."""
    return {
        **extra,
        "method": record.method,
        "config": dict(config),
        "site": record.site,
        "variables": list(record.variables),
        "k": record.k,
        "seed": record.seed,
        "train_digests": list(record.train_digests),
    }


def _heldout(record: SweepRecord) -> dict[str, Any]:
    return {"heldout_iia": record.overall.to_dict(), "heldout_iia_changed": record.changed.to_dict()}


def _locations(sites: Any) -> list[Site]:
    """The sweep's locations from a list of sites or a ``(modules, positions)`` spec, checked."""
    if isinstance(sites, tuple) and len(sites) == 2 and not isinstance(sites[0], Site):
        if isinstance(sites[0], str):
            raise SweepError(f"sweep: sites {sites!r} is neither Site objects nor (modules, positions)")
        locations = grid(list(sites[0]), None if sites[1] is None else list(sites[1]))
    else:
        bad = [s for s in sites if not isinstance(s, Site)]
        if bad:
            raise SweepError(f"sweep: sites must be causalabs Site objects, got {bad[0]!r}")
        locations = [Site(s.module, s.io, s.positions) for s in sites]
    if not locations:
        raise SweepError("sweep: no sites given")
    seen: dict[str, str] = {}
    for loc in locations:
        name = slug(loc.name)
        if name in seen:
            what = "appears twice in the grid" if seen[name] == loc.name else f"has the file name of {seen[name]}"
            raise SweepError(f"sweep: site {loc.name} {what}")
        seen[name] = loc.name
    return locations


def sweep(
    network: Network,
    hypothesis: Any,
    sites: Sequence[Site] | tuple[Sequence[str], Sequence[Any] | None],
    variables: VariableSets,
    train: Sequence[Any],
    test: Sequence[Any],
    *,
    method: Callable[..., Alignment] | None = None,
    out_dir: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    backend: str = "native",
    alignments: bool | Mapping[str, Any] = False,
    executor: str | Executor = "local",
    ray_address: str | None = None,
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
    metric: str = "iia",
) -> SweepResult:
    """Fit ``method`` at every location and score it on ``test``; one record per (location, variable set).

    ``sites`` is a list of locations (their subspaces are ignored) or a grid
    spec ``(modules, positions)`` (see :func:`grid`).  For each variable set
    the method trains on the ``train`` datasets whose intervened variables
    lie within the set, and is scored by IIA pooled over such ``test``
    datasets (at least one is required).  ``method`` defaults to ``DAS()``
    (1 dim per variable); ``FullSite()`` patches the whole location.  With
    ``out_dir`` each location's records are written to
    ``out_dir/<site>.json`` as soon as it is done, and matching files are
    read back instead of recomputed.  ``alignments`` (with ``out_dir``; a
    mapping adds its entries to each file's info) also saves every fitted
    alignment to ``out_dir/alignments/<site>__<var+var>.json`` with its
    method, settings, seed, training digests and held-out IIA, before the
    site's result file: a resumed site's alignment files are complete.  A
    sweep into ``out_dir`` first removes the temporary files a killed run
    left for the files it writes.  ``progress`` shows a rich bar on a
    terminal: one bar of tasks (done, running, failed).

    Each (location, variable set) is one task, run by ``executor``
    (``"local"``, in this process, the default; ``"ray"``: Ray tasks on the
    cluster at ``ray_address``, each with ``cpus_per_task`` CPUs and
    ``gpus_per_task`` GPUs; see ``docs/scale.md``).  Results do not depend on
    the executor; only this process writes files, a site's once all its
    variable sets are done.  ``result.run`` says where the time went.
    ``metric`` (``"logit-diff"`` or ``"prob"``): each record also holds that held-out metric
    (``SweepRecord.metric``; :mod:`causalabs.metrics.lm`).
    """
    model = model_of(hypothesis)
    check_metric(metric)
    method_ = DAS() if method is None else method
    name, config = _method_info(method_)
    locations = _locations(sites)
    sets = variable_sets(variables)
    for ds in [*train, *test]:
        if ds.hypothesis != model.name:
            raise SweepError(f"sweep: a dataset was made for {ds.hypothesis!r}, not for {model.name!r}")
    for vs in sets:
        unknown = [v for v in vs if v not in model.variables]
        if unknown:
            raise SweepError(f"sweep: {model.name} has no variable {unknown[0]!r}")
        if not any(_within(ds, vs) for ds in test):
            raise SweepError(f"sweep: no test dataset intervenes within {'+'.join(vs)}")
    out = None if out_dir is None else Path(out_dir)
    if alignments is not False and out is None:
        raise SweepError("sweep: alignments=... saves alignment files into out_dir; give out_dir")
    extra: dict[str, Any] = dict(alignments) if isinstance(alignments, Mapping) else {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if alignments:
            (out / "alignments").mkdir(exist_ok=True)
        stems = [alignment_path(out, loc.name, vs).stem for loc in locations for vs in sets] if alignments else []
        remove_leftovers(out, [slug(loc.name) for loc in locations], stems)
    common = {
        "format": FORMAT, "hypothesis": model.name, **network_fingerprint(network), "method": name, "config": config,
        "seed": seed, "variables": [list(v) for v in sets], "backend": backend,
        "train": [str(ds.digest) for ds in train], "test": [str(ds.digest) for ds in test],
        **({} if metric == "iia" else {"metric": metric}),  # the default's fingerprints stay those of earlier runs
    }
    metas = {loc.name: {**common, "site": loc.name, "positions_digest": _position_digest(loc)} for loc in locations}
    done: dict[str, list[SweepRecord]] = {}
    resumed: list[str] = []
    for loc in locations:  # finished sites are read back, never recomputed
        path = None if out is None else out / f"{slug(loc.name)}.json"
        old = None if path is None else _read_existing(path, fingerprint(metas[loc.name]))
        if old is not None:
            if alignments and out is not None:  # files written before the held-out IIA was saved with them
                for r in old:
                    complete_alignment(alignment_path(out, r.site, r.variables), _alignment_info(extra, config, r), _heldout(r))
            done[loc.name] = old
            resumed.append(loc.name)
    tasks = [
        Task((loc.name, vs), fit_task, (loc, vs, [d for d in train if _within(d, vs)], [d for d in test if _within(d, vs)],
                                        method_, name, seed, backend, metric))
        for loc in locations if loc.name not in done for vs in sets
    ]
    fitted: dict[str, dict[tuple[str, ...], tuple[SweepRecord, Alignment]]] = {}

    def on_done(task: Task, value: tuple[SweepRecord, Alignment]) -> None:
        """Keep a task's result; when its site is complete, write the site's files (alignments first)."""
        site, vs = task.key
        fitted.setdefault(site, {})[vs] = value
        if len(fitted[site]) < len(sets):
            return
        new = [fitted[site][v][0] for v in sets]
        if out is not None:
            if alignments:
                for v in sets:
                    r, al = fitted[site][v]
                    save_alignment(al, alignment_path(out, r.site, r.variables), info={**_alignment_info(extra, config, r), **_heldout(r)})
            meta = metas[site]  # the site's commit point: after its alignment files
            write_json_atomic(out / f"{slug(site)}.json", {**meta, "fingerprint": fingerprint(meta), "records": [r.to_dict() for r in new]})
        done[site] = new

    runner = make_executor(executor, ray_address=ray_address, cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task)
    summary = runner.run(tasks, shared_network(network, common["weights_sha256"]), on_done, progress=progress, label="sweep")
    records = [r for loc in locations for r in done[loc.name]]
    computed = [loc.name for loc in locations if loc.name not in resumed]
    return SweepResult(tuple(records), model.name, name, tuple(computed), tuple(resumed), out, summary)
