"""Sequential mode: sample pairs in growing batches and stop as soon as the claim is decided.

The pairs are drawn as sample mode draws them (:mod:`causalabs.verification.pairs`:
balanced by default, each batch a fresh draw with its own seed derived from
``seed``, the set and the batch), evaluated by the engine, and counted by
stratum; the rule of :mod:`causalabs.verification.stopping` (an anytime-valid
confidence sequence per stratum, the error budget shared by a union bound)
says after each batch whether to stop.  The report records the rule, the
pairs used and the sequence's bounds at the stop (``Report.stopping``).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import numpy as np

from causalabs.engine.evaluate import evaluate_pairs
from causalabs.errors import BudgetError
from causalabs.executor.progress import pair_progress
from causalabs.metrics import confseq
from causalabs.metrics.estimate import Estimate, exact_count, proportion
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network
from causalabs.scm.model import CausalModel
from causalabs.verification.pairs import Sampling, distinct, sample_set
from causalabs.verification.planning import more_pairs_line
from causalabs.verification.report.counterexample import Counterexample
from causalabs.verification.report.found import after_search
from causalabs.verification.report.provenance import provenance
from causalabs.verification.report.report import Report, VariableEvidence
from causalabs.verification.stopping import RULE, VERIFIED, REFUTED, Outcome, Rule, run_sequential
from causalabs.verification.verdict import STRATA

_SEED_SPAN = 2**31 - 1


def batch_seed(seed: int, set_index: int, batch: int) -> int:
    """The seed of one batch of one set: a function of (seed, set, batch) only."""
    return int(np.random.SeedSequence([seed, set_index, batch]).generate_state(1, dtype=np.uint32)[0]) % _SEED_SPAN


def _check_budget(max_pairs: Any, max_seconds: Any) -> None:
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, (int, np.integer)) or max_pairs < 2:
        raise BudgetError(f"max_pairs must be an integer >= 2 (pairs per variable set), got {max_pairs!r}")
    if max_seconds is not None and (
        isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float)) or not max_seconds > 0
    ):
        raise BudgetError(f"max_seconds must be a positive number of seconds or None, got {max_seconds!r}")


class _Drawer:
    """The verifier's ``draw``: fresh pairs of each active set, evaluated and counted by stratum."""

    def __init__(self, model: CausalModel, network: Network, alignment: Alignment,
                 sets: list[tuple[str, ...]], seed: int, sampling: Sampling) -> None:
        self.model, self.network, self.alignment, self.sets, self.seed = model, network, alignment, sets, seed
        self.sampling: list[Sampling] = [sampling] * len(sets)
        self.fallback: list[str] = []
        self.empty = np.zeros((len(sets), 2), dtype=bool)
        self.digests: list[list[str]] = [[] for _ in sets]
        self.failures: dict[tuple[int, str], Counterexample] = {}
        self._first: dict[int, Any] = {}

    def prepare(self, size: int) -> None:
        """Draw the first batch of every set now: it tells which strata are proven empty before the rule starts."""
        for j, vs in enumerate(self.sets):
            ds, empty, stratified = sample_set(self.model, vs, size, batch_seed(self.seed, j, 0), self.sampling[j],
                                               self.fallback)
            if "+".join(vs) in self.fallback:
                self.sampling[j] = "random"  # no balanced sample: later batches draw random pairs, without warning again
            self.empty[j] = [s in empty for s in STRATA]
            self._first[j] = (ds, stratified)

    def __call__(self, b: int, active: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        dk = np.zeros((1, len(self.sets), 2), dtype=np.int64)
        dn = np.zeros_like(dk)
        for j, vs in enumerate(self.sets):
            if not active[0, j]:
                continue
            s = batch_seed(self.seed, j, b)
            if b == 0:
                ds, stratified = self._first.pop(j)
            else:
                ds, _, stratified = sample_set(self.model, vs, size, s, self.sampling[j], [])
            self.digests[j].append(ds.digest)
            r = evaluate_pairs(self.network, self.alignment, ds)
            keep = distinct(ds) if stratified else np.arange(len(ds))
            correct, changed = r.correct[keep], r.changed[keep]
            for i, (stratum, mask) in enumerate((("changed", changed), ("unchanged", ~changed))):
                dk[0, j, i], dn[0, j, i] = int(correct[mask].sum()), int(mask.sum())
                bad = keep[np.flatnonzero(mask & ~correct)]
                if bad.size and (j, stratum) not in self.failures:
                    x = int(bad[0])
                    self.failures[(j, stratum)] = Counterexample(
                        {k: int(v[x]) for k, v in ds.base.items()},
                        {v: {k: int(col[x]) for k, col in ds.sources[v].items()} for v in vs},
                        int(r.expected[x]), int(r.predicted[x]), seed=s, found_by="sequential",
                    )
        return dk, dn


def _estimate(rule: Rule, k: int, n: int, empty: bool) -> Estimate:
    """A stratum's count with the sequence's two ends: lower at ``confidence``, upper at the corrected level."""
    if n == 0 and empty:
        return exact_count(0, 0, confidence=rule.confidence)
    if n == 0:
        return Estimate(math.nan, 0.0, 1.0, 0, False, rule.confidence, confseq.METHOD, 0, 1.0 - rule.alpha_upper)
    lo = float(confseq.bounds(k, n, rule.alpha, rule.prior)[0])
    hi = float(confseq.bounds(k, n, rule.alpha_upper, rule.prior)[1])
    return Estimate(k / n, lo, hi, n, False, rule.confidence, confseq.METHOD, k, 1.0 - rule.alpha_upper)


def _reason(rule: Rule, out: Outcome, sets: list[tuple[str, ...]],
            ev: list[VariableEvidence]) -> tuple[str, tuple[int, str] | None]:
    t, pairs, batches = rule.threshold, int(out.pairs[0]), int(out.batches[0])
    after = f"stopped after batch {batches}, {pairs:,} pairs"
    strata: dict[tuple[int, str], Estimate] = {}
    for j, e in enumerate(ev):
        assert e.unchanged is not None  # sequential evidence always has both strata
        strata[(j, "changed")], strata[(j, "unchanged")] = e.changed, e.unchanged
    if out.verdict[0] == REFUTED:
        j, i = (int(x) for x in np.argwhere(out.failed[0])[0])
        name, b = "+".join(sets[j]), strata[(j, STRATA[i])]
        if t == 1.0:
            return (f"{name}: {ev[j].failures:,} of {int(out.totals[0, j].sum()):,} sampled pairs disagree; at "
                    f"threshold 1 one disagreeing pair refutes the claim ({after})"), (j, STRATA[i])
        return (f"{name}: IIA on {STRATA[i]} pairs {b.successes:,}/{b.n:,} = {b.value:.4f}; upper bound {b.hi:.4f} "
                f"< {t:g} (anytime-valid {confseq.METHOD}, Bonferroni over {rule.bounds_tested} bounds; {after})"
                ), (j, STRATA[i])
    if out.verdict[0] == VERIFIED:
        j, s = min(((j, s) for j in range(len(sets)) for s in STRATA if strata[(j, s)].n),
                   key=lambda key: strata[key].lo, default=(0, "changed"))
        b = strata[(j, s)]
        return (f"every variable set's IIA >= {t:g} on changed and on unchanged pairs: every lower bound clears it "
                f"(anytime-valid {confseq.METHOD} at {rule.confidence:.0%}; lowest {b.lo:.4f}, "
                f"{'+'.join(sets[j])} {s} pairs, {b.successes:,}/{b.n:,}; {after})"), None
    spent = "the time budget" if out.stopped_by[0] == "max_seconds" else "the pair budget"
    open_ = [(j, s) for j in range(len(sets)) for i, s in enumerate(STRATA) if not out.held[0, j, i]]
    unknown = [(j, s) for j, s in open_ if strata[(j, s)].n == 0]
    if unknown:
        j, s = unknown[0]
        return (f"{'+'.join(sets[j])}: no {s} pair among {int(out.totals[0, j].sum()):,} sampled pairs, so their "
                f"IIA is unknown; {spent} ran out ({after}); draw balanced pairs or use exhaustive mode"), (j, s)
    if t == 1.0:
        return (f"no failure in {pairs:,} pairs; {spent} ran out ({after}); sampling never verifies an exact claim "
                "(threshold 1): use exhaustive mode, or state a threshold below 1"), open_[0] if open_ else None
    j, s = min(open_, key=lambda key: abs(strata[key].value - t))
    b = strata[(j, s)]
    line = more_pairs_line(t, rule.confidence, b.value, sets=len(sets), max_pairs=rule.max_pairs,
                           used=int(out.totals[0, j].sum()))
    return (f"{'+'.join(sets[j])}: IIA on {s} pairs {b.successes:,}/{b.n:,} = {b.value:.4f}, bounds [{b.lo:.4f}, "
            f"{b.hi:.4f}] around {t:g}; {spent} ran out ({after}); {line}"), (j, s)


def verify_sequential(
    model: CausalModel, network: Network, alignment: Alignment, names: list[str], sets: list[tuple[str, ...]], *,
    threshold: float, confidence: float, seed: int, sampling: Sampling, max_pairs: int,
    max_seconds: float | None,
) -> Report:
    """The claim decided on growing batches of pairs (see the module); ``max_pairs`` is per variable set."""
    _check_budget(max_pairs, max_seconds)
    rule = Rule(threshold, confidence, len(sets), max_pairs=int(max_pairs))
    start = time.perf_counter()
    drawer = _Drawer(model, network, alignment, sets, seed, sampling)
    drawer.prepare(rule.schedule()[0])
    with pair_progress(int(max_pairs) * len(sets), "sequential"):  # the budget: a decision may come sooner
        out = run_sequential(rule, drawer, empty=drawer.empty, max_seconds=max_seconds)
    k, n = out.successes[0], out.totals[0]
    ev = []
    for j, vs in enumerate(sets):
        per = [_estimate(rule, int(k[j, i]), int(n[j, i]), bool(drawer.empty[j, i])) for i in range(2)]
        overall = proportion(int(k[j].sum()), int(n[j].sum()), confidence=confidence, method="clopper-pearson")
        ev.append(VariableEvidence(vs, overall, per[0], int(n[j].sum() - k[j].sum()), per[1]))
    reason, deciding = _reason(rule, out, sets, ev)
    verdict = {VERIFIED: "verified", REFUTED: "refuted"}.get(int(out.verdict[0]), "inconclusive")
    cx = None
    if verdict == "refuted" and deciding is not None:
        j, s = deciding
        cx = drawer.failures.get((j, s)) if threshold < 1.0 else next(
            (drawer.failures[(j, x)] for x in STRATA if (j, x) in drawer.failures), None)
    verdict, reason = after_search(verdict, reason, alignment.info)
    pooled = proportion(int(k.sum()), int(n.sum()), confidence=confidence, method="clopper-pearson")
    stopping = {
        "rule": RULE,
        "stopped_by": out.stopped_by[0],
        "batches": int(out.batches[0]),
        "first_batch": rule.first,
        "growth": rule.growth,
        "max_pairs": rule.max_pairs,
        "max_seconds": max_seconds,
        "pairs_used": int(n.sum()),
        "pairs_per_set": {"+".join(vs): int(n[j].sum()) for j, vs in enumerate(sets)},
        "bounds": {
            "+".join(vs): {s: {"lo": e.lo, "hi": e.hi, "successes": e.successes, "n": e.n}
                           for s, e in (("changed", ev[j].changed), ("unchanged", ev[j].unchanged)) if e is not None}
            for j, vs in enumerate(sets)
        },
    }
    digests = ["sha256:" + hashlib.sha256("".join(d).encode()).hexdigest() for d in drawer.digests]
    return Report(
        verdict=verdict,  # type: ignore[arg-type]
        mode="sequential",
        hypothesis=model.name,
        network=network.name,
        alignment={v: alignment.sites[v].name for v in names},
        threshold=float(threshold),
        iia=pooled,
        per_variable=tuple(ev),
        counterexample=cx,
        reason=reason,
        provenance={
            **provenance(model, network, seed=seed, digests=digests, mode="sequential", alignment_info=alignment.info),
            "sampling": sampling,
            **({"sampling_fallback_random": drawer.fallback} if drawer.fallback else {}),
        },
        timing={"seconds": round(time.perf_counter() - start, 3)},
        confidence=float(confidence),
        statistics=rule.statistics(),
        stopping=stopping,
    )
