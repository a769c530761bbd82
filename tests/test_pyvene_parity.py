"""The pyvene backend matches the native backend: counterfactual outputs, gradients and IIA.

Networks are built in _pyvene_nets.py, seeded: an MLP over four input values and a tiny
randomly initialised Hugging Face GPT-2 reading four tokens.  pyvene is
imported once for the module (the import takes seconds).  Set
``CAUSALABS_TEST_DEVICE=cuda`` to run the same checks on a GPU.  Caching and
errors: test_pyvene_hygiene.py; export and import: test_pyvene_interop.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

pv = pytest.importorskip("pyvene")
transformers = pytest.importorskip("transformers")

from _pyvene_nets import (  # noqa: E402
    DEVICE,
    HE,
    R16,
    R32,
    TOL,
    batch,
    first_value,
    logits,
    make_gpt2,
    make_mlp,
    module_state,
)

from causalabs.backends import get_backend  # noqa: E402
from causalabs.backends.hooks import hook_count  # noqa: E402
from causalabs.data import random_pairs  # noqa: E402
from causalabs.engine import evaluate_pairs  # noqa: E402
from causalabs.metrics import iia  # noqa: E402
from causalabs.network import (  # noqa: E402
    Alignment,
    Network,
    Rotation,
    Site,
    encode,
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


# --- counterfactual outputs --------------------------------------------------------------


PARTIAL = Rotation(random_rotation(32, seed=5)[:, :6]).to(DEVICE)

Case = Callable[[], list[Site]]
MLP_CASES: dict[str, Case] = {
    "all units": lambda: [site("1")],
    "explicit units": lambda: [site("2", units=[0, 3, 5, 17])],
    "rotated": lambda: [site("2", featurizer=R16, dims=(2, 9))],
    "input of a module": lambda: [site("2", io="input", units=range(12))],
    "two sites, two sources": lambda: [site("1", units=range(8)), site("3", featurizer=R16, dims=(0, 5))],
    "one module, two sources": lambda: [site("1", units=range(0, 12)), site("1", units=range(12, 24))],
}
GPT2_CASES: dict[str, Case] = {
    "block, all positions": lambda: [site("transformer.h.0")],
    "fixed positions": lambda: [site("transformer.h.0", positions=(1, 3))],
    "negative position": lambda: [site("transformer.h.1", positions=-1)],
    "per-example positions": lambda: [site("transformer.h.0", positions=first_value)],
    "explicit units": lambda: [site("transformer.h.1", positions=(0, 2), units=[1, 4, 9, 30])],
    "rotated": lambda: [site("transformer.h.0", positions=(2,), featurizer=R32, dims=(3, 10))],
    "rotated, per-example": lambda: [site("transformer.h.1", positions=first_value, featurizer=R32, dims=(0, 8))],
    "partial rotation": lambda: [site("transformer.h.0", positions=(0, 1), featurizer=PARTIAL, dims=(0, 6))],
    "block input": lambda: [site("transformer.h.1", io="input", positions=(1,))],
    "inner module": lambda: [site("transformer.h.0.mlp", positions=(3,), units=range(16))],
    "two sites, two sources": lambda: [
        site("transformer.h.0", positions=(0,), units=range(16)),
        site("transformer.h.1", positions=first_value, featurizer=R32, dims=(4, 12)),
    ],
    "one block, two positions, two sources": lambda: [
        site("transformer.h.0", positions=(0, 1)),
        site("transformer.h.0", positions=(2, 3), featurizer=R32, dims=(0, 16)),
    ],
}


def _check_case(net: Network, sites: list[Site], n: int = 12) -> None:
    base = batch(n, seed=1)
    interventions = [(s, batch(n, seed=10 + i)) for i, s in enumerate(sites)]
    state = module_state(net)
    native = logits(get_backend("native").interchange(net, base, interventions))
    theirs = logits(get_backend("pyvene").interchange(net, base, interventions))
    plain = logits(get_backend("native").interchange(net, base, []))
    assert native.shape == theirs.shape
    diff = (native - theirs).abs().max().item()
    assert diff < TOL, f"native and pyvene differ by {diff:.3g} for {[s.name for s in sites]}"
    # the intervention did something (a no-op in both backends would also agree)
    assert (native - plain).abs().max().item() > 1e-3
    assert hook_count(net.module) == 0
    assert module_state(net) == state


@pytest.mark.parametrize("case", list(MLP_CASES))
def test_mlp_counterfactual_outputs_match(mlp: Network, case: str) -> None:
    _check_case(mlp, MLP_CASES[case]())


@pytest.mark.parametrize("case", list(GPT2_CASES))
def test_gpt2_counterfactual_outputs_match(gpt2: Network, case: str) -> None:
    _check_case(gpt2, GPT2_CASES[case]())


def test_each_source_goes_to_its_own_site(gpt2: Network) -> None:
    """Swapping which source feeds which site changes the output, identically in both backends."""
    base, a, b = batch(10, 1), batch(10, 2), batch(10, 3)
    s0, s1 = site("transformer.h.0", positions=(0,)), site("transformer.h.1", positions=(3,))
    outs = {}
    for name in ("native", "pyvene"):
        be = get_backend(name)
        outs[name] = (
            logits(be.interchange(gpt2, base, [(s0, a), (s1, b)])),
            logits(be.interchange(gpt2, base, [(s0, b), (s1, a)])),
        )
    assert (outs["native"][0] - outs["native"][1]).abs().max() > 1e-3
    for i in range(2):
        assert (outs["native"][i] - outs["pyvene"][i]).abs().max() < TOL


def test_gradients_match_after_the_site(mlp: Network) -> None:
    """With grad=True both backends give the same gradient on the weights after the site.

    (Before the site they differ by design: the native backend treats source
    vectors as constants, pyvene backpropagates into the source pass too.)
    """
    base, src = batch(8, 1), batch(8, 2)
    s = site("2", featurizer=R16, dims=(0, 6))
    grads = []
    for name in ("native", "pyvene"):
        mlp.module.zero_grad()
        out = get_backend(name).interchange(mlp, base, [(s, src)], grad=True)
        out.logsumexp(-1).sum().backward()
        grads.append(mlp.module[4].weight.grad.clone())
    mlp.module.zero_grad()
    assert grads[0].abs().max() > 0
    assert (grads[0] - grads[1]).abs().max() < TOL


def test_same_inputs_give_bitwise_same_outputs(gpt2: Network) -> None:
    base, src = batch(6, 1), batch(6, 2)
    s = site("transformer.h.0", positions=first_value, featurizer=R32, dims=(0, 4))
    be = get_backend("pyvene")
    a = logits(be.interchange(gpt2, base, [(s, src)]))
    b = logits(be.interchange(gpt2, base, [(s, src)]))
    assert torch.equal(a, b)


def test_no_interventions_is_a_plain_forward(mlp: Network) -> None:
    base = batch(5, 1)
    out = get_backend("pyvene").interchange(mlp, base, [])
    assert torch.equal(out, mlp.module(encode(mlp, base)))


# --- IIA through the engine ---------------------------------------------------------------


def _compare_evaluations(net: Network, alignment: Alignment, dataset: Any) -> None:
    native = evaluate_pairs(net, alignment, dataset, backend="native", batch_size=64)
    theirs = evaluate_pairs(net, alignment, dataset, backend="pyvene", batch_size=64)
    np.testing.assert_array_equal(native.predicted, theirs.predicted)
    assert native.prob_expected is not None and theirs.prob_expected is not None
    np.testing.assert_allclose(native.prob_expected, theirs.prob_expected, atol=TOL, rtol=0)
    ours, pyv = iia(native), iia(theirs)
    pairs = [(ours.overall, pyv.overall), *((ours.per_variable[k], pyv.per_variable[k]) for k in ours.per_variable)]
    for a, b in pairs:
        assert (a.overall, a.changed, a.unchanged) == (b.overall, b.changed, b.unchanged)
        assert a.soft is not None and b.soft is not None
        assert a.soft.value == pytest.approx(b.soft.value, abs=TOL)
    # the random network is right on some pairs and wrong on others, so a
    # backend that ignored the intervention would show up in `predicted`
    assert 0 < native.correct.mean() < 1


def test_iia_matches_on_mlp(mlp: Network) -> None:
    data = random_pairs(HE, "left", 120, seed=7, pool=24)
    _compare_evaluations(mlp, Alignment({"left": site("1", units=range(12))}), data)


def test_iia_matches_on_gpt2_one_variable(gpt2: Network) -> None:
    data = random_pairs(HE, "left", 120, seed=8, pool=24)
    align = Alignment({"left": site("transformer.h.0", positions=first_value, featurizer=R32, dims=(0, 8))})
    _compare_evaluations(gpt2, align, data)


def test_iia_matches_on_gpt2_two_variables(gpt2: Network) -> None:
    data = random_pairs(HE, ["left", "right"], 120, seed=9, pool=24)
    align = Alignment(
        {
            "left": site("transformer.h.0", positions=(0, 1)),
            "right": site("transformer.h.1", positions=(2, 3), units=range(20)),
        }
    )
    _compare_evaluations(gpt2, align, data)
