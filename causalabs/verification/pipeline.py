"""``verify``: one pipeline from a claim (hypothesis, network, alignment, threshold, confidence) to a :class:`Report`.

Modes:

* ``exhaustive``: every (base, source) pair of a finite input space for every
  intervened variable set, exactly (see :mod:`causalabs.verification.exhaustive`).
* ``sample``: a seeded sample of pairs per variable set (balanced over
  changed and unchanged pairs by default), decided with one-sided
  Clopper-Pearson bounds.
* ``sequential``: pairs drawn as in ``sample``, in growing batches, until an
  anytime-valid confidence sequence decides or the budget runs out
  (:mod:`causalabs.verification.sequential`).

Exhaustive and sample mode count each set's pairs by stratum (changed / unchanged output) and
hand the counts to :func:`causalabs.verification.verdict.decide`, which says
what the verdict means.  The counterexample of a refutation is a failing
pair of the set (and stratum) that refuted the claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import attrs
import numpy as np

from causalabs.engine.evaluate import evaluate_pairs
from causalabs.errors import AlignmentError, CausalabsError
from causalabs.executor import Executor, LocalExecutor, Shared, Task, make_executor
from causalabs.executor.progress import pair_progress
from causalabs.metrics.estimate import proportion
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, shared_network
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import HypothesisLike, model_of
from causalabs.verification.report.counterexample import Counterexample
from causalabs.verification.exhaustive import (
    all_inputs,
    check_runs,
    check_set,
    count_source_classes,
    merge_results,
    variable_sets,
)
from causalabs.verification.pairs import Sampling
from causalabs.verification.pairs import distinct as _distinct
from causalabs.verification.pairs import sample_set as _sample_set
from causalabs.verification.identification import identify
from causalabs.verification.lm_metrics import metrics_section
from causalabs.metrics.lm import check_metric
from causalabs.verification.report.found import after_search
from causalabs.verification.report.provenance import provenance
from causalabs.verification.report.report import Report
from causalabs.verification.sequential import verify_sequential
from causalabs.verification.stopping import MAX_PAIRS
from causalabs.verification.verdict import SetCounts, Stratum, check_claim, decide

Mode = Literal["exhaustive", "sample", "sequential"]
SAMPLINGS = ("balanced", "random")


def _check_alignment(model: CausalModel, alignment: Alignment, variables: Sequence[str] | None) -> list[str]:
    alignment.check_against(model)
    names = list(variables) if variables is not None else list(alignment.sites)
    for v in names:
        if v not in alignment.sites:
            raise AlignmentError(f"variable {v!r} has no site in the alignment (it aligns {', '.join(alignment.sites)})")
        if model.variables[v].is_input or model.variables[v].is_output:
            raise AlignmentError(f"{model.name}.{v}: only intermediate variables can be verified; {v!r} is an {model.variables[v].kind}")
    if not names:
        raise AlignmentError(f"the alignment maps no variable of {model.name}")
    return names


def _sets(names: list[str], sets: Sequence[Sequence[Any]] | None) -> list[tuple[str, ...]]:
    """The variable sets to check: the default policy over ``names``, or the given ones (checked)."""
    if sets is None:
        return variable_sets(names)
    out = [tuple(str(getattr(v, "name", v)) for v in vs) for vs in sets]
    for vs in out:
        if not vs:
            raise AlignmentError("sets: an empty variable set")
        unknown = [v for v in vs if v not in names]
        if unknown:
            raise AlignmentError(f"sets: {unknown[0]!r} is not among the verified variables ({', '.join(names)})")
    if not out:
        raise AlignmentError("sets: no variable set given")
    return out


def _set_task(
    network: Network, model: CausalModel, alignment: Alignment, inputs: dict[str, np.ndarray],
    classes: dict[str, Any], vs: tuple[str, ...], bases: tuple[int, int],
) -> Any:
    """One task of an exhaustive check: the bases ``[start, stop)`` of one variable set."""
    return check_set(network, model, alignment, inputs, classes, vs, bases=bases)


def _spans(n: int, per_task: int | None) -> list[tuple[int, int]]:
    step = n if per_task is None else max(1, per_task)
    return [(b, min(n, b + step)) for b in range(0, n, step)]


def _exhaustive(
    model: CausalModel, network: Network, alignment: Alignment, names: list[str], sets: list[tuple[str, ...]],
    runner: Executor | None = None, shared: Shared | None = None, bases_per_task: int | None = None,
) -> tuple[list[SetCounts], Callable[[int, Stratum | None], Counterexample | None], list[str]]:
    # every set's run count is bounded while the classes stream by, before any input is enumerated
    classes = count_source_classes(network, model, alignment.sites, sets)
    inputs = all_inputs(model)
    n = len(next(iter(inputs.values())))
    for vs in sets:  # every set's size is checked before any runs
        check_runs(model, n, classes, vs)

    def row(i: int) -> dict[str, int]:
        return {k: int(col[i]) for k, col in inputs.items()}

    runner = LocalExecutor() if runner is None else runner
    tasks = [Task((vs, span), _set_task, (model, alignment, inputs, classes, vs, span))
             for vs in sets for span in _spans(n, bases_per_task)]
    parts: dict[tuple[Any, ...], Any] = {}
    with pair_progress(sum(check_runs(model, n, classes, vs) for vs in sets), "exhaustive"):
        runner.run(tasks, shared or Shared("network", value=network),
                   lambda t, r: parts.__setitem__(t.key, r), label="exhaustive")
    results = [merge_results([parts[(vs, span)] for span in _spans(n, bases_per_task)]) for vs in sets]
    counts = [
        SetCounts(
            vs,
            (r.changed_successes, r.changed_total),
            (r.successes - r.changed_successes, r.total - r.changed_total),
        )
        for vs, r in zip(sets, results)
    ]

    def counterexample(j: int, stratum: Stratum | None) -> Counterexample | None:
        """The lexicographically first failing pair of set ``j`` (in ``stratum`` when the threshold is below 1)."""
        r = results[j]
        first = r.first_failure if stratum is None else r.first_failures.get(stratum)
        if first is None:
            return None
        b, srcs, expected, observed = first
        return Counterexample(
            row(b), {v: row(s) for v, s in zip(sets[j], srcs)}, expected, observed, found_by="exhaustive"
        )

    return counts, counterexample, []


def _evaluate(network: Network, alignment: Alignment, ds: Any, logits: bool = False) -> Any:
    """One task of a sampled check: a set's pairs, run (with the LM metrics' readings when ``logits``)."""
    return evaluate_pairs(network, alignment, ds, logits=logits)


def _sample(
    model: CausalModel,
    network: Network,
    alignment: Alignment,
    sets: list[tuple[str, ...]],
    n: int,
    seed: int,
    sampling: Sampling = "balanced",
    fallback: list[str] | None = None,
    runner: Executor | None = None,
    shared: Shared | None = None,
    evaluated_out: list[tuple[Any, Any, np.ndarray]] | None = None,
) -> tuple[list[SetCounts], Callable[[int, Stratum | None], Counterexample | None], list[str]]:
    """Seeded pairs per variable set, counted by stratum.

    ``evaluated_out`` (a list): the pairs are read for the LM metrics too, and each set's (dataset, results,
    distinct pairs) is appended to it.

    Random pairs are uniform and independent (with replacement): the counts
    of each stratum are binomial given its size.  Balanced pairs are drawn
    without replacement inside each stratum and may repeat a pair when a
    stratum is smaller than its quota, so only distinct pairs are counted.
    """
    fallback = [] if fallback is None else fallback
    counts, digests, found = [], [], []
    drawn = [_sample_set(model, vs, n, seed + j, sampling, fallback) for j, vs in enumerate(sets)]  # seeds: the set's index
    evaluated: dict[tuple[Any, ...], Any] = {}
    runner = LocalExecutor() if runner is None else runner
    logits = evaluated_out is not None
    with pair_progress(sum(len(ds) for ds, _, _ in drawn), "sample"):
        runner.run([Task((vs,), _evaluate, (alignment, ds, logits) if logits else (alignment, ds))
                    for vs, (ds, _, _) in zip(sets, drawn)],
                   shared or Shared("network", value=network), lambda t, r: evaluated.__setitem__(t.key, r),
                   label="sample")
    for j, vs in enumerate(sets):
        ds, empty, stratified = drawn[j]
        digests.append(ds.digest)
        r = evaluated[(vs,)]
        keep = _distinct(ds) if stratified else np.arange(len(ds))
        correct, changed = r.correct[keep], r.changed[keep]
        counts.append(
            SetCounts(
                vs,
                (int(correct[changed].sum()), int(changed.sum())),
                (int(correct[~changed].sum()), int((~changed).sum())),
                empty,
            )
        )
        found.append((ds, r, keep, seed + j))
        if evaluated_out is not None:
            evaluated_out.append((ds, r, keep))

    def counterexample(j: int, stratum: Stratum | None) -> Counterexample | None:
        """The first failing sampled pair of set ``j`` (in ``stratum`` when given)."""
        ds, r, keep, set_seed = found[j]
        bad = ~r.correct[keep]
        if stratum is not None:
            bad &= r.changed[keep] == (stratum == "changed")
        failing = keep[np.flatnonzero(bad)]
        if not failing.size:
            return None
        i = int(failing[0])
        base = {k: int(v[i]) for k, v in ds.base.items()}
        srcs = {v: {k: int(col[i]) for k, col in ds.sources[v].items()} for v in sets[j]}
        return Counterexample(base, srcs, int(r.expected[i]), int(r.predicted[i]), seed=set_seed, found_by="sample")

    return counts, counterexample, digests


def _shared(network: Network, runner: Executor) -> Shared:
    """The network as every task's shared value (keyed by its weights' digest when tasks leave this process)."""
    if isinstance(runner, LocalExecutor):
        return Shared("network", value=network)
    from causalabs.align.store import network_fingerprint

    return shared_network(network, network_fingerprint(network)["weights_sha256"])


def verify(
    hypothesis: HypothesisLike,
    network: Network,
    alignment: Alignment,
    *,
    mode: Mode = "exhaustive",
    threshold: float = 1.0,
    seed: int = 0,
    samples: int = 2000,
    confidence: float = 0.95,
    variables: Sequence[Any] | None = None,
    sampling: Sampling = "balanced",
    sets: Sequence[Sequence[Any]] | None = None,
    max_pairs: int = MAX_PAIRS,
    max_seconds: float | None = None,
    rivals: int | Sequence[Any] | None = None,
    rival_search: Callable[[Any], Alignment] | None = None,
    executor: str | Executor = "local",
    ray_address: str | None = None,
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
    bases_per_task: int | None = None,
    metric: str = "iia",
) -> Report:
    """Check that ``network`` implements ``hypothesis`` under ``alignment``; return the verdict and evidence.

    The claim is (hypothesis, network, alignment, ``threshold``, ``confidence``);
    ``threshold`` defaults to 1 (an exact abstraction) in every mode.  For
    each variable set, the IIA on the pairs whose intervention changes the
    hypothesis' output and on the others must each reach the threshold (see
    :mod:`causalabs.verification.verdict`).  ``exhaustive`` decides exactly;
    ``sample`` decides with one-sided Clopper-Pearson bounds at
    ``confidence`` (refutations Bonferroni-corrected across bounds), so at
    threshold 1 it refutes or stays inconclusive, never verifies.
    ``sampling`` (sample mode): ``"balanced"`` (default) draws half the pairs
    of each set from its changed pairs and half from its unchanged ones, each
    uniformly; ``"random"`` draws uniform pairs, few of which may change the
    output.  ``sets``: the intervened variable sets to check (default: every
    non-empty subset of the aligned variables, or each alone and all together
    when there are more than 15 subsets).  ``sequential`` draws pairs as
    ``sample`` does, in growing batches, and stops as soon as an anytime-valid
    confidence sequence decides, or after ``max_pairs`` pairs per set or
    ``max_seconds`` (:mod:`causalabs.verification.sequential`; docs/sequential.md).
    ``rivals``: a number of rivals to
    generate (or a list of rival hypothesis classes); the report then gains an
    ``identification`` section (:mod:`causalabs.verification.identification`);
    ``rival_search(rival) -> Alignment`` also fits each rival its own
    alignment, and a rival that alignment verifies survives.

    ``executor`` runs the work as independent tasks: ``"local"`` (in this
    process, the default) or ``"ray"`` (on the cluster at ``ray_address``,
    ``cpus_per_task`` CPUs and ``gpus_per_task`` GPUs each; see
    ``docs/scale.md``).  A task is one set's sampled pairs, or one set's
    bases in exhaustive mode (``bases_per_task`` bases each; default: the
    whole set); the report does not depend on the executor.

    ``metric``: ``"iia"`` (the default) or an LM metric reported beside the
    IIA, never deciding the verdict: ``"logit-diff"`` (logit of the expected
    answer minus logit of the base answer) or ``"prob"`` (probability of the
    expected answer), each with an interval, on the patched and the
    unpatched run (:mod:`causalabs.verification.lm_metrics`; the report's
    ``metrics`` section).  Sample mode reads it on its own pairs; exhaustive
    and sequential mode on ``samples`` pairs per set drawn as sample mode
    draws them.
    """
    if sampling not in SAMPLINGS:
        raise CausalabsError(f"unknown sampling {sampling!r}; choose balanced or random")
    check_claim(threshold, confidence)
    check_metric(metric)
    model = model_of(hypothesis)
    names = _check_alignment(model, alignment, None if variables is None else [getattr(v, "name", v) for v in variables])
    chosen = _sets(names, sets)
    if mode == "sequential":
        if executor not in (None, "local") or ray_address is not None or bases_per_task is not None:
            raise CausalabsError("sequential mode runs in this process: executor='local', no bases_per_task")
        report = verify_sequential(model, network, alignment, names, chosen, threshold=threshold,
                                   confidence=confidence, seed=seed, sampling=sampling, max_pairs=max_pairs,
                                   max_seconds=max_seconds)
        if metric == "iia":
            return report
        section = metrics_section(network, model, alignment, chosen, metric, samples=samples, seed=seed,
                                  sampling=sampling, confidence=confidence)
        return attrs.evolve(report, metrics=section)
    fallback: list[str] = []
    if mode not in ("exhaustive", "sample"):
        raise CausalabsError(f"unknown verification mode {mode!r}; choose exhaustive or sample")
    runner = make_executor(executor, ray_address=ray_address, cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task)
    shared = _shared(network, runner)
    start = time.perf_counter()
    evaluated: list[tuple[Any, Any, np.ndarray]] | None = None if metric == "iia" else []
    if mode == "exhaustive":
        counts, counterexample, digests = _exhaustive(
            model, network, alignment, names, chosen, runner, shared, bases_per_task
        )
        exact = True
    elif mode == "sample":
        counts, counterexample, digests = _sample(
            model, network, alignment, chosen, samples, seed, sampling, fallback, runner, shared, evaluated
        )
        exact = False
    else:
        raise CausalabsError(f"unknown verification mode {mode!r}; choose exhaustive, sample or sequential")
    decision = decide(counts, threshold=threshold, confidence=confidence, exact=exact)
    cx = None
    if decision.verdict == "refuted" and decision.deciding is not None:
        j, stratum = decision.deciding
        cx = counterexample(j, None if threshold == 1.0 else stratum)
    successes, total = sum(c.successes for c in counts), sum(c.total for c in counts)
    pooled = (
        proportion(successes, total, exact=True, confidence=confidence)
        if exact
        else proportion(successes, total, confidence=confidence, method="clopper-pearson")
    )
    verdict, reason = after_search(decision.verdict, decision.reason, alignment.info)
    report = Report(
        verdict=verdict,
        mode=mode,
        hypothesis=model.name,
        network=network.name,
        alignment={v: alignment.sites[v].name for v in names},
        threshold=float(threshold),
        iia=pooled,
        per_variable=decision.evidence,
        counterexample=cx,
        reason=reason,
        provenance={
            **provenance(
                model, network, seed=seed if mode == "sample" else None, digests=digests, mode=mode,
                alignment_info=alignment.info,
            ),
            **({"sampling": sampling} if mode == "sample" else {}),
            **({"sampling_fallback_random": fallback} if fallback else {}),
        },
        timing={"seconds": round(time.perf_counter() - start, 3)},
        confidence=float(confidence),
        statistics=decision.statistics,
    )
    if metric != "iia":
        section = metrics_section(network, model, alignment, chosen, metric, samples=samples, seed=seed,
                                  sampling=sampling, confidence=confidence,
                                  evaluated=evaluated if mode == "sample" else None)
        report = attrs.evolve(report, metrics=section)
    if rivals is None:
        return report

    def check(rival: Any, fitted: Alignment) -> Report:
        return verify(rival, network, fitted, mode=mode, threshold=threshold, seed=seed, samples=samples,
                      confidence=confidence, variables=names, sampling=sampling, sets=sets)

    section = identify(report, model, network, alignment, names, rivals, check, threshold=threshold, seed=seed,
                       rival_search=rival_search)
    return attrs.evolve(report, identification=section)

