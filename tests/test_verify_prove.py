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
from _replay import replay as replay_by_hand
from causalabs.engine import interchange_network
from causalabs.errors import AlignmentError, NetworkError, ProofSettingError, SiteError, UnknownVariableError
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


# --- the method is chosen from estimates; the timeout answers unknown --------------------------


@pytest.mark.parametrize(
    "organism_name, hyp",
    [("heq_handbuilt", heq("HierarchicalEquality")), ("heq_rotated", heq("SwappedEquality")),
     ("boolean_circuit", boolean("BooleanCircuit")), ("boolean_circuit_rotated", boolean("SwappedGates"))],
)
def test_enumeration_and_z3_agree_on_the_organisms(organism_name: str, hyp: type) -> None:
    """A ReLU after the sites: every combination through the exact tail, and z3, give the same answers."""
    net, alignment = organism(organism_name)
    by_enum = prove(hyp, net, alignment, method="enumeration")
    by_z3 = prove(hyp, net, alignment, method="z3")
    assert by_enum.status == by_z3.status != "unknown"
    assert set(by_enum.methods) == {"enumeration"} and set(by_z3.methods) == {"z3"}
    auto = prove(hyp, net, alignment)
    for est, chosen in zip(auto.estimates, auto.methods):
        assert chosen == min(est, key=lambda m: (est[m], m != "enumeration"))  # the cheaper estimate ran
    for r in (by_enum, by_z3):
        if r.refuted:
            cx = r.counterexample
            assert cx is not None
            assert replay_by_hand(hyp, net, alignment, cx) == (cx.expected, cx.observed)


class _Clock:
    """A fake ``time`` module whose clock advances ``step`` seconds per reading."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now


def test_timeout_answers_unknown_and_says_where(monkeypatch: pytest.MonkeyPatch) -> None:
    from causalabs.verification.prove import watch as watch_mod

    net, alignment = organism("addition_rotated")
    hyp = hypothesis("addition", "TwoDigitAddition")
    monkeypatch.setattr(watch_mod, "time", _Clock(2.0))  # every look at the clock costs two seconds
    r = prove(hyp, net, alignment, timeout=10.0, progress=False)
    assert r.status == "unknown" and not r.proved, r.reason
    assert "timed out" in r.reason and "timeout=10 s" in r.reason and "not proved" in r.reason
    assert "{" in r.reason  # names the variable set it was working on
    assert r.counterexample is None


def test_timeout_stops_z3_and_answers_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole call's timeout becomes z3's limit; z3 stopping there is a timeout, not proved."""
    monkeypatch.setattr(prove_mod, "SOURCE_TABLE_LIMIT", 0)  # symbolic sources: the harder z3 query
    net, alignment = organism("heq_rotated")
    limits = []
    real_set = z3.Solver.set

    def spy(self: z3.Solver, *args: object, **kw: object) -> None:
        limits.append(args)
        real_set(self, *args, **kw)

    monkeypatch.setattr(z3.Solver, "set", spy)
    monkeypatch.setattr(z3.Solver, "check", lambda self, *a: z3.unknown)
    monkeypatch.setattr(z3.Solver, "reason_unknown", lambda self: "timeout")
    r = prove(heq("HierarchicalEquality"), net, alignment, timeout=5.0, progress=False)
    assert r.status == "unknown" and "timed out" in r.reason and "z3" in r.reason
    assert limits and limits[0][0] == "timeout" and 0 < limits[0][1] <= 5000  # z3 got what was left, in ms


def test_cli_timeout_exits_3_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from causalabs.cli import app
    from causalabs.verification.prove import watch as watch_mod

    monkeypatch.setattr(watch_mod, "time", _Clock(2.0))

    args = ["verify", f"{ROOT / 'hypotheses/addition.py'}:TwoDigitAddition", "--network",
            str(ROOT / "models/addition_rotated.py"), "--mode", "prove", "--no-progress"]
    out = CliRunner().invoke(app, [*args, "--timeout", "10"], env={"COLUMNS": "200"})
    assert out.exit_code == 3, out.output
    assert out.stdout.startswith("UNKNOWN") and "timed out" in out.stdout
    bad = CliRunner().invoke(app, [*args, "--timeout", "0"], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "--timeout" in bad.output


def test_progress_shows_only_when_asked_or_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from causalabs.verification.prove import watch as watch_mod

    with watch_mod.Watch(None, None) as w:  # pytest's stderr is not a terminal: quiet
        assert w._bar is None
    with watch_mod.Watch(None, False) as w:
        assert w._bar is None
    monkeypatch.setattr(watch_mod, "DELAY_S", 0.0)
    with watch_mod.Watch(None, True) as w:
        w.stage("testing", total=3)
        for _ in range(500):  # the display starts on a timer thread
            if w.shown:
                break
            time.sleep(0.01)
        assert w.shown
    assert not w.shown  # removed when the proof ends


# --- any module that traces to one chain of Linear / ReLU / identity / flatten -------------


class _Hidden(nn.Module):
    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.fc = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.relu(self.fc(x))


class _CustomHeq(nn.Module):
    """heq_handbuilt's layers in a custom module: a functional ReLU, a flatten, a nested container."""

    def __init__(self, seq: nn.Sequential) -> None:
        super().__init__()
        self.hidden = _Hidden(seq[0])
        self.variables = seq[2]
        self.flat = nn.Flatten()
        self.head = nn.Sequential(seq[3], nn.ReLU(), nn.Identity(), seq[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.flat(self.variables(self.hidden(x).flatten(1))))


def _custom_twin(name: str) -> tuple[Network, Alignment]:
    net, alignment = organism(name)
    twin = Network(_CustomHeq(net.module), net.encode, net.decode, name=f"{name}_custom")
    moved = Alignment({v: attrs_evolve(s, module="variables") for v, s in alignment.sites.items()})
    return twin, moved


def attrs_evolve(s: object, **changes: object) -> object:
    import attrs

    return attrs.evolve(s, **changes)


@pytest.mark.parametrize("organism_name", ["heq_handbuilt", "heq_rotated"])
@pytest.mark.parametrize("hyp_name", ["HierarchicalEquality", "SwappedEquality", "CrossedEquality"])
@pytest.mark.parametrize("method", ["auto", "z3"])
def test_traced_custom_module_is_decided_like_its_sequential_twin(organism_name: str, hyp_name: str, method: str) -> None:
    net, alignment = organism(organism_name)
    twin, moved = _custom_twin(organism_name)
    hyp = heq(hyp_name)
    a = prove(hyp, net, alignment, method=method)
    b = prove(hyp, twin, moved, method=method)
    assert (a.status, a.methods, a.checked) == (b.status, b.methods, b.checked)
    assert a.status != "unknown", a.reason
    if b.refuted:
        cx = b.counterexample
        assert cx is not None and a.counterexample is not None
        assert replay_by_hand(hyp, twin, moved, cx) == (cx.expected, cx.observed)
        assert cx.expected != cx.observed
        if method == "auto":  # the enumeration visits the same entries in the same order
            assert (cx.base, cx.sources) == (a.counterexample.base, a.counterexample.sources)


def test_a_site_may_name_a_container_or_its_input() -> None:
    net, alignment = organism("heq_handbuilt")
    twin, _ = _custom_twin("heq_handbuilt")
    at_head = Alignment({"left": site("head", io="input", units=[0]), "right": site("head", io="input", units=[1])})
    assert prove(heq("HierarchicalEquality"), twin, at_head).proved
    assert prove(heq("SwappedEquality"), twin, at_head).refuted


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(x + self.a(x))


class _Sigmoid(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.sigmoid(self.a(x)))


class _TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.a(x)


class _Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.act, self.b = nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.act(self.act(self.a(x))))


@pytest.mark.parametrize(
    "module, message",
    [
        (_Residual(), r"the output of 'x' is used by 'a', 'add': the graph branches"),
        (_Sigmoid(), r"node 'sigmoid' calls sigmoid"),
        (nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)), r"module '1' is Tanh"),
        (nn.Sequential(nn.Linear(4, 4), nn.Flatten(0), nn.Linear(4, 2)), r"module '1' is Flatten"),
        (_TwoInputs(), r"_TwoInputs.*takes 2 inputs"),
    ],
)
def test_unsupported_graph_names_the_first_node_at_fault(module: nn.Module, message: str) -> None:
    net = Network(module, lambda b: torch.zeros(len(b["a"]), 4), argmax_decoder((0, 1)), name="odd")
    _, alignment = organism("boolean_circuit")
    with pytest.raises(UnsupportedNetworkError, match=message) as info:
        prove(boolean("BooleanCircuit"), net, alignment)
    assert isinstance(info.value, NetworkError) and isinstance(info.value, TypeError)


def test_a_site_on_a_module_that_runs_twice_is_refused() -> None:
    enc = lambda b: torch.as_tensor(np.stack([np.asarray(b[k]) for k in "abcd"], 1), dtype=torch.float32)
    net = Network(_Twice(), enc, argmax_decoder((0, 1)), name="twice")
    with pytest.raises(SiteError, match="'act' runs more than once"):
        prove(boolean("BooleanCircuit"), net, Alignment({"g1": site("act", units=[0])}))


# --- a small trained MLP over 16 inputs: decided by enumeration -------------------------------


def _or_of_ands() -> tuple[type, type]:
    import sympy as sp

    class Whole(ca.Hypothesis):
        """out = h, h = (a AND b) OR (c AND d)."""

        a, b, c, d = ca.inputs("a b c d", domain=(0, 1))
        h = ca.var(sp.Or(sp.And(a, b), sp.And(c, d)))
        out = ca.output(h)

    class Gates(ca.Hypothesis):
        """out = g1 OR g2 with g1 = a AND b, g2 = c AND d."""

        a, b, c, d = ca.inputs("a b c d", domain=(0, 1))
        g1 = ca.var(sp.And(a, b))
        g2 = ca.var(sp.And(c, d))
        out = ca.output(sp.Or(g1, g2))

    return Whole, Gates


@functools.cache
def trained_or_of_ands() -> Network:
    """A 4-16-16-2 ReLU MLP trained (seeded, full batch, a few hundred Adam steps) on all 16 inputs."""
    Whole, _ = _or_of_ands()
    inputs = ca.enumerate_inputs(Whole)
    x = torch.as_tensor(np.stack([inputs[k] for k in "abcd"], 1), dtype=torch.float32)
    y = torch.as_tensor(ca.run(Whole, inputs)["out"], dtype=torch.int64)
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(module.parameters(), lr=0.03)
    for _ in range(300):
        opt.zero_grad()
        nn.functional.cross_entropy(module(x), y).backward()
        opt.step()
    module.eval()
    enc = lambda b: torch.as_tensor(np.stack([np.asarray(b[k]) for k in "abcd"], 1), dtype=torch.float32)
    return Network(module, enc, argmax_decoder((0, 1)), name="trained_or_of_ands")


def test_trained_mlp_over_16_inputs_is_decided_by_enumeration() -> None:
    """Dense trained weights and 32 ReLUs: z3's estimate is astronomical, the enumeration's tiny.

    Both answers agree with the engine's exhaustive check over every pair.
    """
    Whole, Gates = _or_of_ands()
    net = trained_or_of_ands()
    assert ca.predict(net, ca.enumerate_inputs(Whole)).values.tolist() == ca.run(Whole, ca.enumerate_inputs(Whole))["out"].tolist()
    true_claim = Alignment({"h": site("2")})  # h is the whole second hidden layer (before its ReLU)
    false_claim = Alignment({"g1": site("2"), "g2": site("0", units=[0])})
    proved = prove(Whole, net, true_claim, progress=False)
    assert proved.status == "proved", proved.reason
    assert proved.methods == ("enumeration",) and proved.estimates[0]["enumeration"] < proved.estimates[0]["z3"]
    assert ca.verify(Whole, net, true_claim, mode="exhaustive").verdict == "verified"
    refuted = prove(Gates, net, false_claim, variables=["g1"], progress=False)
    assert refuted.status == "refuted" and refuted.methods == ("enumeration",), refuted.reason
    cx = refuted.counterexample
    assert cx is not None
    assert replay_by_hand(Gates, net, false_claim, cx) == (cx.expected, cx.observed)
    assert cx.expected != cx.observed
    assert ca.verify(Gates, net, Alignment({"g1": site("2")}), mode="exhaustive").verdict == "refuted"
