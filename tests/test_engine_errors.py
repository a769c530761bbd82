"""Bad sites and misbehaving networks give typed errors that name the thing at fault, and leave no hook.

Every test checks ``hook_count(module) == 0`` afterwards: a hook left behind
would silently change every later forward pass of the user's network.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from _nets import (
    SEQ,
    all_heq_inputs,
    dict_network,
    heq_network,
    inplace_network,
    nan_network,
    short_encode_network,
    tiny_transformer,
    token_batch,
)

from causalabs import errors
from causalabs.backends.hooks import hook_count
from causalabs.backends.native import NativeBackend
from causalabs.engine import interchange_network
from causalabs.network import Alignment, Network, Rotation, Site, random_rotation, site

BE = NativeBackend()
HEQ = heq_network()
TT = tiny_transformer(0)




def heq_rows(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.integers(0, 4, n) for k in "wxyz"}


def tokens(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    return token_batch(np.random.default_rng(seed).integers(0, 11, (n, SEQ)))


def all_three(net: Network, where: Site, batch: dict[str, np.ndarray]) -> Iterator[tuple[str, object]]:
    """The three entry points of the native backend on one site (collect, patch, interchange)."""
    n = len(next(iter(batch.values())))
    yield "collect", lambda: BE.collect(net, batch, [where])
    yield "patch", lambda: BE.patch(net, batch, [(where, torch.zeros(n, 2))])
    yield "interchange", lambda: BE.interchange(net, batch, [(where, batch)])


def raises_naming(kind: type[Exception], net: Network, call: object, *names: str) -> str:
    with pytest.raises(kind) as info:
        call()  # type: ignore[operator]
    assert isinstance(info.value, errors.CausalabsError)
    msg = str(info.value)
    for name in names:
        assert name in msg, f"{name!r} not in {msg!r}"
    assert hook_count(net.module) == 0
    return msg


# --- sites ------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["collect", "patch", "interchange"])
def test_unknown_module_lists_close_names(entry: str) -> None:
    where = site("blocks.1.mpl")
    call = dict(all_three(TT, where, tokens(3)))[entry]
    msg = raises_naming(
        errors.UnknownModuleError, TT, call, "blocks.1.mpl", "blocks.1.mlp", "tiny_transformer"
    )
    assert isinstance(errors.UnknownModuleError("x"), KeyError)
    assert "did you mean" in msg


def test_unknown_module_of_an_alignment_names_the_site_when_run() -> None:
    al = Alignment({"left": site("7", units=[0])})
    call = lambda: interchange_network(HEQ, al, heq_rows(4), {"left": heq_rows(4, 1)})  # noqa: E731
    raises_naming(errors.UnknownModuleError, HEQ, call, "'7'", "heq_handbuilt")


@pytest.mark.parametrize("positions", [(SEQ,), (0, SEQ + 3), (-SEQ - 1,)])
@pytest.mark.parametrize("entry", ["collect", "interchange"])
def test_position_out_of_range(positions: tuple[int, ...], entry: str) -> None:
    where = site("blocks.0", positions=positions)
    call = dict(all_three(TT, where, tokens(3)))[entry]
    bad = [p for p in positions if not -SEQ <= p < SEQ][0]
    msg = raises_naming(errors.SiteError, TT, call, where.name, str(bad), "out of range", str(SEQ))
    assert "blocks.0" in msg


def test_position_out_of_range_in_patch() -> None:
    where = site("blocks.0", positions=(SEQ,))
    call = lambda: BE.patch(TT, tokens(3), [(where, torch.zeros(3, 1, 32))])  # noqa: E731
    raises_naming(errors.SiteError, TT, call, where.name, "out of range")


def test_per_example_position_out_of_range() -> None:
    def too_far(batch: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(batch["t0"]) * 0 + SEQ + 1

    where = site("blocks.0", positions=too_far)
    raises_naming(
        errors.SiteError,
        TT,
        lambda: BE.interchange(TT, tokens(3), [(where, tokens(3, 1))]),
        "too_far",
        str(SEQ + 1),
    )


def test_position_function_with_the_wrong_row_count() -> None:
    where = site("blocks.0", positions=lambda b: np.zeros(1, dtype=np.int64))
    raises_naming(
        errors.SiteError, TT, lambda: BE.collect(TT, tokens(3), [where]), "blocks.0", "1 rows for 3"
    )


@pytest.mark.parametrize("entry", ["collect", "interchange"])
def test_positions_on_a_two_dimensional_activation(entry: str) -> None:
    where = site("2", positions=(0,), units=[0])
    call = dict(all_three(HEQ, where, heq_rows(4)))[entry]
    raises_naming(errors.SiteError, HEQ, call, where.name, "no position axis")


@pytest.mark.parametrize("entry", ["collect", "patch", "interchange"])
def test_featurizer_of_the_wrong_width(entry: str) -> None:
    where = site("2", featurizer=Rotation(random_rotation(5, 0)), dims=(0, 1))
    call = dict(all_three(HEQ, where, heq_rows(4)))[entry]
    raises_naming(errors.SiteError, HEQ, call, where.name, "width 5", "width 2")


def test_an_error_in_a_later_hook_removes_the_earlier_ones() -> None:
    good, bad = site("0", units=[0]), site("2", featurizer=Rotation(random_rotation(5, 0)), dims=(0, 1))
    call = lambda: BE.interchange(HEQ, heq_rows(4), [(good, heq_rows(4, 1)), (bad, heq_rows(4, 2))])  # noqa: E731
    raises_naming(errors.SiteError, HEQ, call, bad.name)


def test_dims_beyond_a_partial_basis() -> None:
    """A width x k Rotation has k coordinates; dims past them must not be cut silently."""
    basis = random_rotation(8, 0)[:, :3]
    where = site("0", featurizer=Rotation(basis), dims=(1, 5))
    raises_naming(
        errors.SiteError,
        HEQ,
        lambda: BE.interchange(HEQ, heq_rows(4), [(where, heq_rows(4, 1))]),
        where.name,
        "3 coordinates",
    )


@pytest.mark.parametrize("units", [[2], [-3], [0, 7]])
def test_unit_out_of_range(units: list[int]) -> None:
    where = site("2", units=units)
    bad = [u for u in units if not -2 <= u < 2][0]
    raises_naming(
        errors.SiteError,
        HEQ,
        lambda: BE.collect(HEQ, heq_rows(3), [where]),
        where.name,
        f"unit index {bad}",
        "width 2",
    )


def test_featurizer_matrix_checks() -> None:
    with pytest.raises(errors.SiteError, match="orthonormal"):
        Rotation(torch.ones(4, 4))
    with pytest.raises(errors.SiteError, match="k <= width"):
        Rotation(torch.zeros(2, 4))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (site("2", units=[0, 1]), site("2", units=[1])),
        (site("2"), site("2", units=[0])),
        (site("blocks.0", positions=(1, 2)), site("blocks.0", positions=(2,), units=[0])),
    ],
    ids=["shared-unit", "all-and-unit", "shared-position"],
)
def test_overlapping_subspaces(a: Site, b: Site) -> None:
    net = TT if a.module.startswith("blocks") else HEQ
    batch = tokens(3) if net is TT else heq_rows(3)
    raises_naming(
        errors.OverlappingSubspaceError,
        net,
        lambda: BE.interchange(net, batch, [(a, batch), (b, batch)]),
        a.name,
        b.name,
    )
    with pytest.raises(errors.OverlappingSubspaceError):
        Alignment({"left": a, "right": b})


@pytest.mark.parametrize(
    ("net", "a", "b"),
    [
        (HEQ, site("2", units=[-1]), site("2", units=[1])),
        (TT, site("blocks.0", positions=(-1,)), site("blocks.0", positions=(SEQ - 1,))),
    ],
    ids=["negative-unit", "negative-position"],
)
def test_overlap_hidden_by_negative_indices(net: Network, a: Site, b: Site) -> None:
    """Unit -1 is unit width-1 and position -1 the last one: caught once the shape is known."""
    batch = tokens(3) if net is TT else heq_rows(3)
    raises_naming(
        errors.OverlappingSubspaceError,
        net,
        lambda: BE.interchange(net, batch, [(a, batch), (b, heq_rows(3, 1) if net is HEQ else tokens(3, 1))]),
        a.name,
        b.name,
    )


def test_same_site_with_disjoint_units_is_fine() -> None:
    out = BE.interchange(
        HEQ, heq_rows(5), [(site("2", units=[0]), heq_rows(5, 1)), (site("2", units=[-1]), heq_rows(5, 2))]
    )
    assert out.shape == (5, 2)
    assert hook_count(HEQ.module) == 0


# --- networks that misbehave -------------------------------------------------------------


@pytest.mark.parametrize("entry", ["collect", "patch", "interchange"])
def test_encode_returning_the_wrong_batch_size(entry: str) -> None:
    net = short_encode_network()
    call = dict(all_three(net, site("2"), heq_rows(4)))[entry]
    raises_naming(errors.NetworkError, net, call, "short_encoder", "3", "4")


def test_nan_in_a_source_activation_names_the_site() -> None:
    net = nan_network()
    where = site("1", units=[0])
    batch = all_heq_inputs()
    msg = raises_naming(
        errors.ActivationError, net, lambda: BE.interchange(net, heq_rows(256), [(where, batch)]), where.name
    )
    assert "NaN" in msg
    raises_naming(errors.ActivationError, net, lambda: BE.collect(net, batch, [where]), where.name, "NaN")


def test_a_module_giving_no_tensor_names_the_site() -> None:
    net = dict_network()
    raises_naming(
        errors.ActivationError, net, lambda: BE.collect(net, heq_rows(3), [site("1")]), "1.output", "dict"
    )


def test_an_input_site_whose_input_is_no_tensor() -> None:
    net = dict_network()
    raises_naming(
        errors.ActivationError, net, lambda: BE.collect(net, heq_rows(3), [site("2", io="input")]), "2.input"
    )


class WithUnused(torch.nn.Module):
    """The heq MLP plus a submodule that its forward never calls."""

    def __init__(self) -> None:
        super().__init__()
        self.body = heq_network().module
        self.unused = torch.nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_a_module_that_never_runs() -> None:
    net = Network(WithUnused(), HEQ.encode, HEQ.decode, name="with_unused")
    raises_naming(
        errors.SiteError, net, lambda: BE.collect(net, heq_rows(3), [site("unused")]), "unused", "never ran"
    )


def test_an_error_inside_the_forward_removes_the_hooks() -> None:
    """An error of the network itself (not of a site) propagates, and the hooks still go."""
    net = Network(HEQ.module, lambda b: torch.zeros(len(b["w"]), 15), HEQ.decode, name="bad_width")
    with pytest.raises(RuntimeError):
        BE.interchange(net, heq_rows(3), [(site("2", units=[0]), heq_rows(3, 1))])
    assert hook_count(net.module) == 0


# --- batches that do not fit -------------------------------------------------------------


def test_source_batch_of_another_length_names_the_site() -> None:
    """A short source must not be silently re-sliced against another source's rows."""
    a, b = site("2", units=[0]), site("2", units=[1])
    call = lambda: BE.interchange(HEQ, heq_rows(4), [(a, heq_rows(6, 1)), (b, heq_rows(2, 2))])  # noqa: E731
    raises_naming(errors.BatchShapeError, HEQ, call, a.name, "6 rows for 4")


def test_source_batch_missing_an_input() -> None:
    src = {k: v for k, v in heq_rows(4, 1).items() if k != "z"}
    raises_naming(
        errors.BatchShapeError,
        HEQ,
        lambda: BE.interchange(HEQ, heq_rows(4), [(site("2"), src)]),
        "2.output",
        "z",
    )


def test_patch_with_source_vectors_of_the_wrong_shape() -> None:
    where = site("2")
    raises_naming(
        errors.SiteError,
        HEQ,
        lambda: BE.patch(HEQ, heq_rows(4), [(where, torch.zeros(3, 2))]),
        where.name,
        "3 source vectors for 4",
    )
    raises_naming(
        errors.SiteError,
        HEQ,
        lambda: BE.patch(HEQ, heq_rows(4), [(where, torch.zeros(4, 3))]),
        where.name,
        "(4, 3)",
    )


# --- what the engine must not do to the caller's tensors ---------------------------------


def test_recorded_vectors_survive_later_in_place_ops() -> None:
    """Layer "0" feeds an in-place ReLU; its recorded vector must stay the pre-ReLU one."""
    net = inplace_network()
    batch = heq_rows(16)
    acts = BE.collect(net, batch, [site("0"), site("2")])
    with torch.no_grad():
        ref = net.module[0](net.encode(batch))
    assert (ref < 0).any()
    assert torch.equal(acts[site("0").location_key()], ref)


def test_patch_does_not_change_the_callers_source_vectors() -> None:
    net = inplace_network()
    src = -torch.ones(4, 8)
    BE.patch(net, heq_rows(4), [(site("0"), src)])
    assert torch.equal(src, -torch.ones(4, 8))
