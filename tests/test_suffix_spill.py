"""Spilling recorded tensors to host memory when they exceed the device's bound.

On an accelerator, the tensors the suffix paths record (the whole tensor at
the site, and a causal decoder's keys and values) are held in host memory
up to ``host_memory`` bytes once they exceed ``memory``, each batch's rows
moved back to the device as it runs; without that, the prefix-cached path
records its bases a second time by chunks and the position-local path falls
back.  No accelerator runs here (CI has none), so the spill decision is
forced on the CPU: the host is then the device, and what is checked is the
logic (each input's prefix recorded once, rows taken back in the right
order, the same decisions as the full path), not the transfer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_suffix import _hf, _token_pairs

from causalabs.engine import evaluate_pairs
from causalabs.engine import prefixes
from causalabs.network import Alignment, site


def _forced(device: torch.device, need: int, host_memory: int) -> torch.device | None:
    return torch.device("cpu") if need <= host_memory else None


def _rows_through_first_block(net, run) -> int:  # type: ignore[no-untyped-def]
    seen: list[int] = []
    handle = net.module.get_submodule(f"{net.info['blocks']}.0").register_forward_hook(
        lambda m, a, out: seen.append(int((out[0] if isinstance(out, tuple) else out).shape[0]))
    )
    try:
        run()
    finally:
        handle.remove()
    return sum(seen)


def test_the_spill_target_is_the_host_for_an_accelerator_only() -> None:
    assert prefixes.spill_target(torch.device("cpu"), 10, 100) is None
    assert prefixes.spill_target(torch.device("cuda", 0), 10, 100) == torch.device("cpu")
    assert prefixes.spill_target(torch.device("cuda", 0), 101, 100) is None


def test_spilled_prefixes_run_once_per_input_and_decide_as_the_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    net = _hf("gpt2", logits_to_keep=0)
    pairs = _token_pairs(90, seed=2)
    align = Alignment({"v": site(f"{net.info['blocks']}.1", positions=(0,))})  # position 0: not the local path
    table = np.stack([np.concatenate([pairs.base[f"t{i}"], pairs.sources["v"][f"t{i}"]]) for i in range(6)], 1)
    distinct = len(np.unique(table, axis=0))
    memory = 6 * 32 * 4 * 3  # three inputs' tensors at the site: not all of them
    full = evaluate_pairs(net, align, pairs, batch_size=8, suffix=False)

    def run(**kw: int):  # type: ignore[no-untyped-def]
        out = {}
        out["rows"] = _rows_through_first_block(
            net, lambda: out.setdefault("res", evaluate_pairs(net, align, pairs, batch_size=8, memory=memory, **kw))
        )
        return out["res"], out["rows"]

    evaluate_pairs(net, align, pairs, batch_size=8)  # the suffix's check (a few rows) runs once, here
    chunked, rows_chunked = run()
    at_0 = "suffix: a patch at position 0 leaves no earlier position to cache"
    assert chunked.execution == at_0 and rows_chunked > distinct  # the bases' prefixes ran again
    monkeypatch.setattr(prefixes, "spill_target", _forced)
    spilled, rows_spilled = run()
    assert spilled.execution == at_0
    assert rows_spilled == distinct  # every input's prefix once
    np.testing.assert_array_equal(spilled.predicted, full.predicted)
    np.testing.assert_array_equal(spilled.predicted, chunked.predicted)
    _, rows_bounded = run(host_memory=memory)  # beyond the host's bound too: by chunks again
    assert rows_bounded == rows_chunked


@pytest.mark.parametrize("keep", [1, 0])  # with every position's logits read, those before the patch spill too
def test_spilled_keys_and_values_keep_the_position_local_path(monkeypatch: pytest.MonkeyPatch, keep: int) -> None:
    net = _hf("gpt2", logits_to_keep=keep)
    pairs = _token_pairs(90, seed=4)
    align = Alignment({"v": site(f"{net.info['blocks']}.0", positions=(-1,))})
    memory = 1000  # far less than the keys and values of every input
    full = evaluate_pairs(net, align, pairs, batch_size=8, suffix=False)
    assert evaluate_pairs(net, align, pairs, batch_size=8, memory=memory).execution != "suffix-local"
    monkeypatch.setattr(prefixes, "spill_target", _forced)
    spilled = evaluate_pairs(net, align, pairs, batch_size=8, memory=memory)
    assert spilled.execution == "suffix-local"
    np.testing.assert_array_equal(spilled.predicted, full.predicted)
    np.testing.assert_allclose(spilled.prob_expected, full.prob_expected, atol=1e-6, rtol=0)  # type: ignore[arg-type]
    bounded = evaluate_pairs(net, align, pairs, batch_size=8, memory=memory, host_memory=memory)
    assert bounded.execution != "suffix-local"


def test_exhaustive_prefixes_spill_instead_of_giving_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from causalabs.backends.native import NativeBackend
    from causalabs.network.network import encode

    net = _hf("gpt2", logits_to_keep=0)
    pairs = _token_pairs(30, seed=6)
    inputs = pairs.base
    encoded = encode(net, inputs)
    sites = [site(f"{net.info['blocks']}.1", positions=(-1,))]
    held = prefixes.cached_prefix(NativeBackend(), net, inputs, encoded, sites, 8)
    assert held is not None
    small = 6 * 32 * 4 * 3  # three rows' tensors
    assert prefixes.cached_prefix(NativeBackend(), net, inputs, encoded, sites, 8, memory=small) is None
    monkeypatch.setattr(prefixes, "spill_target", _forced)
    spilled = prefixes.cached_prefix(NativeBackend(), net, inputs, encoded, sites, 8, memory=small)
    assert spilled is not None
    torch.testing.assert_close(spilled[2], held[2], rtol=0, atol=0)  # the same passes, held elsewhere
    assert prefixes.cached_prefix(NativeBackend(), net, inputs, encoded, sites, 8, memory=small, host_memory=small) is None
