"""``prove``: exact verification of alignments on ReLU MLPs (the organisms, traced custom modules, a trained MLP)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
import z3
from torch import nn

import causalabs as ca
from causalabs.engine import interchange_network
from causalabs.errors import AlignmentError, NetworkError, ProofSettingError, UnknownVariableError
from causalabs.loading import load_module
from causalabs.network import Alignment, Network, argmax_decoder, load_network, site
from causalabs.verification import Counterexample
from causalabs.verification.prove import enumerate as prove_enum
from causalabs.verification.prove import proof as prove_mod
from causalabs.verification.prove.proof import (
    InputEncoding,
    ProofResult,
    UnsupportedNetworkError,
    bits_encoding,
    one_hot_encoding,
    probe_encoding,
    prove,
)

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_MS = 60_000


@functools.cache
def organism(name: str) -> tuple[Network, Alignment]:
    net = load_network(ROOT / "models" / f"{name}.py")
    return net, load_module(ROOT / "models" / f"{name}.py").alignment()


@functools.cache
def hypothesis(file: str, name: str) -> type:
    return getattr(load_module(ROOT / "hypotheses" / f"{file}.py"), name)


def heq(name: str) -> type:
    return hypothesis("hierarchical_equality", name)


def boolean(name: str) -> type:
    return hypothesis("boolean_circuit", name)


def replay(hyp: type, net: Network, alignment: Alignment, cx: Counterexample) -> tuple[int, int]:
    """The counterexample by hand: the hypothesis' counterfactual and the engine's decision."""
    names = list(cx.base)
    base = {n: np.array([cx.base[n]]) for n in names}
    sources = {v: {n: np.array([row[n]]) for n in names} for v, row in cx.sources.items()}
    expected = int(ca.interchange(hyp, base, sources)[ca.model_of(hyp).output][0])
    observed = int(interchange_network(net, alignment, base, sources).values[0])
    return expected, observed


# --- proved and refuted on the organisms ----------------------------------------


@pytest.mark.parametrize(
    "organism_name, hyp",
    [
        ("heq_handbuilt", heq("HierarchicalEquality")),
        ("heq_rotated", heq("HierarchicalEquality")),
        ("boolean_circuit", boolean("BooleanCircuit")),
        ("boolean_circuit_rotated", boolean("BooleanCircuit")),
    ],
)
def test_correct_hypothesis_is_proved(organism_name: str, hyp: type) -> None:
    net, alignment = organism(organism_name)
    r = prove(hyp, net, alignment, timeout_ms=TIMEOUT_MS)
    assert r.status == "proved", r.reason
    assert r.proved and not r.refuted and not r.unknown
    assert r.counterexample is None
    names = tuple(alignment.sites)
    assert r.checked == (*((n,) for n in names), names)
    assert r.elapsed > 0


@pytest.mark.parametrize("organism_name", ["heq_handbuilt", "heq_rotated"])
def test_symbolic_sources_agree_with_tabulated_ones(
    organism_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above SOURCE_TABLE_LIMIT inputs each source is a symbolic network copy: same answers."""
    monkeypatch.setattr(prove_mod, "SOURCE_TABLE_LIMIT", 0)
    net, alignment = organism(organism_name)
    vs = None if organism_name == "heq_handbuilt" else ["left"]
    assert prove(heq("HierarchicalEquality"), net, alignment, variables=vs).proved
    r = prove(heq("SwappedEquality"), net, alignment, variables=vs)
    assert r.refuted and r.counterexample is not None
    assert replay(heq("SwappedEquality"), net, alignment, r.counterexample) == (
        r.counterexample.expected,
        r.counterexample.observed,
    )


@pytest.mark.parametrize(
    "organism_name, hyp",
    [
        ("heq_handbuilt", heq("SwappedEquality")),
        ("heq_rotated", heq("SwappedEquality")),
        ("boolean_circuit", boolean("SwappedGates")),
        ("boolean_circuit_rotated", boolean("SwappedGates")),
    ],
)
def test_wrong_twin_is_refuted_with_a_real_counterexample(organism_name: str, hyp: type) -> None:
    net, alignment = organism(organism_name)
    r = prove(hyp, net, alignment, timeout_ms=TIMEOUT_MS)
    assert r.status == "refuted", r.reason
    cx = r.counterexample
    assert cx is not None and cx.found_by == "prove"
    assert cx.expected != cx.observed
    expected, observed = replay(hyp, net, alignment, cx)
    assert (expected, observed) == (cx.expected, cx.observed)
    assert expected != observed


def test_rotated_network_at_the_unit_alignment_is_refuted() -> None:
    """heq_rotated with the unrotated twin's units: the right hypothesis, the wrong sites."""
    net, _ = organism("heq_rotated")
    units = load_module(ROOT / "models" / "heq_rotated.py").neuron_alignment()
    r = prove(heq("HierarchicalEquality"), net, units, timeout_ms=TIMEOUT_MS)
    assert r.refuted, r.reason
    assert r.counterexample is not None
    expected, observed = replay(heq("HierarchicalEquality"), net, units, r.counterexample)
    assert expected != observed


def test_variables_picks_the_sets() -> None:
    net, alignment = organism("boolean_circuit")
    r = prove(boolean("BooleanCircuit"), net, alignment, variables=["g2", ("g1", "g2")])
    assert r.proved and r.checked == (("g2",), ("g1", "g2"))
    with pytest.raises(AlignmentError, match="'out'"):  # a variable, but not aligned
        prove(boolean("BooleanCircuit"), net, alignment, variables=["out"])
    with pytest.raises(UnknownVariableError, match="nope"):
        prove(boolean("BooleanCircuit"), net, alignment, variables=["nope"])


# --- unknown is never proved ----------------------------------------------------


def test_solver_unknown_is_reported_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    net, alignment = organism("boolean_circuit")
    monkeypatch.setattr(z3.Solver, "check", lambda self, *a: z3.unknown)
    monkeypatch.setattr(z3.Solver, "reason_unknown", lambda self: "canceled (test)")
    r = prove(boolean("BooleanCircuit"), net, alignment, method="z3")
    assert r.status == "unknown" and not r.proved
    assert "canceled (test)" in r.reason and "not proved" in r.reason
    assert r.counterexample is None


def test_tiny_timeout_is_unknown_not_proved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prove_mod, "SOURCE_TABLE_LIMIT", 0)  # the harder, symbolic-source query
    net, alignment = organism("heq_rotated")
    r = prove(heq("HierarchicalEquality"), net, alignment, variables=[("left", "right")], timeout_ms=1)
    assert r.status == "unknown", r.reason
    assert "timeout_ms=1" in r.reason


def test_witness_the_engine_does_not_confirm_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    net, alignment = organism("boolean_circuit")
    monkeypatch.setattr(prove_mod, "_replay", lambda *a: (0, 0, None))
    r = prove(boolean("SwappedGates"), net, alignment, variables=["g1"])
    assert r.status == "unknown"
    assert "replay agrees" in r.reason


def test_result_has_no_truth_value() -> None:
    r = ProofResult("unknown", None, "x", 0.0)
    with pytest.raises(TypeError, match="three answers"):
        bool(r)


def test_bad_timeout() -> None:
    net, alignment = organism("boolean_circuit")
    for kw, name in [({"timeout_ms": 0}, "timeout_ms"), ({"timeout": 0}, "timeout"), ({"timeout": -1.0}, "timeout"),
                     ({"timeout": float("nan")}, "timeout"), ({"method": "magic"}, "method")]:
        with pytest.raises(ProofSettingError, match=name) as info:
            prove(boolean("BooleanCircuit"), net, alignment, **kw)
        assert isinstance(info.value, ValueError)


# --- ties, encodings --------------------------------------------------------------


class Copy(ca.Hypothesis):
    """out = v = x, x in {0, 1}."""

    (x,) = ca.inputs("x", domain=(0, 1))
    v = ca.var(x)
    out = ca.output(v)


def _linear_net(weight: list[list[float]], classes: tuple[int, ...]) -> Network:
    lin = nn.Linear(1, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(weight))
        lin.bias.zero_()
    enc = lambda b: torch.as_tensor(np.asarray(b["x"]), dtype=torch.float32).reshape(-1, 1)
    return Network(nn.Sequential(lin), enc, argmax_decoder(classes), name="tie")


def test_ties_go_to_the_first_class_like_torch_argmax() -> None:
    alignment = Alignment({"v": site("0")})  # the logits themselves
    # x = 0 ties the logits: the first class (0) wins, which is right
    assert prove(Copy, _linear_net([[0.0], [1.0]], (0, 1)), alignment).proved
    # classes (1, 0): at x = 0 the tie decides 1, the hypothesis says 0
    r = prove(Copy, _linear_net([[1.0], [0.0]], (1, 0)), alignment)
    assert r.refuted and r.counterexample is not None
    assert r.counterexample.sources["v"] == {"x": 0}
    assert (r.counterexample.expected, r.counterexample.observed) == (0, 1)


def test_explicit_encoding_matches_the_probe() -> None:
    net, alignment = organism("heq_handbuilt")
    explicit = one_hot_encoding(("w", "x", "y", "z"), 4)
    probed = probe_encoding(net, heq("HierarchicalEquality"))

    def code(e: InputEncoding, row: np.ndarray) -> list:
        out = list(e.offset)
        for n, v in zip("wxyz", row):
            out = [a + b for a, b in zip(out, e.table[n][int(v)])]
        return out

    for row in np.random.default_rng(0).integers(0, 4, size=(20, 4)):
        assert code(explicit, row) == code(probed, row)
    assert prove(heq("HierarchicalEquality"), net, alignment, encode_inputs=explicit, variables=["left"]).proved
    bnet, balign = organism("boolean_circuit")
    assert prove(boolean("BooleanCircuit"), bnet, balign, encode_inputs=bits_encoding("abcd")).proved


def test_non_separable_encoder_is_refused() -> None:
    def enc(b: dict[str, np.ndarray]) -> torch.Tensor:
        a, c = (np.asarray(b[k]) for k in "ab")
        return torch.as_tensor(np.stack([a * c, a, c, a], 1), dtype=torch.float32)

    class And2(ca.Hypothesis):
        a, b = ca.inputs("a b", domain=(0, 1))
        g = ca.var(a & b)
        out = ca.output(g)

    net = Network(nn.Sequential(nn.Linear(4, 2)), enc, argmax_decoder((0, 1)), name="prod")
    with pytest.raises(UnsupportedNetworkError, match="not separable"):
        prove(And2, net, Alignment({"g": site("0")}))


# --- refusals ---------------------------------------------------------------------


def test_conv_layer_is_refused_by_name() -> None:
    module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Conv1d(1, 1, 3), nn.Linear(6, 2))
    net = Network(module, lambda b: torch.zeros(len(b["a"]), 4), argmax_decoder((0, 1)), name="convy")
    _, alignment = organism("boolean_circuit")
    with pytest.raises(UnsupportedNetworkError, match=r"'2' is Conv1d") as info:
        prove(boolean("BooleanCircuit"), net, alignment)
    assert isinstance(info.value, NetworkError) and isinstance(info.value, TypeError)


def test_attention_root_is_refused_by_name() -> None:
    net = Network(nn.MultiheadAttention(4, 1), lambda b: torch.zeros(1, 4), argmax_decoder(), name="attn")
    _, alignment = organism("boolean_circuit")
    with pytest.raises(UnsupportedNetworkError, match="MultiheadAttention"):
        prove(boolean("BooleanCircuit"), net, alignment)


def test_non_argmax_decoder_is_refused() -> None:
    net, alignment = organism("boolean_circuit")

    def decode(out: torch.Tensor) -> ca.Decoded:
        return ca.Decoded(out.argmin(-1), out, (0, 1))

    odd = Network(net.module, net.encode, decode, name="argmin")
    with pytest.raises(UnsupportedNetworkError, match="argmax"):
        prove(boolean("BooleanCircuit"), odd, alignment)


def test_nothing_to_intervene_on_is_an_error() -> None:
    net, alignment = organism("boolean_circuit")
    with pytest.raises(AlignmentError, match="no variable"):
        prove(boolean("BooleanCircuit"), net, alignment, variables=[()])


def test_addition_wrong_carry_is_refuted() -> None:
    net, alignment = organism("addition_handbuilt")
    hyp = hypothesis("addition", "TensCarryAddition")
    r = prove(hyp, net, alignment, variables=["carry"], timeout_ms=TIMEOUT_MS)
    assert r.refuted, r.reason
    assert r.counterexample is not None
    expected, observed = replay(hyp, net, alignment, r.counterexample)
    assert expected != observed


@pytest.mark.parametrize("organism_name", ["addition_handbuilt", "addition_rotated"])
def test_addition_is_proved_by_exact_enumeration(organism_name: str) -> None:
    """Only affine layers follow layer "2": every (base, sources) pair is settled exactly, without z3."""
    net, alignment = organism(organism_name)
    r = prove(hypothesis("addition", "TwoDigitAddition"), net, alignment, timeout_ms=TIMEOUT_MS)
    assert r.status == "proved", r.reason
    assert r.checked == (("carry",), ("s0",), ("carry", "s0"))
    assert r.methods == ("enumeration",) * 3
    assert "by enumeration" in r.reason


def test_addition_rotated_wrong_carry_is_refuted_with_a_real_counterexample() -> None:
    net, alignment = organism("addition_rotated")
    hyp = hypothesis("addition", "TensCarryAddition")
    r = prove(hyp, net, alignment, timeout_ms=TIMEOUT_MS)
    assert r.refuted, r.reason
    cx = r.counterexample
    assert cx is not None and cx.found_by == "prove" and r.methods == ("enumeration",)
    assert replay(hyp, net, alignment, cx) == (cx.expected, cx.observed)
    assert cx.expected != cx.observed


@pytest.mark.parametrize("hyp_name, status", [("TwoDigitAddition", "proved"), ("TensCarryAddition", "refuted")])
def test_enumeration_agrees_with_z3(hyp_name: str, status: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same query through the enumeration and (with it switched off) through z3."""
    net, alignment = organism("addition_handbuilt")
    hyp = hypothesis("addition", hyp_name)
    answers = []
    for limit in (prove_enum.ENUMERATION_LIMIT, 0):
        monkeypatch.setattr(prove_enum, "ENUMERATION_LIMIT", limit)
        r = prove(hyp, net, alignment, variables=["carry"], timeout_ms=TIMEOUT_MS)
        answers.append((r.status, r.methods))
        if r.refuted:
            assert r.counterexample is not None
            assert replay(hyp, net, alignment, r.counterexample) == (r.counterexample.expected, r.counterexample.observed)
    assert answers == [(status, ("enumeration",)), (status, ("z3",))]


@pytest.mark.parametrize(
    "weight, units, expected",
    [([[0.0], [1.0]], None, "proved"), ([[1.0], [1.0]], None, "refuted"), ([[0.0], [1.0]], [1], "proved"),
     ([[-1.0], [1.0]], [0], "refuted")],
)
def test_enumeration_and_z3_agree_on_ties(
    weight: list[list[float]], units: list[int] | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logits as the site (nothing after it): ties go to the first class on both paths."""
    net = _linear_net(weight, (0, 1))
    alignment = Alignment({"v": site("0") if units is None else site("0", units=units)})
    got = []
    for limit in (prove_enum.ENUMERATION_LIMIT, 0):
        monkeypatch.setattr(prove_enum, "ENUMERATION_LIMIT", limit)
        r = prove(Copy, net, alignment)
        got.append(r.status)
        if r.refuted:
            assert r.counterexample is not None
            assert replay(Copy, net, alignment, r.counterexample) == (r.counterexample.expected, r.counterexample.observed)
    assert got == [expected, expected]


def test_enumeration_witness_the_engine_does_not_confirm_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    net, alignment = organism("addition_handbuilt")
    monkeypatch.setattr(prove_mod, "_replay", lambda *a: (0, 0, None))
    r = prove(hypothesis("addition", "TensCarryAddition"), net, alignment, variables=["carry"])
    assert r.status == "unknown" and r.methods == ("enumeration",)
    assert "replay agrees" in r.reason
