"""DAS on position-local suffixes: a step at token positions of a causal decoder runs only the positions from the patch on.

What is shown, on tiny random GPT-2 and Llama configs that read the last
logits or every position's: the position-local step's loss and gradients equal the whole-suffix
step's (float rounding: loss within 1e-6, gradients within 1e-5 absolute);
a fit learns the same basis on the local, whole-suffix and full-network
paths (1e-4); a step really runs only the positions from the patch on and
never a block before the site; positions given per example (a function of
the batch) take the local path when they are the same in every row, the
whole suffix otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from test_suffix import _hf

from causalabs.align.cached import patched_output
from causalabs.align.das import _prepare, fit_das
from causalabs.align.rotation import LearnedRotation
from causalabs.backends.native import NativeBackend
from causalabs.network import Network
from causalabs.network.sites import Site, Subspace, fixed_positions


class _Pairs:
    """Counterfactual pairs of 6-token inputs with seeded targets among the decoder's 3 classes."""

    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        table = rng.integers(1, 50, (10, 6))
        base, src = table[rng.integers(0, 10, n)], table[rng.integers(0, 10, n)]
        self.base = {f"t{i}": np.ascontiguousarray(base[:, i]) for i in range(6)}
        self.sources = {"v": {f"t{i}": np.ascontiguousarray(src[:, i]) for i in range(6)}}
        self.expected = rng.integers(0, 3, n)
        self.base_output = np.zeros(n, dtype=np.int64)
        self.intervened = ("v",)


def _step(net: Network, location: Site, pairs: _Pairs, *, local: bool) -> tuple[str, float, torch.Tensor]:
    """One training step's path, loss and gradient of the rotation on every pair."""
    be = NativeBackend()
    p = _prepare(be, net, location, pairs, 256, True, local)
    assert p.cached is not None
    rot = LearnedRotation(32, 3, seed=1)
    s = Site(location.module, location.io, location.positions, Subspace(featurizer=rot, dims=(0, 3)))
    rows = torch.arange(len(pairs.expected))
    for param in net.module.parameters():
        param.requires_grad_(False)
    patches = [(s, p.vectors.index_select(0, p.index[0]))]
    out = patched_output(be, net, p.cached, pairs.base, patches, p.inputs, rows, grad=True)
    dec = net.decode(out)
    loss = torch.nn.functional.cross_entropy(dec.scores, torch.as_tensor(pairs.expected))
    loss.backward()
    (grad,) = [q.grad for q in rot.parameters()]
    assert grad is not None
    return p.cached.kind, float(loss.detach()), grad


@pytest.mark.parametrize("keep", [1, 0])  # the last logits, or every position's (those before the patch from the base)
@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize(("layer", "positions"), [(0, (-1,)), (1, (3, 5))])
def test_a_local_step_has_the_whole_suffix_loss_and_gradients(
    family: str, layer: int, positions: tuple[int, ...], keep: int
) -> None:
    net = _hf(family, logits_to_keep=keep)
    location = Site(f"{net.info['blocks']}.{layer}", "output", positions)
    pairs = _Pairs(40, seed=2)
    kind, loss, grad = _step(net, location, pairs, local=True)
    whole_kind, whole_loss, whole_grad = _step(net, location, pairs, local=False)
    assert (kind, whole_kind) == ("suffix-local", "hf-decoder")
    assert loss == pytest.approx(whole_loss, abs=1e-6)
    assert float(grad.abs().max()) > 1e-4  # a real gradient, not zeros on both sides
    torch.testing.assert_close(grad, whole_grad, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("family", "keep"), [("gpt2", 1), ("llama", 1), ("gpt2", 0)])
def test_a_fit_learns_the_same_basis_on_every_path(family: str, keep: int) -> None:
    net = _hf(family, logits_to_keep=keep)
    location = Site(f"{net.info['blocks']}.1", "output", (-1,))
    train = [_Pairs(96, seed=5)]
    kw: dict[str, Any] = {"epochs": 3, "seed": 0, "patience": None, "batch_size": 32}
    local = fit_das(net, location, {"v": 2}, train, **kw)
    whole = fit_das(net, location, {"v": 2}, train, local=False, **kw)
    full = fit_das(net, location, {"v": 2}, train, suffix=False, **kw)
    assert (local.execution, whole.execution, full.execution) == ("suffix-local", "suffix", "full")
    assert not torch.equal(local.basis, LearnedRotation(32, 2, seed=0).frozen().cpu())  # it trained
    torch.testing.assert_close(local.basis, whole.basis, atol=1e-4, rtol=0)
    torch.testing.assert_close(local.basis, full.basis, atol=1e-4, rtol=0)
    np.testing.assert_allclose(local.losses, full.losses, atol=1e-5, rtol=0)


def test_a_local_step_runs_only_the_positions_from_the_patch_on() -> None:
    net = _hf("llama", logits_to_keep=1)
    blocks = net.module.get_submodule(net.info["blocks"])
    seen: dict[int, list[int]] = {0: [], 1: [], 2: []}
    handles = [
        b.register_forward_pre_hook(lambda m, a, k, i=i: seen[i].append((a[0] if a else k["hidden_states"]).shape[1]),
                                    with_kwargs=True)
        for i, b in enumerate(blocks)
    ]
    try:
        p = _prepare(NativeBackend(), net, Site(f"{net.info['blocks']}.1", "output", (4, 5)), _Pairs(20, seed=3), 256)
        for v in seen.values():
            v.clear()  # recording the cache ran every block once
        _step(net, Site(f"{net.info['blocks']}.1", "output", (4, 5)), _Pairs(20, seed=3), local=True)
    finally:
        for h in handles:
            h.remove()
    assert p.cached is not None and p.cached.kind == "suffix-local"
    assert p.cached.local is not None and all(k.shape[2] == 4 for k, _ in p.cached.local.cache.kv)  # keys before position 4
    # _step prepares again (full passes of 6 tokens); its training step runs block 2 on positions 4 and 5 only
    assert seen[2][-1] == 2 and 2 not in seen[0] and 2 not in seen[1]


def test_positions_per_example_take_the_local_path_when_they_agree() -> None:
    net = _hf("gpt2", logits_to_keep=1)
    pairs = _Pairs(30, seed=4)
    same = Site(f"{net.info['blocks']}.0", "output", lambda b: np.full(len(b["t0"]), -2))
    varying = Site(f"{net.info['blocks']}.0", "output", lambda b: np.where(b["t0"] > 25, -1, -2))
    assert fixed_positions(net, same, pairs.base) == (-2,)
    assert fixed_positions(net, varying, pairs.base) is None
    be = NativeBackend()
    got = {name: _prepare(be, net, s, pairs, 256).cached for name, s in (("same", same), ("varying", varying))}
    assert got["same"] is not None and got["same"].kind == "suffix-local"
    assert got["varying"] is not None and got["varying"].kind == "hf-decoder"


def test_a_local_cache_over_the_memory_bound_is_refused_after_one_chunk() -> None:
    from causalabs.align.cached import record_bases
    from causalabs.network.network import encode

    net = _hf("gpt2", logits_to_keep=0)  # every position's logits: those before the patch are kept too
    pairs = _Pairs(40, seed=3)
    location = Site(f"{net.info['blocks']}.1", "output", (-1,))
    inputs = encode(net, pairs.base)
    be = NativeBackend()
    roomy = record_bases(be, net, location, pairs.base, inputs, batch_size=2)  # the local suffix's check runs here
    assert roomy is not None and roomy.kind == "suffix-local" and roomy.local is not None
    before = roomy.local.cache.before
    assert before is not None and before.shape[1:] == (5, 50)  # the logits of positions 0-4, vocabulary 50
    per_row = roomy.acts[:1].nbytes + roomy.local.cache.nbytes / len(roomy.acts)

    def rows_through_the_last_block(**kw: Any) -> tuple[Any, list[int]]:
        seen: list[int] = []

        def count(module: torch.nn.Module, args: object, out: Any) -> None:
            seen.append(int((out[0] if isinstance(out, tuple) else out).shape[0]))

        handle = net.module.transformer.h[2].register_forward_hook(count)
        try:
            return record_bases(be, net, location, pairs.base, inputs, batch_size=2, **kw), seen
        finally:
            handle.remove()

    rows_through_the_last_block(local=False)  # the whole suffix's check runs here
    whole, whole_rows = rows_through_the_last_block(local=False)
    tight, rows = rows_through_the_last_block(memory=int(5 * per_row))
    assert len(roomy.acts) > 5  # more distinct bases than the bound holds
    assert whole is not None and tight is not None and tight.kind == whole.kind == "hf-decoder"  # the whole suffix
    assert rows == [2, *whole_rows]  # one local chunk of 2 rows told how much all of them would hold
