"""DAS and Boundless DAS on cached site activations: the same fit as the full-network step.

The suffix step and the full patched step compute the same function of the
same batches, so the learned bases agree up to float rounding (stated
tolerance) and the held-out IIA is the same; the cache is really used
(the prepared data holds it, and a step never runs the layers before the site).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import causalabs as ca
from causalabs.align.boundless import fit_boundless
from causalabs.align.das import _prepare, fit_das
from causalabs.backends.native import NativeBackend
from causalabs.engine import evaluate_pairs
from causalabs.loading import load_attr
from causalabs.network import Site, load_network

ROOT = Path(__file__).resolve().parent.parent
HEQ = load_attr(str(ROOT / "hypotheses/hierarchical_equality.py:HierarchicalEquality"))
ROTATED = ROOT / "models/heq_rotated.py"


def _data() -> tuple[list, list]:
    train = [ca.random_pairs(HEQ, [v], 384, seed=i) for i, v in enumerate(["left", "right"])]
    test = [ca.random_pairs(HEQ, [v], 300, seed=10 + i) for i, v in enumerate(["left", "right"])]
    return train, test


def _heldout_iia(net, alignment, test) -> list[float]:  # type: ignore[no-untyped-def]
    return [float(np.mean(evaluate_pairs(net, alignment, ds).correct)) for ds in test]


def test_the_prefix_runs_once_per_fit_and_a_step_is_a_suffix() -> None:
    net = load_network(ROTATED)
    train, _ = _data()
    p = _prepare(NativeBackend(), net, Site("2"), train[0], 256)
    assert p.cached is not None and p.cached.suffix.kind == "sequential"
    distinct = len(np.unique(np.stack([train[0].base[k] for k in train[0].base], 1), axis=0))
    assert p.cached.acts.shape[0] == distinct
    calls = []
    first = net.module[0]
    handle = first.register_forward_hook(lambda *a: calls.append(1))
    try:
        fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=1, seed=0, fast_mlp=False, patience=None)
    finally:
        handle.remove()
    # the first layer runs only while the prefixes are recorded (a few passes), never on a training step
    steps = sum(-(-len(ds.expected) // 32) for ds in train)
    assert len(calls) < steps


def test_das_on_cached_activations_fits_as_the_full_step_does() -> None:
    net = load_network(ROTATED)
    train, test = _data()
    kw = {"epochs": 2, "seed": 0, "fast_mlp": False, "patience": None}
    fast = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, suffix=True, **kw)
    full = fit_das(net, Site("2"), {"left": 1, "right": 1}, train, suffix=False, **kw)
    assert (fast.execution, full.execution) == ("suffix", "full")  # the result says how a step ran
    assert fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=1, seed=0, patience=None).execution == "mlp-tail"
    torch.testing.assert_close(fast.basis, full.basis, atol=1e-4, rtol=0)
    assert _heldout_iia(net, fast.alignment, test) == _heldout_iia(net, full.alignment, test)


def test_boundless_on_cached_activations_fits_as_the_full_step_does() -> None:
    net = load_network(ROTATED)
    train, test = _data()
    kw = {"epochs": 2, "seed": 0, "patience": None}
    fast = fit_boundless(net, Site("2"), ["left", "right"], train, suffix=True, **kw)
    full = fit_boundless(net, Site("2"), ["left", "right"], train, suffix=False, **kw)
    assert (fast.execution, full.execution) == ("suffix", "full")
    assert fast.alignment.sites["left"].subspace.dims == full.alignment.sites["left"].subspace.dims
    a, b = _heldout_iia(net, fast.alignment, test), _heldout_iia(net, full.alignment, test)
    assert a == pytest.approx(b, abs=0.01)
