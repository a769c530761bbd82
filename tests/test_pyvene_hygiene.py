"""The pyvene backend's cache and hygiene: models built once per site set, rotations kept in sync, user hooks
survive, and malformed sites raise the native backend's errors and leave no hooks.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

pv = pytest.importorskip("pyvene")
transformers = pytest.importorskip("transformers")

from _pyvene_nets import DEVICE, R16, TOL, batch, first_value, logits, make_gpt2, make_mlp  # noqa: E402

from causalabs.backends import get_backend  # noqa: E402
from causalabs.backends import pyvene_backend as pvb  # noqa: E402
from causalabs.backends.hooks import hook_count  # noqa: E402
from causalabs.errors import BackendError, BatchShapeError, SiteError, UnknownModuleError  # noqa: E402
from causalabs.network import (  # noqa: E402
    Featurizer,
    Network,
    Rotation,
    Site,
    random_rotation,
    site,
)

pytestmark = pytest.mark.pyvene


@pytest.fixture(scope="module")
def mlp() -> Network:
    return make_mlp()


@pytest.fixture(scope="module")
def gpt2() -> Network:
    return make_gpt2()


# --- caching and hygiene ------------------------------------------------------------------


def test_models_are_built_once_per_site_set(gpt2: Network, monkeypatch: pytest.MonkeyPatch) -> None:
    pvb.clear_cache()
    built = []
    real = pvb.build_intervenable
    monkeypatch.setattr(pvb, "build_intervenable", lambda *a, **k: built.append(a) or real(*a, **k))
    be = get_backend("pyvene")
    base, src = batch(4, 1), batch(4, 2)
    for positions in [(0,), (1, 2), first_value]:
        for units in [None, range(5)]:
            be.interchange(gpt2, base, [(site("transformer.h.0", positions=positions, units=units), src)])
    assert len(built) == 1
    get_backend("pyvene").interchange(gpt2, base, [(site("transformer.h.1"), src)])
    assert len(built) == 2 and pvb.cache_size() == 2
    pvb.clear_cache()
    assert pvb.cache_size() == 0


def test_cached_rotation_follows_the_featurizer(gpt2: Network) -> None:
    """A Rotation changed in place after a call is picked up by the cached model."""
    rot = Rotation(random_rotation(32, seed=11)).to(DEVICE)
    s = site("transformer.h.0", positions=(1,), featurizer=rot, dims=(0, 6))
    base, src = batch(6, 1), batch(6, 2)
    get_backend("pyvene").interchange(gpt2, base, [(s, src)])
    rot.matrix.copy_(random_rotation(32, seed=12))
    theirs = logits(get_backend("pyvene").interchange(gpt2, base, [(s, src)]))
    native = logits(get_backend("native").interchange(gpt2, base, [(s, src)]))
    assert (native - theirs).abs().max() < TOL


def test_user_hooks_survive(gpt2: Network) -> None:
    """pyvene itself clears every hook of the model; the backend keeps the ones it did not add."""
    calls = []
    handle = gpt2.module.transformer.h[1].register_forward_hook(lambda *a: calls.append(1))
    try:
        get_backend("pyvene").interchange(gpt2, batch(3, 1), [(site("transformer.h.0"), batch(3, 2))])
        assert hook_count(gpt2.module) == 1
        assert len(calls) == 2  # source pass and base pass
    finally:
        handle.remove()
    assert hook_count(gpt2.module) == 0


class _Square(Featurizer):
    """Invertible but not orthogonal: pyvene has no intervention for it."""

    width = 32

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * 2

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z / 2


def test_a_featurizer_pyvene_cannot_express_raises(gpt2: Network) -> None:
    s = site("transformer.h.0", featurizer=_Square(), dims=(0, 4))
    with pytest.raises(BackendError, match=r"site transformer.h.0.output<_Square\[0:4\]>: pyvene cannot express"):
        get_backend("pyvene").interchange(gpt2, batch(3, 1), [(s, batch(3, 2))])
    assert hook_count(gpt2.module) == 0


@pytest.mark.parametrize("backend", ["native", "pyvene"])
@pytest.mark.parametrize(
    ("make_site", "error", "words"),
    [
        (lambda: site("transformer.h.0", positions=(9,)), SiteError, "out of range"),
        (lambda: site("transformer.h.0.mlp.c_fc", units=[400]), SiteError, "unit index 400"),
        (lambda: site("transformer.h.9"), UnknownModuleError, "transformer.h.9"),
        (lambda: site("transformer.h.0", featurizer=R16, dims=(0, 4)), SiteError, "width 24"),
    ],
)
def test_bad_sites_raise_alike_and_leave_no_hooks(
    gpt2: Network, backend: str, make_site: Callable[[], Site], error: type, words: str
) -> None:
    s = make_site()
    with pytest.raises(error) as info:
        get_backend(backend).interchange(gpt2, batch(3, 1), [(s, batch(3, 2))])
    assert words in str(info.value)
    assert s.module in str(info.value)
    assert hook_count(gpt2.module) == 0


@pytest.mark.parametrize("backend", ["native", "pyvene"])
def test_positions_on_a_flat_activation_raise(mlp: Network, backend: str) -> None:
    s = site("1", positions=(0,))
    with pytest.raises(SiteError, match=r"1\.output\[pos 0\].*no position axis"):
        get_backend(backend).interchange(mlp, batch(3, 1), [(s, batch(3, 2))])
    assert hook_count(mlp.module) == 0


def test_module_that_never_runs_raises(mlp: Network) -> None:
    module = nn.Sequential(nn.Linear(16, 2), nn.Linear(2, 2))
    net = Network(module, mlp.encode, mlp.decode, name="skips", call=lambda m, x: m[0](x))
    with pytest.raises(SiteError, match="site 1.output: the module never ran in skips"):
        get_backend("pyvene").interchange(net, batch(3, 1), [(site("1"), batch(3, 2))])
    assert hook_count(module) == 0


@pytest.mark.parametrize("backend", ["native", "pyvene"])
def test_mismatched_source_batches_raise_alike(gpt2: Network, backend: str) -> None:
    s = site("transformer.h.0")
    with pytest.raises(BatchShapeError, match="transformer.h.0.output: the source batch has 2 rows for 3 base rows"):
        get_backend(backend).interchange(gpt2, batch(3, 1), [(s, batch(2, 2))])
    short = {k: v for k, v in batch(3, 2).items() if k != "y"}
    with pytest.raises(BatchShapeError, match=r"transformer.h.0.output: the source batch lacks the input\(s\) y"):
        get_backend(backend).interchange(gpt2, batch(3, 1), [(s, short)])
    assert hook_count(gpt2.module) == 0


def test_loading_the_pyvene_backend_prints_nothing_on_stdout() -> None:
    """stdout carries reports (``--json -``): pyvene's notice about nnsight, printed on import, is kept off it."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import causalabs.backends.pyvene_interop"], capture_output=True, text=True, check=True
    )
    assert done.stdout == ""
