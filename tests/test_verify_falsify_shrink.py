"""``falsify`` is a function of its seed alone, and its counterexample is the smallest failing pair.

* importing a module full of new integer literals changes nothing, and
  nothing is written to the working directory (a fresh process);
* brute force over all 65,536 pairs of small organisms and planted defects
  gives the reported counterexample;
* the pure minimiser is minimal under its moves on random failure sets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import causalabs as ca
from causalabs.engine import interchange_network
from causalabs.network import Alignment, Network, load_network
from causalabs.verification.falsification import falsify, replay
from causalabs.verification.report.counterexample import Counterexample
from test_verify_falsify import HEQ, ORGANISM, ROOT, equality, planted_alignment, planted_network


# --- the seed alone decides the search ---------------------------------------------------


_SEED_ALONE = """
import importlib, json, sys
sys.path.insert(0, {tests!r})
import torch
torch.set_num_threads(1)
from test_verify_falsify import equality, planted_alignment, planted_network
from causalabs.verification.falsification import falsify

H, net = equality(200), planted_network(200, ws=tuple(range(50)), xs=tuple(range(150, 200)))

def outcome(seed):
    r = falsify(H, net, planted_alignment(), seed=seed, max_examples=50)
    return [r.counterexample.to_dict(), r.examples_run, r.pairs_run, r.stop_reason]

before = {{seed: outcome(seed) for seed in (1, 7)}}
sys.path.insert(0, {lib!r})
importlib.import_module("unrelated_literals")
after = {{seed: outcome(seed) for seed in (1, 7)}}
print(json.dumps([before, after]))
"""


def test_same_seed_same_search_whatever_else_is_imported(tmp_path: Path) -> None:
    """In a fresh process: importing a module of new integer literals changes nothing; nothing is written to the cwd.

    The ``hypothesis`` library would otherwise mix literals harvested from
    loaded local modules into integer draws that can hold them (here inputs
    in ``range(200)``) and cache them under ``./.hypothesis/``.
    """
    import json
    import subprocess
    import sys

    work, lib = tmp_path / "work", tmp_path / "lib"
    work.mkdir()
    lib.mkdir()
    (lib / "unrelated_literals.py").write_text(
        "TABLE = [" + ", ".join(str(100 + 3 * k) for k in range(300)) + "]\n"
        "def scale(v):\n    return v * 123 + 457 - 101\n"
    )
    script = _SEED_ALONE.format(tests=str(ROOT / "tests"), lib=str(lib))
    done = subprocess.run([sys.executable, "-c", script], cwd=work, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before["1"][0] is not None and before["7"][0] is not None
    assert after == before  # counterexample, examples, pairs, stop reason: all the same
    assert sorted(p.name for p in work.iterdir()) == []  # no .hypothesis/ (no database, no constants cache)


# --- the counterexample is the smallest failing pair, by brute force --------------------


def _smallest_failing_pair(hyp: type, net: Network, alignment: Alignment, var: str) -> tuple | None:
    """Over every (base, source) pair intervening on ``var``: the first failing one, by domain positions."""
    import itertools

    model = ca.model_of(hyp)
    domains = [list(model.variables[n].domain) for n in model.inputs]
    rows = np.array(list(itertools.product(*(range(len(d)) for d in domains))), dtype=np.int64)
    n = len(rows)
    b_idx, s_idx = np.repeat(rows, n, axis=0), np.tile(rows, (n, 1))

    def values(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: np.asarray(d, dtype=np.int64)[idx[:, j]] for j, (k, d) in enumerate(zip(model.inputs, domains))}

    base, src = values(b_idx), {var: values(s_idx)}
    expected = ca.interchange(hyp, base, src)[model.output]
    with torch.no_grad():
        observed = interchange_network(net, Alignment({var: alignment[var]}), base, src).values.numpy()
    bad = np.flatnonzero(observed != expected)
    if not bad.size:
        return None
    i = int(bad[0])  # pairs are listed in lexicographic order: base first, then source
    return tuple(int(base[k][i]) for k in model.inputs), tuple(int(src[var][k][i]) for k in model.inputs)


def _as_tuple(ce: Counterexample) -> tuple:
    (var,) = ce.sources
    return tuple(ce.base.values()), tuple(ce.sources[var].values())


SMALL_CASES = {
    "heq swapped": lambda: (HEQ.SwappedEquality, load_network(ROOT / "models" / "heq_handbuilt.py"), ORGANISM.alignment()),
    "heq crossed": lambda: (HEQ.CrossedEquality, load_network(ROOT / "models" / "heq_handbuilt.py"), ORGANISM.alignment()),
    "planted 1-of-16 bases": lambda: (equality(4), planted_network(4, ws=(1,), xs=(2,)), planted_alignment()),
    "planted w in {2,3}, x = 3": lambda: (equality(4), planted_network(4, ws=(2, 3), xs=(3,)), planted_alignment()),
}


@pytest.mark.parametrize("case", list(SMALL_CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counterexample_is_the_smallest_failing_pair(case: str, seed: int) -> None:
    """Brute force over all 65,536 pairs of the reported set: falsify reports the first failing one.

    The order (falsification.minimize): the base's values, then the source's, each
    input in the hypothesis' order, by position in its domain.  The
    intervened set is the search's, minimal: one variable here.
    """
    hyp, net, alignment = SMALL_CASES[case]()
    result = falsify(hyp, net, alignment, seed=seed, max_examples=200)
    ce = result.counterexample
    assert ce is not None and result.stop_reason == "counterexample"
    assert len(ce.intervened) == 1
    assert _as_tuple(ce) == _smallest_failing_pair(hyp, net, alignment, ce.intervened[0])
    assert replay(ce, hyp, net, alignment) == (ce.expected, ce.observed)


def test_minimize_is_minimal_under_its_moves() -> None:
    """The pure minimiser on random failure sets over a small domain, checked by brute force.

    Whatever the failing set, the result fails and no smaller pair within one
    move (one value lowered, or one lowered and a later one changed) fails;
    on sets that constrain at most two values (the others free) it is the
    smallest failing pair of the whole domain.
    """
    import itertools

    from causalabs.verification.falsification.minimize import Pair, minimize

    radices = (3, 3)
    cells = 2 * len(radices)  # base row and one source row
    space = list(itertools.product(*[range(radices[k % 2]) for k in range(cells)]))
    rng = np.random.default_rng(0)

    def run(failing: set[tuple[int, ...]], start: tuple[int, ...]) -> tuple[int, ...]:
        def fails(vs: tuple[str, ...], base: np.ndarray, src: np.ndarray) -> np.ndarray:
            flat = np.concatenate([base, src.reshape(len(base), -1)], axis=1)
            return np.array([tuple(int(v) for v in row) in failing for row in flat])

        pair = Pair(("v",), start[:2], (start[2:],))
        got, late, _, _ = minimize(pair, fails, ["v"], radices)
        assert not late
        return got.base + got.sources[0]

    for trial in range(60):
        if trial % 2:  # a random set
            failing = {p for p in space if rng.random() < 0.15}
        else:  # a predicate on two random values, the others free
            a, b = sorted(rng.choice(cells, size=2, replace=False))
            allowed = {(u, v) for u in range(3) for v in range(3) if rng.random() < 0.3}
            failing = {p for p in space if (p[a], p[b]) in allowed}
        if not failing:
            continue
        start = sorted(failing)[int(rng.integers(len(failing)))]
        got = run(failing, start)
        assert got in failing
        for other in failing:
            changed = [k for k in range(cells) if other[k] != got[k]]
            if other < got:
                assert len(changed) > 2, (got, other)
        if trial % 2 == 0:
            assert got == min(failing)
