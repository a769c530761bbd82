"""Export to and import from pyvene: an exported alignment runs in pyvene like the native backend, and a
rotation round-trips to the bit.
"""

from __future__ import annotations

import pytest
import torch

pv = pytest.importorskip("pyvene")
transformers = pytest.importorskip("transformers")

from _pyvene_nets import (  # noqa: E402
    DEVICE,
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
from causalabs.backends import pyvene_backend as pvb  # noqa: E402
from causalabs.backends.hooks import hook_count  # noqa: E402
from causalabs.backends.pyvene_interop import (  # noqa: E402
    from_pyvene_rotation,
    pyvene_arguments,
    to_pyvene,
)
from causalabs.errors import BackendError  # noqa: E402
from causalabs.network import (  # noqa: E402
    Alignment,
    Network,
    site,
)

pytestmark = pytest.mark.pyvene


@pytest.fixture(scope="module")
def mlp() -> Network:
    return make_mlp()


@pytest.fixture(scope="module")
def gpt2() -> Network:
    return make_gpt2()


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
    state = module_state(gpt2)
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
