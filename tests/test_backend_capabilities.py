"""Backends declare what they can do; the engine picks its path from the declaration alone.

Every backend here delegates its work to the native backend and counts the
calls it receives, so a test can see which path the engine took and check
that every path gives the same decisions.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from _nets import heq_hypotheses, heq_network

from causalabs import errors
from causalabs.backends import (
    INTERCHANGE_ONLY,
    Backend,
    Capabilities,
    Collects,
    Interchanges,
    Patches,
    RunsSuffix,
    capabilities,
    collector,
    get_backend,
    patcher,
)
from causalabs.backends.native import NativeBackend
from causalabs.data import random_pairs
from causalabs.engine import evaluate_pairs, interchange_network
from causalabs.network import Alignment, site

H = heq_hypotheses()
NET = heq_network()
ALIGN = Alignment({"left": site("2", units=[0]), "right": site("2", units=[1])})
NATIVE = NativeBackend()


class OnlyInterchange:
    """A user backend as small as it gets: one method, no name, no declaration."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def interchange(self, network: Any, base: Any, interventions: Any, *, grad: bool = False) -> Any:
        self.calls["interchange"] += 1
        return NATIVE.interchange(network, base, interventions, grad=grad)


class AllThreeUndeclared(OnlyInterchange):
    """Has ``collect`` and ``patch`` methods but declares neither."""

    name = "undeclared"

    def collect(self, network: Any, batch: Any, sites: Any) -> Any:
        self.calls["collect"] += 1
        return NATIVE.collect(network, batch, sites)

    def patch(self, network: Any, base: Any, patches: Any, *, grad: bool = False, keep: Any = None, inputs: Any = None) -> Any:
        self.calls["patch"] += 1
        return NATIVE.patch(network, base, patches, grad=grad, keep=keep, inputs=inputs)


class AllThreeDeclared(AllThreeUndeclared):
    name = "declared"
    capabilities = Capabilities(collect=True, patch=True)


class NativeOptedOut(NativeBackend):
    """The native backend, declaring that it only interchanges."""

    capabilities = INTERCHANGE_ONLY


def _pairs() -> Any:
    return random_pairs(H.HierarchicalEquality, ["left", "right"], 300, seed=3, pool=30)


def test_a_user_backend_with_only_interchange_runs_and_agrees_with_native() -> None:
    ds = _pairs()
    be = OnlyInterchange()
    assert capabilities(be) == INTERCHANGE_ONLY and collector(be) is None and patcher(be) is None
    got = evaluate_pairs(NET, ALIGN, ds, backend=be, batch_size=64)
    ref = evaluate_pairs(NET, ALIGN, ds)
    np.testing.assert_array_equal(got.predicted, ref.predicted)
    np.testing.assert_allclose(got.prob_expected, ref.prob_expected, atol=1e-6, rtol=0)
    assert be.calls == Counter(interchange=5)  # 300 pairs, 64 a batch
    dec = interchange_network(NET, ALIGN, ds.base, {"left": ds.sources["left"]}, backend=be)
    assert dec.values.shape == (300,) and be.calls["interchange"] == 6


def test_methods_without_a_declaration_are_not_used() -> None:
    be = AllThreeUndeclared()
    evaluate_pairs(NET, ALIGN, _pairs(), backend=be, batch_size=100)
    assert be.calls == Counter(interchange=3)


def test_a_declaration_chooses_collect_and_patch() -> None:
    ds = _pairs()
    be = AllThreeDeclared()
    assert collector(be) is be and patcher(be) is be
    got = evaluate_pairs(NET, ALIGN, ds, backend=be, batch_size=100)
    # every distinct source once (30 inputs, one collect pass), then one patched pass per batch
    assert be.calls == Counter(collect=1, patch=3)
    np.testing.assert_array_equal(got.predicted, evaluate_pairs(NET, ALIGN, ds).predicted)


def test_the_native_backend_opted_out_takes_the_interchange_path(monkeypatch: pytest.MonkeyPatch) -> None:
    be = NativeOptedOut()
    calls: Counter[str] = Counter()
    for method in ("collect", "patch"):
        original = getattr(NativeBackend, method)

        def counted(self: Any, *a: Any, _m: str = method, _f: Any = original, **k: Any) -> Any:
            calls[_m] += 1
            return _f(self, *a, **k)

        monkeypatch.setattr(NativeOptedOut, method, counted)
    ds = _pairs()
    got = evaluate_pairs(NET, ALIGN, ds, backend=be, batch_size=150)
    # native interchange collects and patches once per batch: two batches, never one collect for all
    assert calls == Counter(collect=2, patch=2)
    np.testing.assert_array_equal(got.predicted, evaluate_pairs(NET, ALIGN, ds).predicted)


def test_the_shipped_backends_declare_what_they_do() -> None:
    native = get_backend("native")
    assert capabilities(native) == Capabilities(collect=True, patch=True, suffix=True)
    assert isinstance(native, Backend) and isinstance(native, Collects) and isinstance(native, Patches)
    assert isinstance(native, RunsSuffix)
    pytest.importorskip("pyvene")
    pyvene = get_backend("pyvene")
    assert capabilities(pyvene) == INTERCHANGE_ONLY and isinstance(pyvene, Interchanges)


class DeclaresPatchWithoutIt(OnlyInterchange):
    name = "liar"
    capabilities = Capabilities(collect=True, patch=True)

    def collect(self, network: Any, batch: Any, sites: Any) -> Any:
        return NATIVE.collect(network, batch, sites)


class MalformedDeclaration(OnlyInterchange):
    capabilities = {"collect": True}


def test_a_declaration_the_backend_cannot_honour_is_refused_before_any_pass() -> None:
    be = DeclaresPatchWithoutIt()
    with pytest.raises(errors.BackendError, match=r"'liar' \(DeclaresPatchWithoutIt\) declares the 'patch' capability"):
        evaluate_pairs(NET, ALIGN, _pairs(), backend=be)
    assert be.calls == Counter()
    with pytest.raises(errors.BackendError, match="MalformedDeclaration: capabilities must be .*Capabilities, got dict"):
        get_backend(MalformedDeclaration())


class SuffixWithoutRecord(OnlyInterchange):
    name = "half"
    capabilities = Capabilities(suffix=True)

    def patch_suffix(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("never called")


def test_an_unhonoured_suffix_declaration_names_the_missing_method() -> None:
    with pytest.raises(errors.BackendError, match=r"declares the 'suffix' capability but has no record\(\) method$"):
        evaluate_pairs(NET, ALIGN, _pairs(), backend=SuffixWithoutRecord())


def test_an_object_without_interchange_is_not_a_backend() -> None:
    with pytest.raises(errors.BackendError, match="backend int: not a backend"):
        get_backend(3)  # type: ignore[arg-type]


def test_capability_flags_are_booleans() -> None:
    with pytest.raises(TypeError, match="'collect'"):
        Capabilities(collect=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Capabilities(True)  # type: ignore[misc]  # keyword-only: a flag is always named


def test_interchange_network_refuses_scalar_inputs_with_a_typed_error() -> None:
    ds = _pairs()
    one = {k: int(v[0]) for k, v in ds.base.items()}  # a single input as scalars: the usual slip
    with pytest.raises(errors.BatchShapeError, match=r"the base batch gives input '\w+' as 0-D \(int\)"):
        interchange_network(NET, ALIGN, one, {"left": ds.sources["left"]})
    with pytest.raises(errors.BatchShapeError, match=r"the source batch of 'left' gives input"):
        interchange_network(NET, ALIGN, ds.base, {"left": {k: int(v[0]) for k, v in ds.sources["left"].items()}})
    rows = {k: np.atleast_1d(v) for k, v in one.items()}
    assert len(interchange_network(NET, ALIGN, rows, {"left": rows}).values) == 1
