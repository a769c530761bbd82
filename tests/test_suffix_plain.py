"""Plain prefixes: an ``nn.Sequential`` network recorded up to a site by calling its layers, without hooks.

A :class:`~causalabs.network.suffix.Suffix` of a sequential network carries a
``prefix`` that is kept only when it gives the hooked pass's tensor bit for
bit; the engine then records and patches without installing a hook.  Also
here: the cheap finiteness test those passes use, and the cached device and
protocol lookups every engine call makes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from causalabs.backends import collector, patcher, suffix_runner
from causalabs.backends.declaration import Capabilities
from causalabs.backends.hooks import hook_count
from causalabs.backends.native import NativeBackend
from causalabs.engine import evaluate_pairs
from causalabs.errors import BackendError, NonFiniteError
from causalabs.network.alignment import Alignment
from causalabs.network.decoded import all_finite, argmax_decoder
from causalabs.network.network import Network, encode
from causalabs.network.sites import site
from causalabs.network.suffix import checked_suffix, forget_checks

NAMES = ("a", "b", "c", "d")


def _net(seed: int = 0) -> Network:
    torch.manual_seed(seed)
    inner = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16))
    module = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), inner, nn.ReLU(), nn.Linear(16, 3)).eval()

    def enc(batch: dict[str, np.ndarray]) -> torch.Tensor:
        x = torch.as_tensor(np.stack([batch[k] for k in NAMES], axis=1))
        return nn.functional.one_hot(x, 2).flatten(1).float()

    return Network(module, enc, argmax_decoder((0, 1, 2)), name="nested")


def _rows(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.integers(0, 2, n) for k in NAMES}


class _Pairs:
    """A duck-typed counterfactual dataset (evaluate_pairs reads only these fields)."""

    def __init__(self, base: dict[str, np.ndarray], source: dict[str, np.ndarray]) -> None:
        n = len(base["a"])
        self.base, self.sources = base, {"v": source}
        self.expected = self.base_output = np.zeros(n, dtype=np.int64)
        self.intervened, self.mode, self.digest = ("v",), "random", None


PLACES = [("0", "output"), ("2.1", "output"), ("2.2", "output"), ("2.1", "input"), ("4", "input"), ("2", "output")]


@pytest.mark.parametrize(("path", "io"), PLACES)
def test_a_sequential_prefix_gives_the_hooked_tensor_bit_for_bit(path: str, io: str) -> None:
    net = _net()
    batch = _rows(32, 1)
    inputs = encode(net, batch)
    check = checked_suffix(net, path, io, inputs)
    assert check.suffix is not None and check.suffix.prefix is not None
    s = site(path, io=io)
    with torch.no_grad():
        hooked = NativeBackend().collect(net, batch, [s], inputs=inputs)[s.location_key()]
        plain = NativeBackend().record(net, batch, [s], inputs=inputs, prefix=check.suffix.prefix)[s.location_key()]
    assert torch.equal(plain, hooked)


def test_a_prefix_that_skips_a_hook_is_dropped_and_the_suffix_kept() -> None:
    net = _net()
    inputs = encode(net, _rows(8, 2))
    # a pre-hook on the nested Sequential changes what its children see; calling them one by one skips it
    handle = net.module[2].register_forward_pre_hook(lambda mod, args: (args[0] + 1.0,))
    try:
        forget_checks(net)
        check = checked_suffix(net, "2.1", "output", inputs)
        assert check.suffix is not None, check.reason  # the layers after 2.1 do not pass through the hook
        assert check.suffix.prefix is None
    finally:
        handle.remove()
        forget_checks(net)
    assert checked_suffix(net, "2.1", "output", inputs).suffix.prefix is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("pool", [None, 6])
@pytest.mark.parametrize("path", ["0", "2.1", "2"])
def test_pairs_run_without_hooks_and_decide_as_the_full_patch(
    monkeypatch: pytest.MonkeyPatch, pool: int | None, path: str
) -> None:
    net = _net()
    n = 40
    if pool is None:  # every base and source distinct (8 + 8 of the 16 inputs): full passes, each a prefix,
        # a patch and a suffix
        table = np.array(np.meshgrid(*[[0, 1]] * 4, indexing="ij")).reshape(4, -1).T
        order = np.random.default_rng(5).permutation(16)
        base = {k: table[order[:8], j] for j, k in enumerate(NAMES)}
        source = {k: table[order[8:], j] for j, k in enumerate(NAMES)}
    else:
        table = _rows(pool, 6)
        rng = np.random.default_rng(7)
        ib, i_s = rng.integers(0, pool, n), rng.integers(0, pool, n)
        base, source = {k: v[ib] for k, v in table.items()}, {k: v[i_s] for k, v in table.items()}
    pairs = _Pairs(base, source)
    align = Alignment({"v": site(path)})
    full = evaluate_pairs(net, align, pairs, batch_size=5, suffix=False)

    def no_hooks(*args: object, **kwargs: object) -> None:
        raise AssertionError("a hooked pass ran")

    monkeypatch.setattr(NativeBackend, "collect", no_hooks)
    monkeypatch.setattr(NativeBackend, "patch", no_hooks)
    plain = evaluate_pairs(net, align, pairs, batch_size=5)
    assert plain.execution == ("suffix" if pool else "patch: no base input repeats or is also a source, "
                               "so a suffix pass would save no prefix pass")
    np.testing.assert_array_equal(plain.predicted, full.predicted)
    np.testing.assert_allclose(plain.prob_expected, full.prob_expected, rtol=0, atol=1e-6)
    assert hook_count(net.module) == 0


@pytest.mark.parametrize("units", [None, (0, 1, 2, 3)])
def test_a_patch_of_the_whole_tensor_skips_the_bases_prefixes(units: tuple[int, ...] | None) -> None:
    net = _net()
    table = np.array(np.meshgrid(*[[0, 1]] * 4, indexing="ij")).reshape(4, -1).T
    order = np.random.default_rng(8).permutation(16)
    base = {k: table[order[:8], j] for j, k in enumerate(NAMES)}  # every base and source distinct
    source = {k: table[order[8:], j] for j, k in enumerate(NAMES)}
    pairs = _Pairs(base, source)
    align = Alignment({"v": site("2.1", units=units)})
    full = evaluate_pairs(net, align, pairs, batch_size=5, suffix=False)
    evaluate_pairs(net, align, pairs, batch_size=5)  # the suffix's check runs here
    rows: list[int] = []
    handle = net.module[0].register_forward_hook(lambda m, a, out: rows.append(int(out.shape[0])))
    try:
        plain = evaluate_pairs(net, align, pairs, batch_size=5)
    finally:
        handle.remove()
    assert plain.execution.startswith("patch: no base input repeats")
    np.testing.assert_array_equal(plain.predicted, full.predicted)
    np.testing.assert_allclose(plain.prob_expected, full.prob_expected, rtol=0, atol=1e-6)
    # the whole tensor patched: only the 8 sources run the first layer; some units patched: the 8 bases too
    assert sum(rows) == (8 if units is None else 16)


def test_a_non_finite_prefix_is_a_typed_error_naming_the_site() -> None:
    net = _net()
    batch = _rows(4, 8)
    s = site("2.1")

    def nan_prefix(inputs: torch.Tensor) -> torch.Tensor:
        return torch.full((inputs.shape[0], 16), float("nan"))

    with pytest.raises(NonFiniteError, match=r"site 2\.1"):
        NativeBackend().record(net, batch, [s], inputs=encode(net, batch), prefix=nan_prefix)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_all_finite_agrees_with_isfinite(dtype: torch.dtype) -> None:
    rng = torch.Generator().manual_seed(0)
    for trial in range(200):
        x = (torch.randn(7, 5, generator=rng) * 10 ** (trial % 5)).to(dtype)
        if trial % 3:
            i, j = trial % 7, trial % 5
            x[i, j] = (float("nan"), float("inf"), -float("inf"))[trial % 3]
        if trial % 11 == 0:
            x[0, 0] = torch.finfo(dtype).max  # the largest finite values are finite
            x[1, 1] = -torch.finfo(dtype).max
        assert bool(all_finite(x)) == bool(torch.isfinite(x).all()), (trial, x)
    assert all_finite(torch.zeros(0, dtype=dtype)) is True
    assert all_finite(torch.arange(4)) is True


def test_the_device_lookup_rescans_once_its_tensor_is_replaced() -> None:
    from causalabs.network import network as network_module

    net = _net()
    assert net.device == torch.device("cpu")
    assert network_module._FIRST_TENSOR[net.module][3] is net.module[0].weight
    net.module[0].weight = nn.Parameter(net.module[0].weight.detach().to("meta"))  # no data, and a new object
    assert net.device == torch.device("cpu")
    assert network_module._FIRST_TENSOR[net.module][3] is net.module[0].bias  # the next tensor holding data
    net.module[0] = nn.Linear(8, 16, device="meta")  # the owner itself replaced
    assert net.device == torch.device("cpu")
    assert network_module._FIRST_TENSOR[net.module][3] is net.module[2][0].weight
    net.module.to("meta")
    assert net.device == torch.device("cpu")  # nothing holds data: the default


def test_protocol_checks_are_cached_per_class_yet_see_instance_methods() -> None:
    class Declared:
        name = "declared"
        capabilities = Capabilities(collect=True, patch=True, suffix=True)

        def interchange(self, *args: object, **kwargs: object) -> None: ...

    with pytest.raises(BackendError, match="collect"):
        collector(Declared())
    with pytest.raises(BackendError, match="patch"):
        patcher(Declared())
    given = Declared()
    given.collect = lambda *a, **k: None  # type: ignore[attr-defined]
    assert collector(given) is given
    assert suffix_runner(NativeBackend()) is not None
