"""Every organism in models/: its correct hypotheses are verified, every wrong twin is refuted.

Finite domains are checked exhaustively (every (base, source) pair) for
every variable set whose exhaustive check fits :data:`EXHAUSTIVE_RUNS`
runs; sets beyond it (all of a tracr program's variables together, say)
are checked on random samples, and domains too large to enumerate on
balanced ones (about half of the pairs change the output). A
twin's counterexample is replayed by hand: the hypothesis' counterfactual
and the network's intervened output, computed again from the pasted
inputs, must disagree exactly as the report says.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from _replay import replay as replay_by_hand

from causalabs.network import Alignment
from causalabs.organisms import Organism, find_organisms, not_an_organism
from causalabs.scm.semantics import model_of
from causalabs.verification.exhaustive import all_inputs, source_classes, variable_sets
from causalabs.verification.pipeline import verify

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
#: Largest exhaustive check (bases x source-class combinations) one set may take here.
EXHAUSTIVE_RUNS = 60_000_000  # addition_rotated's carry+s0 (3.4e7 and 5.3e7 runs) included
#: Domains larger than this are only sampled.
ENUMERABLE = 100_000
FILES = sorted(
    p.relative_to(MODELS).as_posix()
    for p in MODELS.rglob("*.py")
    if not any(part.startswith("_") for part in p.relative_to(MODELS).parts)
)


@cache
def catalogue() -> dict[str, Organism]:
    return {o.path.relative_to(MODELS).as_posix(): o for o in find_organisms(MODELS).organisms}


def organism_files() -> list[str]:
    """Organism files by their syntax tree, as the catalogue reads them (nothing imported at collection)."""
    return [rel for rel in FILES if not_an_organism(MODELS / rel) is None]


def restricted(alignment: Alignment, model: Any) -> Alignment:
    """The alignment of the variables this hypothesis has (a one-variable twin has no ``right``)."""
    return Alignment({v: s for v, s in alignment.sites.items() if v in model.variables})


def checks(org: Organism, hyp: type, alignment: Alignment) -> list[dict[str, Any]]:
    """The verify() calls that cover the default variable sets: exhaustive where they fit, else sampled."""
    model = model_of(hyp)
    names = list(alignment.sites)
    sets = variable_sets(names)
    if model.input_space_size > ENUMERABLE:
        return [{"mode": "sample", "sets": sets, "sampling": "balanced"}]
    inputs = all_inputs(model)
    size = {v: len(source_classes(org.network, model, alignment.sites[v], v, inputs).size) for v in names}
    fits = [vs for vs in sets if model.input_space_size * math.prod(size[v] for v in vs) <= EXHAUSTIVE_RUNS]
    rest = [vs for vs in sets if vs not in fits]
    out = [{"mode": "exhaustive", "sets": fits}] if fits else []
    if rest:
        out.append({"mode": "sample", "sets": rest})
    return out


def cases() -> list[Any]:
    out = []
    for rel in organism_files():
        out.append(pytest.param(rel, "correct", id=f"{rel}:correct"))
        out.append(pytest.param(rel, "wrong", id=f"{rel}:wrong"))
    return out


def test_every_organism_file_is_found_and_loads() -> None:
    found = catalogue()
    assert sorted(found) == organism_files()
    assert len(found) >= 13
    for org in found.values():
        assert org.info.wrong, f"{org.name} has no wrong twin"


#: A sampled check verifies only a threshold below 1; the correct hypotheses are checked at this one.
SAMPLED_THRESHOLD = 0.95


def claim_threshold(org: Organism) -> float:
    """The threshold at which the organism's known alignment holds: 1 (exact) unless a planted defect lowers it."""
    return float(org.info.extra.get("threshold", 1.0))


def consistent(exhaustive: Any, sampled: Any) -> None:
    """The same claim checked exhaustively and by sampling never gives verified in one and refuted in the other."""
    verdicts = {exhaustive.verdict, sampled.verdict}
    assert verdicts != {"verified", "refuted"}, (exhaustive.reason, sampled.reason)


# a wrong twin whose variable never changes the output cannot be balanced: sample mode falls back to random
# pairs, says so in a warning and records it in provenance.sampling_fallback_random (tests/test_verify_pipeline.py)
@pytest.mark.filterwarnings("ignore:.*no balanced sample.*:UserWarning")
@pytest.mark.parametrize(("rel", "which"), cases())
def test_verdicts_on_every_organism(rel: str, which: str) -> None:
    """Verdicts at the organism's threshold; every exhaustive check is repeated in sample mode (default threshold).

    Exhaustive checks run at the organism's claim threshold (1 unless a
    planted defect lowers it); sampled checks of a correct hypothesis state
    threshold 0.95 (a sample never verifies threshold 1).  Each exhaustive
    check is also run as the same command in sample mode at the default
    threshold, and the two must not contradict each other.
    """
    org = catalogue()[rel]
    t = claim_threshold(org)
    if which == "correct":
        for hyp in (org.hypothesis(), *org.also_correct()):
            al = restricted(org.alignment(), model_of(hyp))
            for kw in checks(org, hyp, al):
                if kw["mode"] == "exhaustive":
                    exhaustive = verify(hyp, org.network, al, seed=0, **kw)
                    r = exhaustive if t == 1.0 else verify(hyp, org.network, al, seed=0, threshold=t, **kw)
                    assert r.iia.exact
                    consistent(exhaustive, verify(hyp, org.network, al, seed=0, **{**kw, "mode": "sample"}))
                else:
                    r = verify(hyp, org.network, al, seed=0, threshold=min(t, SAMPLED_THRESHOLD), **kw)
                assert r.verdict == "verified", f"{org.name}: {hyp.__name__} ({kw['mode']}) {r.reason}"
        return
    for twin in org.wrong_hypotheses():
        al = restricted(org.alignment(), model_of(twin))
        reports = []
        for kw in checks(org, twin, al):
            reports.append(verify(twin, org.network, al, seed=0, threshold=t, **kw))
            if kw["mode"] == "exhaustive":
                # refuted at t implies refuted at the default 1 (each stratum must then reach more)
                done = t == 1.0 or reports[-1].verdict == "refuted"
                exhaustive = reports[-1] if done else verify(twin, org.network, al, seed=0, **kw)
                sampled = verify(twin, org.network, al, seed=0, **{**kw, "mode": "sample"})
                consistent(exhaustive, sampled)
                reports.append(sampled)
        refuted = [r for r in reports if r.verdict == "refuted"]
        assert refuted, f"{org.name}: {twin.__name__} not refuted: {[r.reason for r in reports]}"
        for r in refuted:
            replay(org, twin, al, r.counterexample)


def replay(org: Organism, hyp: type, alignment: Alignment, cx: Any) -> None:
    """The counterexample, run again from its pasted inputs: the hypothesis and the network disagree as reported."""
    assert cx is not None
    expected, observed = replay_by_hand(hyp, org.network, alignment, cx)
    assert (expected, observed) == (cx.expected, cx.observed), org.name
    assert expected != observed
