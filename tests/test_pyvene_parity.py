"""The pyvene backend matches the native backend; export to and import from pyvene round-trip.

Networks are built here, seeded: an MLP over four input values and a tiny
randomly initialised Hugging Face GPT-2 reading four tokens.  pyvene is
imported once for the module (the import takes seconds).  Set
``CAUSALABS_TEST_DEVICE=cuda`` to run the same checks on a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

pv = pytest.importorskip("pyvene")
transformers = pytest.importorskip("transformers")

from causalabs.backends import get_backend  # noqa: E402
from causalabs.backends import pyvene_backend as pvb  # noqa: E402
from causalabs.backends.hooks import hook_count  # noqa: E402
from causalabs.backends.pyvene_interop import (  # noqa: E402
    from_pyvene_rotation,
    pyvene_arguments,
    to_pyvene,
)
from causalabs.data import random_pairs  # noqa: E402
from causalabs.engine import evaluate_pairs  # noqa: E402
from causalabs.errors import BackendError, BatchShapeError, SiteError, UnknownModuleError  # noqa: E402
from causalabs.loading import load_attr  # noqa: E402
from causalabs.metrics import iia  # noqa: E402
from causalabs.network import (  # noqa: E402
    Alignment,
    Decoded,
    Featurizer,
    Network,
    Rotation,
    Site,
    argmax_decoder,
    encode,
    random_rotation,
    site,
)

pytestmark = pytest.mark.pyvene

ROOT = Path(__file__).resolve().parent.parent
HE = load_attr(f"{ROOT / 'hypotheses' / 'hierarchical_equality.py'}:HierarchicalEquality")
NAMES = ("w", "x", "y", "z")
TOL = 1e-5
DEVICE = torch.device(os.environ.get("CAUSALABS_TEST_DEVICE", "cpu"))
#: Vocabulary ids whose last-position logits the GPT-2 decoder compares (classes 0 and 1).
ANSWER_IDS = (7, 11)


# --- networks -------------------------------------------------------------------------


def _stack(batch: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(batch[k]) for k in NAMES], axis=1)


def make_mlp(seed: int = 0) -> Network:
    """Four values in range(4) -> one-hot (16) -> 24 -> 24 -> 2 logits."""
    torch.manual_seed(seed)
    module = nn.Sequential(
        nn.Linear(16, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 2)
    ).eval()

    def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
        x = torch.as_tensor(_stack(batch))
        return nn.functional.one_hot(x, 4).flatten(1).float()

    return Network(module.to(DEVICE), encode, argmax_decoder((0, 1)), name="mlp")


def gpt2_decode(out: Any) -> Decoded:
    scores = out.logits[:, -1, list(ANSWER_IDS)]
    return Decoded(scores.argmax(-1), scores, (0, 1))


def make_gpt2(seed: int = 0) -> Network:
    """A 2-layer GPT-2 (d=32) reading the four values as tokens 20 + value."""
    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=2, vocab_size=50, n_positions=16, bos_token_id=0, eos_token_id=0
    )
    module = transformers.GPT2LMHeadModel(config).eval()

    def encode(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {"input_ids": torch.as_tensor(_stack(batch) + 20)}

    return Network(module.to(DEVICE), encode, gpt2_decode, name="gpt2")


@pytest.fixture(scope="module")
def mlp() -> Network:
    return make_mlp()


@pytest.fixture(scope="module")
def gpt2() -> Network:
    return make_gpt2()


def batch(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.integers(0, 4, n) for k in NAMES}


def logits(out: Any) -> torch.Tensor:
    return out.logits if hasattr(out, "logits") else out


def first_value(b: dict[str, np.ndarray]) -> np.ndarray:
    """A per-example position function: the position of token w's value (0..3)."""
    return np.asarray(b["w"]) % 4


# --- counterfactual outputs --------------------------------------------------------------

R16 = Rotation(random_rotation(24, seed=3)).to(DEVICE)
R32 = Rotation(random_rotation(32, seed=4)).to(DEVICE)
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


def _module_state(net: Network) -> tuple[list[bool], list[bool]]:
    return [m.training for m in net.module.modules()], [p.requires_grad for p in net.module.parameters()]


def _check_case(net: Network, sites: list[Site], n: int = 12) -> None:
    base = batch(n, seed=1)
    interventions = [(s, batch(n, seed=10 + i)) for i, s in enumerate(sites)]
    state = _module_state(net)
    native = logits(get_backend("native").interchange(net, base, interventions))
    theirs = logits(get_backend("pyvene").interchange(net, base, interventions))
    plain = logits(get_backend("native").interchange(net, base, []))
    assert native.shape == theirs.shape
    diff = (native - theirs).abs().max().item()
    assert diff < TOL, f"native and pyvene differ by {diff:.3g} for {[s.name for s in sites]}"
    # the intervention did something (a no-op in both backends would also agree)
    assert (native - plain).abs().max().item() > 1e-3
    assert hook_count(net.module) == 0
    assert _module_state(net) == state


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


# --- interop --------------------------------------------------------------------------------


def test_export_runs_in_pyvene_like_native(gpt2: Network) -> None:
    align = Alignment(
        {
            "left": site("transformer.h.0", positions=(0, 1), featurizer=R32, dims=(0, 8)),
            "right": site("transformer.h.1", positions=first_value, units=range(10)),
        }
    )
    model, config = to_pyvene(gpt2, align)
    assert isinstance(model, pv.IntervenableModel)
    assert isinstance(config, pv.IntervenableConfig)
    assert [r.component for r in config.representations] == ["transformer.h.0.output", "transformer.h.1.output"]
    base, sources = batch(8, 1), [batch(8, 2), batch(8, 3)]
    _, out = model(**pyvene_arguments(gpt2, align, base, sources))
    native = get_backend("native").interchange(gpt2, base, list(zip(align.sites.values(), sources, strict=True)))
    assert (logits(out) - native.logits).abs().max() < TOL
    assert hook_count(gpt2.module) == 0


def test_export_of_a_plain_torch_module_uses_an_adapter(mlp: Network) -> None:
    align = Alignment({"left": site("2", featurizer=R16, dims=(1, 4))})
    model, config = to_pyvene(mlp, align)
    assert config.representations[0].component == "net.2.output"
    base, src = batch(8, 1), batch(8, 2)
    _, out = model(**pyvene_arguments(mlp, align, base, [src]))
    native = get_backend("native").interchange(mlp, base, [(align["left"], src)])
    assert (out - native).abs().max() < TOL


def test_rotation_round_trip(gpt2: Network) -> None:
    """causalabs Rotation -> pyvene RotatedSpaceIntervention -> causalabs Rotation: same outputs."""
    original = site("transformer.h.1", positions=(2, 3), featurizer=R32, dims=(5, 12))
    model, _ = to_pyvene(gpt2, Alignment({"v": original}))
    (intervention,) = model.interventions.values()
    assert isinstance(intervention, pv.RotatedSpaceIntervention)
    back = from_pyvene_rotation(intervention, "transformer.h.1", (5, 12), positions=(2, 3))
    assert back.name == original.name
    assert torch.equal(back.subspace.featurizer.matrix, R32.matrix)
    base, src = batch(8, 1), batch(8, 2)
    native = get_backend("native")
    a = native.interchange(gpt2, base, [(original, src)]).logits
    b = native.interchange(gpt2, base, [(back, src)]).logits
    assert torch.equal(a, b)


def test_import_of_a_pyvene_trained_rotation(gpt2: Network) -> None:
    """A rotation pyvene made itself (its own orthogonal init) imports to the same counterfactuals."""
    torch.manual_seed(21)
    rotated = pv.RotatedSpaceIntervention(embed_dim=32, keep_last_dim=True)
    low_rank = pv.LowRankRotatedSpaceIntervention(embed_dim=32, low_rank_dimension=4, keep_last_dim=True)
    base, src = batch(8, 1), batch(8, 2)
    state = _module_state(gpt2)
    try:
        for intervention in (rotated, low_rank):
            intervention.to(DEVICE)
            config = pv.IntervenableConfig(
                representations=[
                    pv.RepresentationConfig(component="transformer.h.0.output", unit="pos", intervention=intervention)
                ]
            )
            theirs = pvb.ScopedIntervenableModel(config, gpt2.module)
            imported = from_pyvene_rotation(intervention, "transformer.h.0", (0, 4), positions=(1, 2))
            args = pyvene_arguments(gpt2, [imported], base, [src])
            if intervention is low_rank:
                args["subspaces"] = None  # pyvene's low-rank form swaps its whole k-dim space
            _, out = theirs(**args)
            native = get_backend("native").interchange(gpt2, base, [(imported, src)])
            assert (out.logits - native.logits).abs().max() < TOL
            assert (native.logits - logits(get_backend("native").interchange(gpt2, base, []))).abs().max() > 1e-3
    finally:  # pyvene's constructor freezes the wrapped model; undo it for the other tests
        for p, flag in zip(gpt2.module.parameters(), state[1], strict=True):
            p.requires_grad_(flag)


def test_import_rejects_a_vanilla_intervention() -> None:
    with pytest.raises(BackendError, match="VanillaIntervention has no rotate_layer"):
        from_pyvene_rotation(pv.VanillaIntervention(), "transformer.h.0", (0, 2))
