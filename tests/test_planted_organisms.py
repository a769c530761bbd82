"""The planted-defect organisms: their exact IIA (as their docstrings state) and their verdicts in both modes.

* ``planted_carry_bypass``: the carry claim is false on 0.55% of the carry
  pairs (changed-pair IIA 0.988889): refuted at thresholds 1, 0.995 and
  0.99, verified at 0.98.
* ``planted_unused_copy``: under ``noop_alignment()`` the variable sits on a
  copy the read-out ignores: overall IIA 0.9802, changed pairs 0.
* ``planted_modsum``: every one of 15 variable sets has IIA 1233/1296 =
  0.951389 on changed and on unchanged pairs: verified at 0.95, refuted at 1.

Each organism runs exhaustively once (module fixtures); verdicts at other
thresholds are recomputed from those counts with the verdict function
verify() uses, and checked against verify() itself at one threshold each.
Every organism is also verified end to end in sample mode.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from _replay import replay

from causalabs.loading import sha256_file
from causalabs.organisms import Organism, load_organism, task_accuracy
from causalabs.verification.exhaustive import variable_sets
from causalabs.verification.pipeline import verify
from causalabs.verification.verdict import SetCounts, decide

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
PLANTED = ("planted_carry_bypass", "planted_unused_copy", "planted_modsum")


@cache
def organism(name: str) -> Organism:
    return load_organism(MODELS / f"{name}.py")


@cache
def exhaustive(name: str, alignment: str = "alignment") -> Any:
    o = organism(name)
    return verify(o.hypothesis(), o.network, getattr(o.source, alignment)())


def counts(report: Any) -> dict[tuple[str, ...], dict[str, tuple[int, int]]]:
    return {
        e.variables: {"changed": (e.changed.successes, e.changed.n), "unchanged": (e.unchanged.successes, e.unchanged.n)}
        for e in report.per_variable
    }


def table(report: Any) -> list[SetCounts]:
    return [SetCounts(vs, c["changed"], c["unchanged"]) for vs, c in counts(report).items()]


@pytest.mark.parametrize("name", PLANTED)
def test_weights_rebuild_bit_for_bit_and_metadata(name: str, tmp_path: Path) -> None:
    o = organism(name)
    tensors, meta = o.source.build()
    out = o.source.org.save_weights(tensors, tmp_path / "w.safetensors", meta)
    assert sha256_file(out) == sha256_file(MODELS / "weights" / f"{name}.safetensors")
    assert o.info.wrong and o.info.hypothesis.startswith("hypotheses/")
    measured = task_accuracy(o.network, o.hypothesis())
    assert measured.exact and measured.value == o.info.accuracy


def test_carry_bypass_exact_iia_and_verdicts() -> None:
    o = organism("planted_carry_bypass")
    r = exhaustive("planted_carry_bypass")
    assert counts(r) == o.source.EXACT  # the docstring's table
    carry = r.per_variable[0]
    assert carry.iia.value == 0.9945 and carry.failures == 550_000
    assert r.verdict == "refuted" and r.threshold == 1.0
    sets = table(r)
    for t in (1.0, 0.995, 0.99):
        assert decide(sets, threshold=t, exact=True).verdict == "refuted", t
    assert decide(sets, threshold=0.98, exact=True).verdict == "verified"
    assert o.info.extra["threshold"] == 0.98
    # the counterexample: a base with ones digits (9, 9) and a source whose carry is 0
    cx = r.counterexample
    assert cx is not None and (cx.base["a0"], cx.base["b0"]) == (9, 9)
    assert cx.sources["carry"]["a0"] + cx.sources["carry"]["b0"] < 10
    assert replay(o.hypothesis(), o.network, o.alignment(), cx) == (cx.expected, cx.observed)
    at99 = verify(o.hypothesis(), o.network, o.alignment(), threshold=0.99, sets=[("carry",)])
    assert at99.verdict == "refuted" and at99.reason.startswith("carry: IIA on changed pairs 48,950,000/49,500,000")


def test_unused_copy_exact_iia_and_verdicts() -> None:
    o = organism("planted_unused_copy")
    right = exhaustive("planted_unused_copy")
    assert right.verdict == "verified" and right.iia.value == 1.0
    noop = exhaustive("planted_unused_copy", "noop_alignment")
    assert counts(noop) == o.source.NOOP_EXACT
    assert noop.iia.value == pytest.approx(0.9802, abs=1e-12)
    for t in (1.0, 0.95, 0.5):  # overall IIA 0.98, but no changed pair agrees
        assert decide(table(noop), threshold=t, exact=True).verdict == "refuted", t
    at95 = verify(o.hypothesis(), o.network, o.source.noop_alignment(), threshold=0.95)
    assert at95.verdict == "refuted" and "IIA on changed pairs 0/1,980,000" in at95.reason


def test_modsum_exact_iia_on_every_set_and_stratum() -> None:
    o = organism("planted_modsum")
    r = exhaustive("planted_modsum")
    good, inputs = o.source.EXACT_IIA
    assert [e.variables for e in r.per_variable] == variable_sets(["v1", "v2", "v3", "v4"])
    assert len(r.per_variable) == 15
    for e in r.per_variable:
        total = inputs ** (1 + len(e.variables))
        assert e.iia.n == total and e.changed.n == total * 2 // 3
        for stratum in (e.iia, e.changed, e.unchanged):
            assert stratum.successes * inputs == stratum.n * good  # exactly 1233/1296
    assert len(o.source.defective_inputs()) == 63
    assert decide(table(r), threshold=1.0, exact=True).verdict == "refuted"
    assert decide(table(r), threshold=0.952, exact=True).verdict == "refuted"
    at95 = verify(o.hypothesis(), o.network, o.alignment(), threshold=0.95)
    assert at95.verdict == "verified" and o.info.extra["threshold"] == 0.95
    assert "lowest 0.9514" in at95.reason
    # the defect is the base's: a defective base fails with every source
    bad = {k: int(v) for k, v in zip(("x1", "x2", "x3", "x4"), o.source.defective_inputs()[0])}
    cx = r.counterexample
    assert cx is not None and cx.base == bad


# --- sample mode, end to end ---------------------------------------------------------------


def test_sample_mode_on_the_carry_bypass() -> None:
    o = organism("planted_carry_bypass")
    h, net, al = o.hypothesis(), o.network, o.alignment()
    exact_claim = verify(h, net, al, mode="sample", seed=0)  # threshold 1: a failing pair refutes
    assert exact_claim.verdict == "refuted" and exact_claim.counterexample is not None
    cx = exact_claim.counterexample
    assert (cx.base["a0"], cx.base["b0"]) == (9, 9) and cx.found_by == "sample"
    assert replay(h, net, al, cx) == (cx.expected, cx.observed)
    near = verify(h, net, al, mode="sample", seed=0, threshold=0.99)  # false by 0.0011 on the carry's changed pairs
    assert near.verdict == "inconclusive"
    # seed 0 draws 990 agreeing of 1,000 changed pairs: exactly the threshold, which no sample size decides
    assert near.reason.startswith("carry: IIA on changed pairs 990/1,000 = 0.9900, bounds [0.9831, 0.9960] around 0.99")
    assert "no number of pairs would decide it at this rate" in near.reason
    ok = verify(h, net, al, mode="sample", seed=0, threshold=0.9)
    assert ok.verdict == "verified"


def test_sample_mode_on_the_unused_copy() -> None:
    o = organism("planted_unused_copy")
    for sampling in ("balanced", "random"):
        r = verify(o.hypothesis(), o.network, o.source.noop_alignment(), mode="sample", seed=0, threshold=0.95,
                   sampling=sampling)
        (e,) = r.per_variable
        assert r.verdict == "refuted" and e.changed.successes == 0, sampling
        assert e.iia.value > 0.95 or sampling == "balanced"  # random pairs: the overall IIA alone would pass
        assert r.reason.startswith("same: IIA on changed pairs 0/")
    balanced = verify(o.hypothesis(), o.network, o.source.noop_alignment(), mode="sample", seed=0, threshold=0.95)
    assert balanced.per_variable[0].changed.n >= 990  # half the pairs change the output, against about 2% at random


def test_sample_mode_on_the_modsum() -> None:
    o = organism("planted_modsum")
    h, net, al = o.hypothesis(), o.network, o.alignment()
    r = verify(h, net, al, mode="sample", seed=0, threshold=0.95)
    assert len(r.per_variable) == 15
    assert r.verdict == "inconclusive"  # true, but 1,000 pairs per stratum cannot show 0.9514 >= 0.95
    assert re.match(r"v\d(\+v\d)*: IIA on (un)?changed pairs \d+/1,000 = 0\.9\d+, bounds \[", r.reason), r.reason
    assert "more pairs of this set would" in r.reason
    assert verify(h, net, al, mode="sample", seed=0, threshold=0.9).verdict == "verified"
    assert verify(h, net, al, mode="sample", seed=0).verdict == "refuted"  # threshold 1: 4.9% of bases fail


@pytest.mark.slow
def test_the_worked_example_in_the_docs_is_what_the_cli_prints() -> None:
    """docs/verify.md's worked example: each command's exit status, headline and reason, as printed."""
    import shlex

    from typer.testing import CliRunner

    from causalabs.cli import app

    doc = (ROOT / "docs" / "verify.md").read_text()
    block = doc.split("**A worked example.**", 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    full = "hypotheses/addition.py:TwoDigitAddition --network models/planted_carry_bypass.py"
    commands: list[tuple[list[str], int, list[str]]] = []  # args, exit status, first lines printed
    for line in block.splitlines():
        if line.startswith("$ "):
            command, _, comment = line[2:].partition("#")
            code = int(comment.split("exit")[1].split(":")[0])
            commands.append((shlex.split(command.replace("...", full))[1:], code, []))
        else:
            commands[-1][2].append(line)
    assert len(commands) == 4
    for args, code, expected in commands:
        args = [str(ROOT / a) if a.startswith(("hypotheses/", "models/")) else a for a in args]
        r = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
        assert r.exit_code == code, r.output
        assert r.stdout.splitlines()[: len(expected)] == expected, r.stdout
