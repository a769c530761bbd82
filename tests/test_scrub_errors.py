"""Causal scrubbing and path patching: bad correspondences and datasets fail loudly and clean up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from causalabs import enumerate_inputs
from causalabs.backends.hooks import hook_count
from causalabs.errors import (
    CausalabsError,
    CorrespondenceError,
    OverlappingSubspaceError,
    ScrubError,
    SiteError,
    UnknownModuleError,
    UnmatchedValueError,
)
from causalabs.loading import load_hypothesis, load_module
from causalabs.network import load_network, site
from causalabs.scrub import correspondence, path_patch, scrub

ROOT = Path(__file__).resolve().parents[1]
HEQ = ROOT / "models" / "heq_handbuilt.py"
HEQ_HYP = ROOT / "hypotheses" / "hierarchical_equality.py"


@pytest.fixture(scope="module")
def heq():
    net = load_network(HEQ)
    h = load_hypothesis(f"{HEQ_HYP}:HierarchicalEquality")
    return net, h, load_module(HEQ).alignment(), enumerate_inputs(h)


def test_unknown_node_is_named(heq):
    _, h, _, _ = heq
    with pytest.raises(CorrespondenceError, match="'middle'") as e:
        correspondence(h, {"middle": site("2")})
    assert isinstance(e.value, ValueError) and isinstance(e.value, CausalabsError)


def test_input_variable_cannot_be_claimed(heq):
    _, h, _, _ = heq
    with pytest.raises(CorrespondenceError, match="input variable 'w'"):
        correspondence(h, {"w": site("0")})


def test_site_that_does_not_exist_is_named_and_leaves_no_hooks(heq):
    net, h, _, data = heq
    with pytest.raises(UnknownModuleError, match="'nope'"):
        scrub(net, h, {"left": site("nope"), "right": site("2", units=[1])}, data, n=10)
    assert hook_count(net.module) == 0


def test_overlapping_claims_are_refused(heq):
    _, h, _, _ = heq
    with pytest.raises(OverlappingSubspaceError):
        correspondence(h, {"left": site("2", units=[0, 1]), "right": site("2", units=[1])})


def test_child_site_running_after_its_parent_breaks_the_order(heq):
    net, h, _, data = heq
    bad = {"out": site("0"), "left": site("3"), "right": site("2", units=[1])}
    with pytest.raises(CorrespondenceError, match="'left' feeds 'out'.*3.output"):
        scrub(net, h, bad, data, n=10)
    same = {"out": site("2", units=[2]), "left": site("2", units=[0]), "right": site("1")}
    with pytest.raises(CorrespondenceError, match="'left'"):
        scrub(net, h, same, data, n=10)
    assert hook_count(net.module) == 0


def _without_left_equal(data):
    keep = data["w"] != data["x"]  # left = 0 everywhere: no input agrees on left = 1
    return {k: v[keep] for k, v in data.items()}


def test_missing_agreeing_input_is_reported_with_the_count(heq):
    net, h, align, data = heq
    pool = _without_left_equal(data)
    refs = {k: v[:64] for k, v in data.items()}  # w = 0, x = 0 .. 3: 16 of these 64 have w == x
    affected = int((refs["w"] == refs["x"]).sum())
    with pytest.raises(UnmatchedValueError, match=f"{affected} of 64 references.*left=1") as e:
        scrub(net, h, align, pool, references=refs)
    assert isinstance(e.value, LookupError)
    r = scrub(net, h, align, pool, references=refs, on_missing="drop")
    assert r.dropped == affected and r.n == 64 - affected


def test_bad_on_missing_and_empty_dataset(heq):
    net, h, align, data = heq
    with pytest.raises(ScrubError, match="on_missing"):
        scrub(net, h, align, data, n=5, on_missing="guess")  # type: ignore[arg-type]
    empty = {k: v[:0] for k, v in data.items()}
    with pytest.raises(UnmatchedValueError, match="empty"):
        scrub(net, h, align, empty, references={k: v[:3] for k, v in data.items()})


def test_path_patching_receiver_before_sender_is_refused(heq):
    net, _, _, data = heq
    base = {k: v[:8] for k, v in data.items()}
    with pytest.raises(ScrubError, match="receiver 0.output does not run after"):
        path_patch(net, base, base, site("2"), [site("0")])
    with pytest.raises(ScrubError, match="no receivers"):
        path_patch(net, base, base, site("2"), [])
    with pytest.raises(SiteError):
        path_patch(net, base, base, site("2"), [site("missing")])
    assert hook_count(net.module) == 0
    assert np.all(np.isfinite(path_patch(net, base, base, site("2"), [site("3")]).clean))


def test_all_references_dropped_and_bad_sizes(heq):
    net, h, align, data = heq
    pool = _without_left_equal(data)
    refs = {k: v[:1] for k, v in data.items()}  # w = x = 0 only: left = 1, missing
    with pytest.raises(ScrubError, match="no references left.*1 dropped"):
        scrub(net, h, align, pool, references=refs, on_missing="drop")
    with pytest.raises(ScrubError, match="batch_size"):
        scrub(net, h, align, data, n=5, batch_size=0)
    with pytest.raises(ScrubError, match="n must be"):
        scrub(net, h, align, data, n=0)
