"""``evaluate_pairs`` on the hand-built hierarchical-equality net, against a one-at-a-time brute force.

The brute force never touches the engine: it runs the network one input at
a time up to layer ``"2"``, overwrites the aligned units by hand, runs the
rest one vector at a time, and computes the counterfactual output from the
definition of each hypothesis written out in Python.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
import torch
from _nets import SEQ, all_heq_inputs, heq_encode, heq_hypotheses, heq_network, tiny_transformer, token_batch

from causalabs import errors
from causalabs.backends.native import NativeBackend
from causalabs.data import exhaustive_pairs, random_pairs
from causalabs.engine import PairResults, evaluate_pairs, interchange_network
from causalabs.metrics import iia
from causalabs.network import Alignment, site

H = heq_hypotheses()
NET = heq_network()
ALIGN = Alignment({"left": site("2", units=[0]), "right": site("2", units=[1])})
Row = tuple[int, int, int, int]




# --- the brute force ---------------------------------------------------------------------


@cache
def layer2(row: Row) -> tuple[float, float]:
    """Units of layer "2" for one input, computed alone."""
    m = NET.module
    with torch.no_grad():
        x = heq_encode({k: np.array([v]) for k, v in zip("wxyz", row)})
        return tuple(m[2](m[1](m[0](x)))[0].tolist())  # type: ignore[return-value]


@cache
def suffix(vec: tuple[float, float]) -> int:
    """The network's decision from a layer-"2" vector, computed alone."""
    m = NET.module
    with torch.no_grad():
        return int(m[6](m[5](m[4](m[3](torch.tensor([vec]))))).argmax(-1))


def eq(a: int, b: int) -> int:
    return int(a == b)


#: What each hypothesis says its variables are, written out: variable -> function of an input row.
MEANINGS: dict[str, dict[str, Callable[[Row], int]]] = {
    "HierarchicalEquality": {"left": lambda r: eq(r[0], r[1]), "right": lambda r: eq(r[2], r[3])},
    "SwappedEquality": {"left": lambda r: eq(r[2], r[3]), "right": lambda r: eq(r[0], r[1])},
}
#: Which unit of layer "2" the alignment puts each variable on.
UNIT = {"left": 0, "right": 1}


def brute_force(name: str, ds: object) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, expected) one pair at a time."""
    meaning = MEANINGS[name]
    base = np.stack([ds.base[k] for k in "wxyz"], 1).tolist()  # type: ignore[attr-defined]
    srcs = {v: np.stack([ds.sources[v][k] for k in "wxyz"], 1).tolist() for v in ds.intervened}  # type: ignore[attr-defined]
    predicted, expected = [], []
    for i, b in enumerate(base):
        vec = list(layer2(tuple(b)))
        values = {v: f(tuple(b)) for v, f in meaning.items()}
        for v in ds.intervened:  # type: ignore[attr-defined]
            s = tuple(srcs[v][i])
            vec[UNIT[v]] = layer2(s)[UNIT[v]]
            values[v] = meaning[v](s)
        predicted.append(suffix(tuple(vec)))
        expected.append(eq(values["left"], values["right"]))
    return np.array(predicted), np.array(expected)


def pool(size: int, seed: int) -> dict[str, np.ndarray]:
    everything = all_heq_inputs()
    idx = np.sort(np.random.default_rng(seed).choice(256, size, replace=False))
    return {k: v[idx] for k, v in everything.items()}


# --- IIA on the hand-built net -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["HierarchicalEquality", "SwappedEquality"])
def test_exhaustive_iia_matches_the_brute_force(name: str) -> None:
    hyp = getattr(H, name)
    ds = exhaustive_pairs(hyp, ["left"])
    res = evaluate_pairs(NET, ALIGN, ds, batch_size=8192)
    predicted, expected = brute_force(name, ds)
    np.testing.assert_array_equal(expected, ds.expected)
    np.testing.assert_array_equal(res.predicted, predicted)
    report = iia(res)
    assert report.overall.overall.exact and report.overall.overall.n == 256 * 256
    assert report.overall.overall.value == np.mean(predicted == expected)
    changed = expected != res.base_output
    assert report.overall.changed.value == np.mean(predicted[changed] == expected[changed])
    if name == "HierarchicalEquality":
        assert report.overall.overall.value == 1.0 and report.overall.changed.value == 1.0
    else:  # the brute force must see the wrong twin fail, or this test proves nothing
        assert report.overall.overall.value < 1.0


@pytest.mark.parametrize("name", ["HierarchicalEquality", "SwappedEquality"])
def test_two_variables_with_their_own_sources(name: str) -> None:
    hyp = getattr(H, name)
    ds = exhaustive_pairs(hyp, ["left", "right"], pool=pool(12, seed=1))
    res = evaluate_pairs(NET, ALIGN, ds, batch_size=500)
    predicted, expected = brute_force(name, ds)
    np.testing.assert_array_equal(expected, ds.expected)
    np.testing.assert_array_equal(res.predicted, predicted)
    assert res.intervened == ("left", "right")
    value = iia(res).per_variable["left+right"].overall.value
    assert value == np.mean(predicted == expected)
    assert (value == 1.0) == (name == "HierarchicalEquality")


def test_probabilities_of_the_expected_value() -> None:
    ds = random_pairs(H.SwappedEquality, ["right"], 300, seed=3)
    res = evaluate_pairs(NET, ALIGN, ds)
    assert res.prob_expected is not None
    # two classes: the expected value is the decision exactly when it has more than half the mass
    np.testing.assert_array_equal(res.prob_expected > 0.5, res.predicted == res.expected)
    assert np.all((res.prob_expected >= 0) & (res.prob_expected <= 1))


# --- one result however it is computed ---------------------------------------------------------


class InterchangeOnly:
    """The native backend seen through the bare Backend protocol (no collect / patch)."""

    name = "interchange-only"

    def interchange(self, network, base, interventions, *, grad=False):  # type: ignore[no-untyped-def]
        return NativeBackend().interchange(network, base, interventions, grad=grad)


def test_batch_size_and_backend_path_do_not_change_decisions() -> None:
    ds = random_pairs(H.HierarchicalEquality, ["left", "right"], 700, seed=5, pool=40)
    ref = evaluate_pairs(NET, ALIGN, ds)
    for other in (
        evaluate_pairs(NET, ALIGN, ds, batch_size=7),
        evaluate_pairs(NET, ALIGN, ds, batch_size=100_000),
        evaluate_pairs(NET, ALIGN, ds, backend=InterchangeOnly(), batch_size=64),
    ):
        np.testing.assert_array_equal(other.predicted, ref.predicted)
        np.testing.assert_allclose(other.prob_expected, ref.prob_expected, atol=1e-6, rtol=0)
    predicted, _ = brute_force("HierarchicalEquality", ds)
    np.testing.assert_array_equal(ref.predicted, predicted)


def test_interchange_network_agrees_with_evaluate_pairs() -> None:
    ds = random_pairs(H.HierarchicalEquality, ["left"], 64, seed=9)
    res = evaluate_pairs(NET, ALIGN, ds)
    dec = interchange_network(NET, ALIGN, ds.base, {H.HierarchicalEquality.left: ds.sources["left"]})
    np.testing.assert_array_equal(dec.values.numpy(), res.predicted)


# --- determinism --------------------------------------------------------------------------------


def test_two_identical_runs_give_identical_arrays() -> None:
    def run() -> PairResults:
        ds = random_pairs(H.SwappedEquality, ["left", "right"], 500, seed=11, pool=30)
        return evaluate_pairs(heq_network(), ALIGN, ds, batch_size=128)

    a, b = run(), run()
    for field in ("predicted", "expected", "base_output", "prob_expected"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), field
    assert a.dataset_digest == b.dataset_digest is not None


def test_two_identical_transformer_runs_are_bitwise_equal() -> None:
    def run() -> tuple[torch.Tensor, torch.Tensor]:
        net = tiny_transformer(seed=4)
        rng = np.random.default_rng(4)
        base, s1, s2 = (token_batch(rng.integers(0, 11, (9, SEQ))) for _ in range(3))
        be = NativeBackend()
        pos = lambda b: np.asarray(b["t2"]) % SEQ  # noqa: E731
        out = be.interchange(
            net,
            base,
            [
                (site("blocks.0", positions=pos, units=range(8)), s1),
                (site("blocks.1.mlp", positions=(-1,)), s2),
            ],
        )
        return out, be.collect(net, s1, [site("blocks.1", io="input", positions=(0, -2))])[
            ("blocks.1", "input", (0, -2))
        ]

    (o1, c1), (o2, c2) = run(), run()
    assert torch.equal(o1, o2) and torch.equal(c1, c2)


# --- what evaluate_pairs refuses ----------------------------------------------------------------


def test_a_variable_without_a_site() -> None:
    ds = random_pairs(H.HierarchicalEquality, ["right"], 10, seed=0)
    with pytest.raises(errors.AlignmentError, match="'right'.*left"):
        evaluate_pairs(NET, Alignment({"left": site("2", units=[0])}), ds)


def test_an_empty_dataset() -> None:
    empty = types.SimpleNamespace(
        intervened=("left",),
        base={k: np.zeros(0, np.int64) for k in "wxyz"},
        sources={"left": {k: np.zeros(0, np.int64) for k in "wxyz"}},
        expected=np.zeros(0, np.int64),
        base_output=np.zeros(0, np.int64),
    )
    with pytest.raises(errors.DatasetError, match="empty"):
        evaluate_pairs(NET, ALIGN, empty)
