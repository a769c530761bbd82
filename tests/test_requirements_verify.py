"""A claim refuted only by degenerate inputs is verified once the hypothesis requires them away.

The organism: a hand-built ReLU network for a small IOI-like task (inputs
``a, b`` in 0..3 and ``s`` in {0, 1}; ``io = b if s == 0 else a``; the answer
is ``io``).  Its hidden layer holds ``io`` one-hot in units 0..3 (the aligned
site) and, in units 4..7, a planted detector of the degenerate inputs
``a == b`` which, on such a *base*, pushes the answer one name up.  So every
failing interchange has a base with ``a == b``:

* ``Pick`` (no requirement, 32 inputs) is refuted by every mode;
* ``PickDistinct`` (``Pick`` plus ``ca.require(sp.Ne(a, b))``, 24 inputs) is
  verified exhaustively, proved by z3 and by enumeration, falsify finds
  nothing, sampling never refutes and verifies at threshold 0.97.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch
from torch import nn
from typer.testing import CliRunner

import causalabs as ca
from causalabs.cli import app
from causalabs.network import Alignment, Network, argmax_decoder, site
from causalabs.verification.falsification import rows
from causalabs.verification.falsification.search import falsify
from causalabs.verification.pipeline import verify
from causalabs.verification.prove import prove
from causalabs.verification.report.render import to_text


class Pick(ca.Hypothesis):
    """io = b if s == 0 else a; out = io."""

    a, b = ca.inputs("a b", domain=range(4))
    s = ca.input("s", domain=(0, 1))
    io = ca.var(b * (1 - s) + a * s)
    out = ca.output(io)


class PickDistinct(Pick):
    """Pick on the inputs with two different names."""

    ca.require(sp.Ne(Pick.a, Pick.b))


def pick_module() -> nn.Sequential:
    """Linear(10, 12) ReLU Linear(12, 8) Linear(8, 4): io one-hot in units 0..3 of layer "2", a == b in 4..7."""
    l1, l2, l3 = nn.Linear(10, 12), nn.Linear(12, 8), nn.Linear(8, 4)
    with torch.no_grad():
        for layer in (l1, l2, l3):
            layer.weight.zero_()
            layer.bias.zero_()
        for v in range(4):  # one-hot a in 0..3, b in 4..7, s in 8..9
            l1.weight[v, 4 + v], l1.weight[v, 9] = 1, -1  # b == v and s == 0
            l1.weight[4 + v, v], l1.weight[4 + v, 9] = 1, 1  # a == v and s == 1
            l1.bias[4 + v] = -1
            l1.weight[8 + v, v], l1.weight[8 + v, 4 + v] = 1, 1  # a == b == v
            l1.bias[8 + v] = -1
            l2.weight[v, v], l2.weight[v, 4 + v] = 1, 1  # io == v
            l2.weight[4 + v, 8 + v] = 1
            l3.weight[v, v] = 1
            l3.weight[v, 4 + v] = -2  # the planted defect: a == b == v moves the answer to v + 1
            l3.weight[(v + 1) % 4, 4 + v] = 2
    return nn.Sequential(l1, nn.ReLU(), l2, l3).eval()


def pick_encode(batch: dict[str, np.ndarray]) -> torch.Tensor:
    eye4, eye2 = np.eye(4, dtype=np.float32), np.eye(2, dtype=np.float32)
    return torch.from_numpy(np.concatenate([eye4[batch["a"]], eye4[batch["b"]], eye2[batch["s"]]], axis=1))


def pick_network() -> Network:
    return Network(pick_module(), pick_encode, argmax_decoder(tuple(range(4))), name="pick_planted")


ALIGNMENT = Alignment({"io": site("2", units=[0, 1, 2, 3])})


def test_the_planted_defect_is_only_on_degenerate_inputs() -> None:
    net = pick_network()
    every = ca.enumerate_inputs(Pick)
    got = ca.predict(net, every).values.numpy()
    wrong = got != ca.run(Pick, every)["out"]
    assert np.array_equal(wrong, every["a"] == every["b"])  # 8 of 32 inputs, exactly the a == b ones
    assert len(ca.enumerate_inputs(PickDistinct)["a"]) == 24


def test_exhaustive_refutes_without_and_verifies_with_the_requirement() -> None:
    net = pick_network()
    bad = verify(Pick, net, ALIGNMENT)
    assert bad.verdict == "refuted"
    assert bad.counterexample.base["a"] == bad.counterexample.base["b"]
    good = verify(PickDistinct, net, ALIGNMENT)
    assert good.verdict == "verified" and good.threshold == 1.0
    (e,) = good.per_variable
    assert e.iia.exact and e.iia.n == 24 * 24 and e.iia.successes == 24 * 24
    assert good.provenance["input_space"] == {"inputs": 24, "combinations": 32, "requires": ["Ne(a, b)"]}
    assert "inputs: 24 of the 32 combinations of the domains satisfy Ne(a, b)" in to_text(good)
    assert "input_space" not in bad.provenance


def test_sampling_refutes_without_and_never_refutes_with_the_requirement() -> None:
    net = pick_network()
    assert verify(Pick, net, ALIGNMENT, mode="sample", samples=400, seed=0).verdict == "refuted"
    exact = verify(PickDistinct, net, ALIGNMENT, mode="sample", samples=400, seed=0)
    assert exact.verdict == "inconclusive"  # threshold 1: sampling never verifies
    assert exact.counterexample is None
    loose = verify(PickDistinct, net, ALIGNMENT, mode="sample", samples=2000, seed=0, threshold=0.97)
    assert loose.verdict == "verified" and loose.iia.successes == loose.iia.n


def test_falsify_finds_the_degenerate_input_only_without_the_requirement() -> None:
    net = pick_network()
    found = falsify(Pick, net, ALIGNMENT, seed=0, max_examples=200, deadline_s=60)
    ce = found.counterexample
    assert found.refuted and ce.base["a"] == ce.base["b"]
    none = falsify(PickDistinct, net, ALIGNMENT, seed=0, max_examples=200, deadline_s=60)
    assert none.counterexample is None and none.stop_reason == "max_examples" and none.pairs_run > 0


@pytest.mark.parametrize("method", ["z3", "enumeration"])
def test_prove_refutes_without_and_proves_with_the_requirement(method: str) -> None:
    net = pick_network()
    bad = prove(Pick, net, ALIGNMENT, method=method)
    assert bad.status == "refuted" and bad.counterexample.base["a"] == bad.counterexample.base["b"]
    good = prove(PickDistinct, net, ALIGNMENT, method=method)
    assert good.status == "proved", good.reason


def test_falsify_minimisation_stays_inside_the_requirement() -> None:
    """A network wrong on every base with a == 0: the smallest failing base of PickDistinct is a = 0, b = 1."""
    net = pick_network()
    with torch.no_grad():
        net.module[0].weight[8, :] = 0  # the detector of a == b == 0 now fires on a == 0 alone
        net.module[0].weight[8, 0] = 2
    found = falsify(PickDistinct, net, ALIGNMENT, seed=1, max_examples=300, deadline_s=60)
    ce = found.counterexample
    assert ce is not None and ce.base["a"] != ce.base["b"]
    for row in (ce.base, *ce.sources.values()):
        assert row["a"] != row["b"]
    assert (ce.base["a"], ce.base["b"]) == (0, 1)


@pytest.mark.parametrize("table_limit", [rows.POSITION_TABLE_LIMIT, 0])
def test_falsify_under_a_sparse_requirement(table_limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """2 of 32 inputs admissible: drawn from their table, or (limit 0) by rejection, 1 pair in 256; both find the failure."""
    monkeypatch.setattr(rows, "POSITION_TABLE_LIMIT", table_limit)

    class Sparse(Pick):
        ca.require(sp.And(sp.Eq(Pick.a, 0), sp.Eq(Pick.b, 1)))

    net = pick_network()
    with torch.no_grad():  # the detector of a == b == 0 now fires on a == 0 alone: wrong unless io becomes 1
        net.module[0].weight[8, :] = 0
        net.module[0].weight[8, 0] = 2
    found = falsify(Sparse, net, ALIGNMENT, seed=0, max_examples=5, deadline_s=60)
    ce = found.counterexample
    assert ce is not None
    assert (ce.base["a"], ce.base["b"]) == (0, 1) and ce.sources["io"] == {"a": 0, "b": 1, "s": 1}


@pytest.mark.parametrize(
    ("mode", "without", "with_requirement"),
    [("exhaustive", 1, 0), ("sample", 1, 3), ("sequential", 1, 3), ("falsify", 1, 3), ("prove", 1, 0)],
)
def test_the_command_line_agrees(mode: str, without: int, with_requirement: int, tmp_path: Path) -> None:
    """``causalabs verify`` exit status: 1 refuted without the requirement; 0 (or 3 where a mode cannot verify) with it."""
    tests = Path(__file__).resolve().parent
    net = tmp_path / "pick_net.py"
    net.write_text(
        f"import sys\nsys.path.insert(0, {str(tests)!r})\n"
        "from test_requirements_verify import ALIGNMENT, pick_network\n\n\n"
        "def load():\n    return pick_network()\n\n\ndef alignment():\n    return ALIGNMENT\n"
    )
    hyp = Path(__file__).resolve()
    runner = CliRunner()
    codes = []
    for cls in ("Pick", "PickDistinct"):
        r = runner.invoke(app, ["verify", f"{hyp}:{cls}", "--network", str(net), "--mode", mode],
                          env={"COLUMNS": "200", "NO_COLOR": "1"})
        codes.append(r.exit_code)
        if cls == "PickDistinct" and mode in ("exhaustive", "sample", "sequential"):
            assert "inputs: 24 of the 32 combinations of the domains satisfy Ne(a, b)" in r.stdout, r.stdout
    assert codes == [without, with_requirement], codes
