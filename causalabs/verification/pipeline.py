"""``verify``: one pipeline from a claim (hypothesis, network, alignment) to a :class:`Report`.

Modes:

* ``exhaustive``: every (base, source) pair of a finite input space for every
  intervened variable set, exactly (see :mod:`causalabs.verification.exhaustive`).
  Verified only if every pair agrees, or, with ``threshold < 1``, if every
  set's IIA reaches it ("verified at threshold t", with the failure count).
* ``sample``: IIA on a seeded sample of pairs per variable set with a
  Wilson interval; verified when every lower bound clears the threshold,
  refuted when some upper bound is below it, otherwise inconclusive.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from causalabs.data.balance import balanced
from causalabs.data.generate import random_pairs
from causalabs.engine.evaluate import evaluate_pairs
from causalabs.errors import AlignmentError, CausalabsError, DatasetError
from causalabs.metrics.estimate import Estimate, proportion
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import HypothesisLike, model_of
from causalabs.verification.report.counterexample import Counterexample
from causalabs.verification.exhaustive import (
    all_inputs,
    check_runs,
    check_set,
    count_source_classes,
    variable_sets,
)
from causalabs.verification.report.provenance import provenance, search_converged
from causalabs.verification.report.report import Report, VariableEvidence

Mode = Literal["exhaustive", "sample"]
Sampling = Literal["random", "balanced"]
SAMPLINGS = ("random", "balanced")


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


def _exhaustive(
    model: CausalModel, network: Network, alignment: Alignment, names: list[str], sets: list[tuple[str, ...]]
) -> tuple[list[VariableEvidence], Counterexample | None, list[str]]:
    # every set's run count is bounded while the classes stream by, before any input is enumerated
    classes = count_source_classes(network, model, alignment.sites, sets)
    inputs = all_inputs(model)
    n = len(next(iter(inputs.values())))
    for vs in sets:  # every set's size is checked before any runs
        check_runs(model, n, classes, vs)
    evidence, counterexample = [], None

    def row(i: int) -> dict[str, int]:
        return {k: int(col[i]) for k, col in inputs.items()}
    for vs in sets:
        r = check_set(network, model, alignment, inputs, classes, vs)
        evidence.append(
            VariableEvidence(
                vs,
                proportion(r.successes, r.total, exact=True),
                proportion(r.changed_successes, r.changed_total, exact=True),
                r.total - r.successes,
            )
        )
        if counterexample is None and r.first_failure is not None:
            b, srcs, expected, observed = r.first_failure
            counterexample = Counterexample(
                row(b), {v: row(s) for v, s in zip(vs, srcs)}, expected, observed, found_by="exhaustive"
            )
    return evidence, counterexample, []


def _sample(
    model: CausalModel,
    network: Network,
    alignment: Alignment,
    sets: list[tuple[str, ...]],
    n: int,
    seed: int,
    confidence: float,
    sampling: Sampling = "random",
    fallback: list[str] | None = None,
) -> tuple[list[VariableEvidence], Counterexample | None, list[str]]:
    """Seeded pairs per variable set; balanced sets that cannot be balanced fall back to random pairs.

    A set whose intervention (almost) never changes the hypothesis' output has
    no changed pairs to balance with: it is sampled at random instead, with a
    warning, and its name is appended to ``fallback``.
    """
    evidence, counterexample, digests = [], None, []
    for j, vs in enumerate(sets):
        if sampling == "balanced":
            try:
                ds = balanced(model, list(vs), n, seed=seed + j)
            except DatasetError as exc:
                warnings.warn(f"{'+'.join(vs)}: no balanced sample ({exc}); random pairs instead", stacklevel=3)
                ds = random_pairs(model, list(vs), n, seed=seed + j)
                if fallback is not None:
                    fallback.append("+".join(vs))
        else:
            ds = random_pairs(model, list(vs), n, seed=seed + j)
        digests.append(ds.digest)
        r = evaluate_pairs(network, alignment, ds)
        correct, changed = r.correct, r.changed
        evidence.append(
            VariableEvidence(
                vs,
                proportion(int(correct.sum()), len(correct), confidence=confidence),
                proportion(int(correct[changed].sum()), int(changed.sum()), confidence=confidence),
                int((~correct).sum()),
            )
        )
        failing = np.flatnonzero(~correct)
        if counterexample is None and failing.size:
            i = int(failing[0])
            base = {k: int(v[i]) for k, v in ds.base.items()}
            srcs = {v: {k: int(col[i]) for k, col in ds.sources[v].items()} for v in vs}
            counterexample = Counterexample(base, srcs, int(r.expected[i]), int(r.predicted[i]), seed=seed + j, found_by="sample")
    return evidence, counterexample, digests


def _pooled(evidence: Sequence[VariableEvidence], exact: bool, confidence: float) -> Estimate:
    successes = sum(int(e.iia.successes or 0) for e in evidence)
    total = sum(e.iia.n for e in evidence)
    return proportion(successes, total, exact=exact, confidence=confidence)


def verify(
    hypothesis: HypothesisLike,
    network: Network,
    alignment: Alignment,
    *,
    mode: Mode = "exhaustive",
    threshold: float | None = None,
    seed: int = 0,
    samples: int = 2000,
    confidence: float = 0.95,
    variables: Sequence[Any] | None = None,
    sampling: Sampling = "random",
    sets: Sequence[Sequence[Any]] | None = None,
) -> Report:
    """Check that ``network`` implements ``hypothesis`` under ``alignment``; return the verdict and evidence.

    ``threshold`` defaults to 1.0 (every pair) for exhaustive checks and to
    0.95 for sampled ones (a sampled interval never reaches 1.0).
    ``sampling`` (sample mode): ``"random"`` pairs estimate the IIA over
    uniformly drawn (base, source) pairs; ``"balanced"`` pairs are balanced
    over the counterfactual output, so about half of them change it, which
    is a harder test where most random pairs change nothing.
    ``sets``: the intervened variable sets to check (default: every
    non-empty subset of the aligned variables, or each alone and all together
    when there are more than 15 subsets).
    """
    if sampling not in SAMPLINGS:
        raise CausalabsError(f"unknown sampling {sampling!r}; choose random or balanced")
    if threshold is None:
        threshold = 1.0 if mode == "exhaustive" else 0.95
    if not 0.0 < threshold <= 1.0:
        raise CausalabsError(f"threshold must be in (0, 1], got {threshold}")
    model = model_of(hypothesis)
    names = _check_alignment(model, alignment, None if variables is None else [getattr(v, "name", v) for v in variables])
    chosen = _sets(names, sets)
    fallback: list[str] = []
    start = time.perf_counter()
    if mode == "exhaustive":
        evidence, cx, digests = _exhaustive(model, network, alignment, names, chosen)
        exact = True
    elif mode == "sample":
        evidence, cx, digests = _sample(
            model, network, alignment, chosen, samples, seed, confidence, sampling, fallback
        )
        exact = False
    else:
        raise CausalabsError(f"unknown verification mode {mode!r}; choose exhaustive or sample")
    pooled = _pooled(evidence, exact, confidence)
    verdict, reason = _verdict(evidence, threshold, exact)
    if verdict == "refuted" and search_converged(alignment.info) is False:
        # the search stopped at its epoch cap still improving: the refutation is of what it reached, not of the claim
        verdict, reason = "inconclusive", f"{UNCONVERGED}; the alignment it reached: {reason}"
    return Report(
        verdict=verdict,
        mode=mode,
        hypothesis=model.name,
        network=network.name,
        alignment={v: alignment.sites[v].name for v in names},
        threshold=threshold,
        iia=pooled,
        per_variable=tuple(evidence),
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
    )


#: The reason given when a refutation follows a search that reached its epoch cap while still improving.
UNCONVERGED = "the search did not converge; raise --epochs"


def _verdict(evidence: Sequence[VariableEvidence], threshold: float, exact: bool) -> tuple[Any, str]:
    if exact:
        worst = min(evidence, key=lambda e: e.iia.value)
        failures = sum(e.failures for e in evidence)
        if failures == 0:
            return "verified", f"every pair agrees ({sum(e.iia.n for e in evidence):,} pairs, exact)"
        if worst.iia.value >= threshold:
            return "verified", f"every variable set's IIA >= {threshold:g}; {failures:,} failing pairs (exact)"
        return "refuted", (
            f"{'+'.join(worst.variables)}: IIA {worst.iia.value:.4f} < {threshold:g} "
            f"({worst.failures:,} of {worst.iia.n:,} pairs disagree, exact)"
        )
    low = [e for e in evidence if e.iia.hi < threshold]
    if low:
        e = low[0]
        return "refuted", f"{'+'.join(e.variables)}: IIA upper bound {e.iia.hi:.4f} < {threshold:g}"
    if all(e.iia.lo >= threshold for e in evidence):
        return "verified", f"every variable set's IIA lower bound >= {threshold:g}"
    e = min(evidence, key=lambda e: e.iia.lo)
    return "inconclusive", (
        f"{'+'.join(e.variables)}: interval [{e.iia.lo:.4f}, {e.iia.hi:.4f}] straddles {threshold:g}; sample more pairs"
    )
