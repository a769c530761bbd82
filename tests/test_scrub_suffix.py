"""Causal scrubbing's final pass (and inner levels) on cached prefixes: the same results as full patched passes, and why not where not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from causalabs import enumerate_inputs
from causalabs.backends.native import NativeBackend
from causalabs.loading import load_hypothesis, load_module
from causalabs.network import load_network
from causalabs.network.suffix import TOLERANCE
from causalabs.scrub import correspondence, scrub
from causalabs.scrub.plan import ScrubPlan

ROOT = Path(__file__).resolve().parents[1]

# the organisms and hypotheses of tests/test_scrub.py, right and wrong twins
CASES = [
    ("heq_handbuilt.py", "hierarchical_equality.py:HierarchicalEquality", "cross-entropy"),
    ("heq_handbuilt.py", "hierarchical_equality.py:SwappedEquality", "cross-entropy"),
    ("boolean_circuit.py", "boolean_circuit.py:BooleanCircuit", "cross-entropy"),
    ("boolean_circuit.py", "boolean_circuit.py:SwappedGates", "cross-entropy"),
    *(
        (f"tracr/{org}.py", f"tracr_programs.py:{cls}", "error")
        for org, classes in (
            ("tracr_hist", ("TracrHist", "HistOthers")),
            ("tracr_reverse", ("TracrReverse", "ReverseFromMaxLength")),
            ("tracr_sort", ("TracrSort", "SortAntiStable")),
            ("tracr_frac_prevs", ("TracrFracPrevs",)),
        )
        for cls in classes
    ),
]

#: inner levels that keep the full pass on these hypotheses: height -> why
FULL_LEVELS = {"ReverseFromMaxLength": {2: "the sites of the height-2 pass lie at more than one module location"}}


def _load(organism: str, hypothesis: str):  # type: ignore[no-untyped-def]
    path = ROOT / "models" / organism
    hyp = load_hypothesis(f"{ROOT / 'hypotheses' / hypothesis}")
    return load_network(path), hyp, load_module(path).alignment(), enumerate_inputs(hyp)


def _suffix_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows of every suffix pass from now on (``NativeBackend.patch_suffix`` counted, then run)."""
    rows: list[int] = []
    real = NativeBackend.patch_suffix

    def counted(self, network, suffix, h, base, patches, **kw):  # type: ignore[no-untyped-def]
        rows.append(h.shape[0])
        return real(self, network, suffix, h, base, patches, **kw)

    monkeypatch.setattr(NativeBackend, "patch_suffix", counted)
    return rows


@pytest.mark.parametrize(("organism", "hypothesis", "loss"), CASES, ids=[c[1].split(":")[1] for c in CASES])
def test_scrub_results_are_the_same_on_both_paths(organism: str, hypothesis: str, loss: str, monkeypatch: pytest.MonkeyPatch) -> None:
    net, hyp, align, data = _load(organism, hypothesis)
    suffix_passes = _suffix_rows(monkeypatch)
    fast = scrub(net, hyp, align, data, n=300, seed=3, batch_size=128, loss=loss)  # type: ignore[arg-type]
    plan = ScrubPlan(correspondence(hyp, align))
    heights = [plan.nodes[lv[0]].height for lv in plan.levels]
    full_levels = FULL_LEVELS.get(hypothesis.split(":")[1], {})
    if full_levels:  # the final pass and the other levels on the suffix, these in full (and why)
        assert fast.execution == "; ".join(["suffix", *(f"height {h}: {'patch: ' + full_levels[h] if h in full_levels else 'suffix'}" for h in heights)])
    else:
        assert fast.execution == "suffix"
    on_suffix = [lv for lv, h in zip(plan.levels, heights) if h not in full_levels]
    # every inner level on the suffix (its nodes' bases stacked) and every final pass ran the suffix only
    assert suffix_passes == [rows for c in (128, 128, 44) for rows in (*(len(lv) * c for lv in on_suffix), c)]
    ran = len(suffix_passes)
    full = scrub(net, hyp, align, data, n=300, seed=3, batch_size=128, loss=loss, suffix=False)  # type: ignore[arg-type]
    assert full.execution == "patch" and len(suffix_passes) == ran
    # decisions exactly; losses within the suffix check's tolerance (they are computed from one suffix, not one pass)
    np.testing.assert_array_equal(fast.per_reference["correct"], full.per_reference["correct"])
    assert fast.accuracy == full.accuracy and fast.accuracy_original == full.accuracy_original
    for key in ("scrubbed", "original", "random"):
        np.testing.assert_allclose(fast.per_reference[key], full.per_reference[key], rtol=0, atol=10 * TOLERANCE)
    for est in ("loss_recovered", "loss_scrubbed"):
        a, b = getattr(fast, est), getattr(full, est)
        np.testing.assert_allclose([a.value, a.lo, a.hi], [b.value, b.lo, b.hi], rtol=0, atol=1e-4)


def test_final_sites_at_several_locations_keep_the_full_pass_and_say_why() -> None:
    net, hyp, align, data = _load("tracr/tracr_frac_prevs.py", "tracr_programs.py:FracPrevsExclusive")
    r = scrub(net, hyp, align, data, n=50, seed=0, loss="error")
    # the final pass in full (and why); its one inner level patches one location and runs on the suffix
    assert r.execution == "patch: the sites of the final pass lie at more than one module location; height 1: suffix"
    assert r.to_dict()["execution"] == r.execution


def test_a_memory_bound_too_small_keeps_the_full_pass() -> None:
    net, hyp, align, data = _load("heq_handbuilt.py", "hierarchical_equality.py:HierarchicalEquality")
    small = scrub(net, hyp, align, data, n=200, seed=0, memory=64)
    assert small.execution.startswith("patch: ") and "memory bound" in small.execution
    fast = scrub(net, hyp, align, data, n=200, seed=0)
    assert fast.execution == "suffix"
    np.testing.assert_array_equal(small.per_reference["correct"], fast.per_reference["correct"])


def test_an_encoder_that_is_not_row_wise_keeps_the_full_pass() -> None:
    import attrs

    net, hyp, align, data = _load("heq_handbuilt.py", "hierarchical_equality.py:HierarchicalEquality")
    plain = net.encode.__wrapped__  # type: ignore[attr-defined]

    def batch_dependent(batch):  # type: ignore[no-untyped-def]
        return plain(batch) + 1e-3 * len(next(iter(batch.values())))  # a row's encoding depends on its batch

    r = scrub(attrs.evolve(net, encode=batch_dependent), hyp, align, data, n=100, seed=0)
    assert r.execution == "patch: the network's encode is not row-wise, so a row's prefix would depend on its batch"
