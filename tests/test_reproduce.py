"""`causalabs.reproduce`: one counterexample re-run on both sides, from files or objects, answers as ints."""

from __future__ import annotations

from pathlib import Path

import pytest

import causalabs as ca
from causalabs.errors import LoadError
from causalabs.loading import load_hypothesis, load_module
from causalabs.verification import Reproduction, replay
from causalabs.verification.report import Counterexample

ROOT = Path(__file__).resolve().parents[1]
HYP = f"{ROOT}/hypotheses/hierarchical_equality.py"
NET = f"{ROOT}/models/heq_handbuilt.py"
BASE = {"w": 0, "x": 0, "y": 0, "z": 0}
SOURCES = {"left": {"w": 0, "x": 0, "y": 0, "z": 1}}


def test_from_files_the_twin_disagrees_and_the_true_hypothesis_agrees() -> None:
    twin = ca.reproduce(f"{HYP}:SwappedEquality", NET, BASE, SOURCES)
    assert twin == Reproduction("out", 0, 1) and not twin.agree
    assert str(twin) == "out: hypothesis 0, network 1 (disagree)"
    true = ca.reproduce(f"{HYP}:HierarchicalEquality", NET, BASE, SOURCES)
    assert true.agree and type(true.hypothesis) is int and type(true.network) is int


def test_objects_give_the_same_answers_as_replay() -> None:
    hyp = load_hypothesis(f"{HYP}:SwappedEquality")
    net = ca.load_network(NET)
    alignment = load_module(NET).alignment()
    got = ca.reproduce(hyp, net, BASE, SOURCES, alignment=alignment)
    assert (got.hypothesis, got.network) == replay(Counterexample(BASE, SOURCES, 0, 0), hyp, net, alignment)
    # a function reference for the alignment works as --alignment does
    assert ca.reproduce(hyp, NET, BASE, SOURCES, alignment=f"{NET}:alignment") == got


def test_a_loaded_network_needs_its_alignment() -> None:
    with pytest.raises(LoadError, match="pass alignment="):
        ca.reproduce(f"{HYP}:SwappedEquality", ca.load_network(NET), BASE, SOURCES)
