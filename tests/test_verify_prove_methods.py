"""``prove`` chooses its method per set from estimates, answers unknown past its timeout, shows progress.

* exact enumeration and z3 give the same answers on the organisms, and the
  cheaper estimate is the one that runs;
* ``timeout`` (``--timeout``) answers unknown and says where it stopped;
* a small trained MLP over 16 inputs is decided by enumeration.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import z3
from torch import nn

import causalabs as ca
from _replay import replay as replay_by_hand
from causalabs.network import Alignment, Network, argmax_decoder, site
from causalabs.verification.prove import proof as prove_mod
from causalabs.verification.prove.proof import prove
from test_verify_prove import ROOT, boolean, heq, hypothesis, organism


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


def _odd_alignments() -> dict[str, Alignment]:
    from causalabs.network.featurizers import Rotation

    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    rot = Rotation(q.float())
    return {
        "two positions": Alignment({"left": site("2", units=[0]), "right": site("0", units=[4, 5, 6, 7])}),
        "input of a layer": Alignment({"left": site("3", io="input", units=[0]), "right": site("3", io="input", units=[1])}),
        "random rotation": Alignment({"left": site("2", featurizer=rot, dims=(0, 2)), "right": site("2", featurizer=rot, dims=(2, 3))}),
        "all units, a ReLU after": Alignment({"left": site("1"), "right": site("4", units=[0])}),
    }


@pytest.mark.parametrize("case", ["two positions", "input of a layer", "random rotation", "all units, a ReLU after"])
@pytest.mark.parametrize("hyp_name", ["HierarchicalEquality", "SwappedEquality"])
def test_enumeration_and_z3_agree_on_other_alignments(case: str, hyp_name: str) -> None:
    """Sites at two positions, at a layer's input, on a random rotation, before a ReLU: the same answers."""
    net, _ = organism("heq_handbuilt")
    alignment, hyp = _odd_alignments()[case], heq(hyp_name)
    by_enum = prove(hyp, net, alignment, method="enumeration", progress=False)
    by_z3 = prove(hyp, net, alignment, method="z3", progress=False)
    assert by_enum.status == by_z3.status != "unknown", (by_enum.reason, by_z3.reason)
    assert set(by_enum.methods) == {"enumeration"}
    for r in (by_enum, by_z3):
        if r.refuted:
            cx = r.counterexample
            assert cx is not None and cx.expected != cx.observed
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
