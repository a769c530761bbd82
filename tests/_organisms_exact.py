"""Shared by the hand-built organism tests: which organisms, their wrong hypotheses and thresholds, and
:func:`exact_iia`, the exact IIA over every pair computed from one representative per class of
interchangeable pairs (not a test module).

Exhaustive pairs for two-digit addition number 10^8 per variable, so :func:`exact_iia` evaluates one
representative per class and weights it by the class size (see its docstring);
test_organisms_exact_iia.py checks it against plain :func:`exhaustive_pairs` where that is cheap, and pair by
pair on random pairs where it is not.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
import torch
from torch import nn

from causalabs import do, enumerate_inputs, interchange, model_of, run
from causalabs.backends.native import NativeBackend
from causalabs.data import CounterfactualDataset
from causalabs.engine import evaluate_pairs
from causalabs.metrics import IIA, proportion
from causalabs.network import Alignment, Network
from causalabs.network.sites import Subspace
from causalabs.organisms import Organism, load_organism

MODELS = Path(__file__).resolve().parents[1] / "models"
HANDBUILT = ("heq_handbuilt", "boolean_circuit", "addition_handbuilt")
ROTATED = {"heq_handbuilt": "heq_rotated", "boolean_circuit": "boolean_circuit_rotated", "addition_handbuilt": "addition_rotated"}
ORGANISMS = HANDBUILT + tuple(ROTATED.values())
#: (wrong hypothesis, variable) pairs where the wrong mechanism differs from the correct one.
WRONG = {
    "heq": [("SwappedEquality", "left"), ("SwappedEquality", "right"), ("CrossedEquality", "left"),
            ("CrossedEquality", "right"), ("LeftOnlySwapped", "left")],
    "boolean": [("SwappedGates", "g1"), ("SwappedGates", "g2")],
    "addition": [("TensCarryAddition", "carry")],
}
GAP = 0.9  # a wrong hypothesis must score at most this
NEURON_CHANGED_MAX = 0.6  # the unrotated twin's unit alignment, on the rotated twin, changed pairs


def family(name: str) -> str:
    return name.split("_")[0]


@functools.cache
def organism(name: str) -> Organism:
    return load_organism(MODELS / f"{name}.py")


@functools.cache
def hypothesis_named(name: str, cls: str) -> type:
    o = organism(name)
    for h in (o.hypothesis(), *o.wrong_hypotheses(), *o.also_correct()):
        if h.__name__ == cls:
            return h
    raise KeyError(cls)


# --- exact IIA over every pair, one representative per class --------------------


def _bits(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().float().cpu().numpy()).view(np.int32).astype(np.int64)


def _projection(acts: torch.Tensor, sub: Subspace) -> torch.Tensor:
    if sub.units is not None:
        return acts[:, list(sub.units)]
    if sub.featurizer is not None:
        assert sub.dims is not None
        with torch.no_grad():
            return sub.featurizer(acts)[:, sub.dims[0] : sub.dims[1]]
    return acts


@attrs.frozen(eq=False)
class Exact:
    """Exact IIA over all N x N (base, source) pairs, and the per-class predictions behind it."""

    iia: IIA
    groups: tuple[int, int]
    predicted: np.ndarray  # (base classes, source classes)
    base_class: np.ndarray  # (N,) class of each input as a base
    source_class: np.ndarray  # (N,) class of each input as a source


def exact_iia(network: Network, hypothesis: Any, alignment: Alignment, variable: str) -> Exact:
    """IIA of ``variable`` at its site over every (base, source) pair of the whole domain.

    Exact without running N^2 pairs: a source enters an interchange only
    through the bits of its projection on the site's subspace and its value
    of ``variable``, so sources with the same (bits, value) give the same
    result for every base.  In these networks (``nn.Sequential``, site on a
    top-level layer's output) everything after the site sees only that
    layer's vector, so bases with the same vector bits, the same output for
    each value of ``variable`` and the same plain output are interchangeable
    too.  One representative pair per (base class, source class) runs through
    :func:`evaluate_pairs`, weighted by the product of the class sizes.
    """
    model = model_of(hypothesis)
    s = alignment[variable]
    top = dict(network.module.named_children())
    assert isinstance(network.module, nn.Sequential) and s.module in top and s.io == "output" and s.positions is None
    inputs = enumerate_inputs(model)
    n = len(next(iter(inputs.values())))
    acts = NativeBackend().collect(network, inputs, [s])[s.location_key()]
    answers = np.stack(
        [do(model, inputs, {variable: np.full(n, v)})[model.output] for v in model.variables[variable].domain], axis=1
    )
    base_key = np.concatenate([_bits(acts), answers, run(model, inputs)[model.output][:, None]], axis=1)
    source_key = np.concatenate([_bits(_projection(acts, s.subspace)), run(model, inputs)[variable][:, None]], axis=1)
    _, bfirst, binv, bcount = np.unique(base_key, axis=0, return_index=True, return_inverse=True, return_counts=True)
    _, sfirst, sinv, scount = np.unique(source_key, axis=0, return_index=True, return_inverse=True, return_counts=True)
    gb, gs = len(bfirst), len(sfirst)
    base = {k: np.repeat(v[bfirst], gs) for k, v in inputs.items()}
    source = {k: np.tile(v[sfirst], gb) for k, v in inputs.items()}
    expected = interchange(model, base, {variable: source})[model.output]
    dataset = CounterfactualDataset(
        model.name, base, {variable: source}, (variable,), expected, run(model, base)[model.output], mode="classes"
    )
    r = evaluate_pairs(network, alignment, dataset, batch_size=16384)
    weight = np.outer(bcount, scount).reshape(-1)
    correct, changed = r.correct, r.changed

    def share(mask: np.ndarray) -> Any:
        return proportion(int(weight[correct & mask].sum()), int(weight[mask].sum()), exact=True)

    result = IIA(share(np.ones_like(correct)), share(changed), share(~changed), None)
    assert result.overall.n == n * n
    return Exact(result, (gb, gs), r.predicted.reshape(gb, gs), binv.reshape(-1), sinv.reshape(-1))


def measured(name: str, cls: str, variable: str, which: str = "known") -> Exact:
    """``exact_iia`` of one case, computed once per test session."""
    return _measured(name, cls, variable, which)


@functools.cache
def _measured(name: str, cls: str, variable: str, which: str) -> Exact:
    o = organism(name)
    al = o.alignment() if which == "known" else o.neuron_alignment()
    assert al is not None
    return exact_iia(o.network, hypothesis_named(name, cls), al, variable)


def correct_cases() -> list[tuple[str, str]]:
    return [(name, v) for name in ORGANISMS for v in organism(name).alignment().sites]


def wrong_cases() -> list[Any]:
    return [
        pytest.param(name, cls, v, id=f"{name}-{cls}-{v}") for name in ORGANISMS for cls, v in WRONG[family(name)]
    ]


def neuron_cases() -> list[Any]:
    return [pytest.param(name, v, id=f"{name}-{v}") for name in ROTATED.values() for v in organism(name).alignment().sites]
