"""docs/engine.md, "Interventions and IIA": its Python block runs as written, and the ``execution`` values
it quotes are the ones ``evaluate_pairs`` gives on the README's network."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import causalabs as ca
from causalabs.backends.native import NativeBackend
from causalabs.engine import evaluate_pairs
from causalabs.loading import load_hypothesis

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "engine.md").read_text()
SECTION = PAGE.split("## Interventions and IIA", 1)[1].split("\n## ", 1)[0]
HYP = "hypotheses/hierarchical_equality.py:HierarchicalEquality"
NET = "models/heq_handbuilt.py"


def _quoted(after: str) -> str:
    """The backquoted ``"patch: ..."`` string that follows ``after`` in the section (line breaks joined)."""
    found = re.search(re.escape(after) + r'.*?`"(patch: [^"]*)"`', SECTION, re.DOTALL)
    assert found is not None, after
    return " ".join(found.group(1).split())


def _readme_net() -> tuple[Any, Any, ca.Alignment]:
    hyp = load_hypothesis(str(ROOT / HYP))
    net = ca.load_network(ROOT / NET)
    return hyp, net, ca.Alignment({"left": ca.site("2", units=[0]), "right": ca.site("2", units=[1])})


def _all_distinct(hyp: Any) -> Any:
    """128 pairs of the 256 inputs, base 2k and source 2k + 1: no input is used twice."""
    ds = ca.exhaustive_pairs(hyp, ["left"])  # base slowest, inputs in lexicographic order
    return ds.subset(np.array([(2 * k) * 256 + 2 * k + 1 for k in range(128)]))


def test_the_block_runs_and_prints_what_its_comments_say(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```python\n(.*?)```", SECTION, re.DOTALL)
    assert block is not None
    printed: list[tuple[Any, ...]] = []
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {"__name__": "docs_engine", "print": lambda *a, **k: printed.append(a)}
    exec(compile(block.group(1), "docs/engine.md", "exec"), namespace)  # noqa: S102 - the doc is ours
    results = namespace["results"]
    assert results.execution == "suffix"
    assert int((results.predicted == results.expected).sum()) == len(results.expected) == 256 * 256
    assert printed[1] == ("suffix",)
    assert torch.equal(printed[2][0], torch.tensor([1]))  # left <- False: out = (False == False)


def test_the_quoted_execution_values_are_the_programs() -> None:
    hyp, net, alignment = _readme_net()
    distinct = _all_distinct(hyp)
    assert evaluate_pairs(net, alignment, distinct).execution == _quoted("among themselves)")
    assert evaluate_pairs(net, alignment, distinct, suffix=False).execution == "patch"
    apart = ca.Alignment({"left": ca.site("0", units=[0]), "right": ca.site("2", units=[1])})
    pairs = ca.random_pairs(hyp, ["left", "right"], 200, seed=0)
    assert evaluate_pairs(net, apart, pairs).execution == _quoted("the reason follows, for\n  instance")


def test_suffix_false_runs_the_hooked_passes_even_where_a_plain_prefix_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hyp, net, alignment = _readme_net()
    distinct = _all_distinct(hyp)
    reference = evaluate_pairs(net, alignment, distinct, suffix=False)

    def hooked(*args: object, **kwargs: object) -> None:
        raise AssertionError("a hooked pass ran")

    monkeypatch.setattr(NativeBackend, "collect", hooked)
    monkeypatch.setattr(NativeBackend, "patch", hooked)
    plain = evaluate_pairs(net, alignment, distinct)  # the nn.Sequential's plain prefix: no hook
    assert np.array_equal(plain.predicted, reference.predicted)
    with pytest.raises(AssertionError, match="a hooked pass ran"):
        evaluate_pairs(net, alignment, distinct, suffix=False)
