"""``falsify``: property-based search for a counterexample to a causal-abstraction claim.

* the hand-built hierarchical-equality organism passes with its true
  hypothesis and is refuted, with a shrunk counterexample that really
  disagrees when replayed by hand, with the swapped twin;
* a planted defect on exactly 1% of a 10,000-input space (which a sampled
  IIA reports as ~0.99) is found and shrunk into the planted region;
* the same seed replays the same counterexample;
* bad alignments and variable sets raise typed errors naming the variable.
"""

from __future__ import annotations

import contextlib
import io

from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch
from torch import nn

import causalabs as ca
from causalabs.engine import evaluate_pairs, interchange_network
from causalabs.errors import AlignmentError, CausalabsError
from causalabs.loading import load_module
from causalabs.metrics import iia
from causalabs.network import Alignment, Decoded, Network, load_network, site
from causalabs.verification.report.counterexample import Counterexample
from causalabs.verification.falsification.search import (
    FalsifyResult,
    falsify,
    network_call,
    pair_margins,
    replay,
)

ROOT = Path(__file__).resolve().parents[1]
HEQ = load_module(ROOT / "hypotheses" / "hierarchical_equality.py")
ORGANISM = load_module(ROOT / "models" / "heq_handbuilt.py")

# --- a planted defect: equality over range(10), wrong on exactly 100 of 10,000 inputs ----

N = 10
#: The planted region: bases with w == 3 and x == 7 (y, z free): 100 of the 10**4 inputs.
DEFECT_W, DEFECT_X = 3, 7


class Equality10(ca.Hypothesis):
    """out = (w == x) == (y == z), w, x, y, z in range(10)."""

    w, x, y, z = ca.inputs("w x y z", domain=range(N))
    left = ca.var(sp.Eq(w, x))
    right = ca.var(sp.Eq(y, z))
    out = ca.output(sp.Eq(left, right))


def in_region(row: dict[str, int]) -> bool:
    return row["w"] == DEFECT_W and row["x"] == DEFECT_X


def equality(n: int) -> type:
    """out = (w == x) == (y == z) over ``range(n)``: the hypothesis of :func:`planted_network`."""

    class Equality(ca.Hypothesis):
        w, x, y, z = ca.inputs("w x y z", domain=range(n))
        left = ca.var(sp.Eq(w, x))
        right = ca.var(sp.Eq(y, z))
        out = ca.output(sp.Eq(left, right))

    Equality.__name__ = Equality.__qualname__ = f"Equality{n}"
    return Equality


def planted_network(n: int = N, ws: tuple[int, ...] = (DEFECT_W,), xs: tuple[int, ...] = (DEFECT_X,)) -> Network:
    """Hand-set equality network over one-hot inputs, with a defect flag carried from the base.

    Layer "0" unit v (< n) fires when w == x == v, unit n + v when
    y == z == v, and unit 2n when w is in ``ws`` and x in ``xs`` (by default
    (w, x) == (3, 7)); layer "2" holds left (unit 0), right (unit 1) and the
    flag (unit 2); the head gives the logits of ``left == right`` and passes
    the flag on.  ``decode`` swaps the two logits where the flag is set: the
    answer is flipped on exactly the planted inputs (100 of 10,000 by
    default).  An interchange on left or right patches units 0 or 1 only, so
    the flag always comes from the base.
    """
    N = n  # noqa: N806 -- the domain size, as in the docstring
    l0, l2, l3, l5 = nn.Linear(4 * N, 2 * N + 1), nn.Linear(2 * N + 1, 3), nn.Linear(3, 3), nn.Linear(3, 3)
    with torch.no_grad():
        for layer in (l0, l2, l3, l5):
            layer.weight.zero_()
            layer.bias.zero_()
        l0.bias.fill_(-1.0)
        for v in range(N):
            l0.weight[v, 0 * N + v] = l0.weight[v, 1 * N + v] = 1.0
            l0.weight[N + v, 2 * N + v] = l0.weight[N + v, 3 * N + v] = 1.0
        l0.weight[2 * N, [0 * N + w for w in ws]] = 1.0
        l0.weight[2 * N, [1 * N + x for x in xs]] = 1.0
        l2.weight[0, :N] = 1.0  # left
        l2.weight[1, N : 2 * N] = 1.0  # right
        l2.weight[2, 2 * N] = 1.0  # defect flag
        l3.weight[0, :2] = torch.tensor([1.0, -1.0])
        l3.weight[1, :2] = torch.tensor([-1.0, 1.0])
        l3.weight[2, 2] = 1.0
        l5.weight[0, :2] = 4.0  # logit of out = 0 grows with |left - right|
        l5.weight[1, :2] = -4.0
        l5.bias[:2] = torch.tensor([-2.0, 2.0])
        l5.weight[2, 2] = 1.0
    module = nn.Sequential(l0, nn.ReLU(), l2, l3, nn.ReLU(), l5).eval()

    def encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
        cols = [torch.nn.functional.one_hot(torch.from_numpy(np.array(batch[k], dtype=np.int64)), n) for k in "wxyz"]
        return torch.cat(cols, dim=1).to(torch.float32)

    def decode(out: torch.Tensor) -> Decoded:
        logits, flag = out[:, :2], out[:, 2:3] > 0.5
        scores = torch.where(flag, logits.flip(-1), logits)
        return Decoded(scores.argmax(-1), scores, (0, 1))

    return Network(module, encode, decode, name=f"planted_equality{n}")


def planted_alignment() -> Alignment:
    return Alignment({"left": site("2", units=[0]), "right": site("2", units=[1])})


@pytest.fixture(scope="module")
def heq() -> Network:
    return load_network(ROOT / "models" / "heq_handbuilt.py")


@pytest.fixture(scope="module")
def planted() -> Network:
    return planted_network()


def one(row: dict[str, int]) -> dict[str, np.ndarray]:
    return {k: np.array([v], dtype=np.int64) for k, v in row.items()}


# --- the organism: true hypothesis passes, the swapped twin is refuted ----------------


def test_true_hypothesis_has_no_counterexample(heq: Network) -> None:
    result = falsify(HEQ.HierarchicalEquality, heq, ORGANISM.alignment(), max_examples=100, seed=0)
    assert isinstance(result, FalsifyResult)
    assert result.counterexample is None and not result.refuted
    assert result.stop_reason == "max_examples"
    assert result.examples_run == 100 and result.pairs_run >= 100
    assert "no counterexample found" in str(result)


def test_swapped_twin_is_refuted_shrunk_and_replays(heq: Network) -> None:
    H = HEQ.SwappedEquality
    result = falsify(H, heq, ORGANISM.alignment(), max_examples=200, seed=0)
    ce = result.counterexample
    assert isinstance(ce, Counterexample) and result.stop_reason == "counterexample"
    assert ce.found_by == "falsify" and ce.seed == 0 and ce.margin is not None and ce.margin > 0
    assert ce.expected != ce.observed
    # shrunk: one intervened variable, and all but one input value at index 0 of its domain
    assert len(ce.sources) == 1
    values = list(ce.base.values()) + [v for row in ce.sources.values() for v in row.values()]
    assert sum(v != 0 for v in values) <= 1
    # by hand through the engine and the hypothesis: they really disagree
    base = one(ce.base)
    sources = {v: one(row) for v, row in ce.sources.items()}
    expected = int(ca.interchange(H, base, sources)["out"][0])
    with torch.no_grad():
        observed = int(interchange_network(heq, ORGANISM.alignment(), base, sources).values[0])
    assert (expected, observed) == (ce.expected, ce.observed)
    assert observed != expected
    assert replay(ce, H, heq, ORGANISM.alignment()) == (expected, observed)
    # the printout: the search with its seed, the shrunk pair, and ONE replay line
    text = str(result)
    assert "seed 0" in text and "counterexample (shrunk):" in text
    replays = [line for line in text.splitlines() if line.startswith("replay: ")]
    assert len(replays) == 1
    # ... that really pastes: with the searched objects named, it prints both answers as ints
    names = {"SwappedEquality": H, "network": heq, "alignment": ORGANISM.alignment()}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(replays[0].removeprefix("replay: "), names)
    assert printed.getvalue() == f"out: hypothesis {expected}, network {observed} (disagree)\n"
    # the older one-sided calls still evaluate to the two answers
    names["causalabs"] = ca
    assert int(eval(ce.call("SwappedEquality"), names)["out"][0]) == expected
    with torch.no_grad():
        assert int(eval(network_call(ce), names)[0]) == observed


def test_same_seed_same_counterexample(heq: Network) -> None:
    runs = [falsify(HEQ.SwappedEquality, heq, ORGANISM.alignment(), max_examples=100, seed=1) for _ in range(2)]
    assert runs[0].counterexample == runs[1].counterexample
    assert (runs[0].examples_run, runs[0].pairs_run) == (runs[1].examples_run, runs[1].pairs_run)
    assert runs[0].counterexample is not None and runs[0].seed == runs[0].counterexample.seed == 1


def test_variables_restricts_the_intervened_sets(heq: Network) -> None:
    result = falsify(HEQ.SwappedEquality, heq, ORGANISM.alignment(), variables=["right"], max_examples=100)
    assert result.counterexample is not None
    assert result.counterexample.intervened == ("right",)
    assert "variables=['right']" in result.call


# --- the planted defect --------------------------------------------------------------


def test_planted_network_is_wrong_on_exactly_one_percent(planted: Network) -> None:
    inputs = ca.enumerate_inputs(Equality10)
    truth = ca.run(Equality10, inputs)["out"]
    got = ca.predict(planted, inputs).values.numpy()
    wrong = got != truth
    assert wrong.sum() == 100
    assert np.all((inputs["w"][wrong] == DEFECT_W) & (inputs["x"][wrong] == DEFECT_X))
    # a 1,000-pair sampled IIA barely notices
    results = evaluate_pairs(planted, planted_alignment(), ca.random_pairs(Equality10, "left", 1000, seed=0))
    score = iia(results).overall.overall.value
    assert 0.97 <= score < 1.0


def test_planted_defect_is_found_and_shrunk_into_the_region(planted: Network) -> None:
    result = falsify(Equality10, planted, planted_alignment(), seed=0, deadline_s=30.0)
    ce = result.counterexample
    assert ce is not None, str(result)
    assert in_region(ce.base), str(result)
    assert result.elapsed > 0 and result.examples_run > 0
    # shrunk toward the first values: y and z of the base, and the source, at 0
    assert ce.base["y"] == ce.base["z"] == 0
    assert replay(ce, Equality10, planted, planted_alignment()) == (ce.expected, ce.observed)


# --- margins and bad input -------------------------------------------------------------


def test_pair_margins() -> None:
    dec = Decoded(torch.tensor([1, 0, 1]), torch.tensor([[0.0, 2.0], [3.0, 1.0], [1.0, 1.5]]), (0, 1))
    m = pair_margins(dec, np.array([1, 1, 7]))
    assert m[0] == -2.0 and m[1] == 2.0 and m[2] == np.inf
    plain = Decoded(torch.tensor([1, 0]))
    assert list(pair_margins(plain, np.array([1, 1]))) == [-1.0, 1.0]


def test_alignment_naming_unknown_variable_is_a_typed_error(heq: Network) -> None:
    bad = Alignment({"middle": site("2", units=[0])})
    with pytest.raises(AlignmentError, match="'middle'") as info:
        falsify(HEQ.HierarchicalEquality, heq, bad, max_examples=5)
    assert isinstance(info.value, CausalabsError) and isinstance(info.value, ValueError)


def test_variables_without_a_site_is_a_typed_error(heq: Network) -> None:
    only_left = Alignment({"left": site("2", units=[0])})
    with pytest.raises(AlignmentError, match="'right'"):
        falsify(HEQ.HierarchicalEquality, heq, only_left, variables=["right"], max_examples=5)
    with pytest.raises(KeyError, match="'nope'"):
        falsify(HEQ.HierarchicalEquality, heq, only_left, variables=["nope"], max_examples=5)


def test_deadline_stops_generation(heq: Network) -> None:
    result = falsify(HEQ.HierarchicalEquality, heq, ORGANISM.alignment(), max_examples=50, deadline_s=0.0)
    assert result.counterexample is None
    assert result.stop_reason == "deadline"
    assert result.examples_run == 0


class _Clock:
    """A fake ``time`` module whose clock advances one second per reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 1.0
        return self.now


def test_deadline_cuts_shrinking_but_keeps_a_real_counterexample(heq: Network, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    module = importlib.import_module("causalabs.verification.falsification.search")
    H = HEQ.SwappedEquality
    monkeypatch.setattr(module, "time", _Clock())
    whole = falsify(H, heq, ORGANISM.alignment(), max_examples=100, seed=2, deadline_s=1e6)
    assert whole.stop_reason == "counterexample" and whole.first_failure_s is not None
    # the same search with the deadline one clock reading after the first failure:
    # the minimisation is cut, the pair found so far is kept
    monkeypatch.setattr(module, "time", _Clock())
    result = falsify(H, heq, ORGANISM.alignment(), max_examples=100, seed=2, deadline_s=whole.first_failure_s + 1)
    ce = result.counterexample
    assert result.stop_reason == "deadline"
    assert ce is not None and result.examples_run < whole.examples_run
    assert replay(ce, H, heq, ORGANISM.alignment()) == (ce.expected, ce.observed)
    assert ce.expected != ce.observed


def test_docs_example_runs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The first Python block of docs/falsify.md runs and prints what the docs show."""
    text = (ROOT / "docs" / "falsify.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(block, "docs/falsify.md", "exec"), namespace)  # noqa: S102 -- the docs example itself
    out = capsys.readouterr().out
    shown = text.split("```\nfalsify:", 1)[1].split("```", 1)[0].splitlines()
    assert out.splitlines()[1:] == shown[1:]  # the header line holds timings
