"""The hand-built organisms and their rotated twins: exact, known mechanisms.

Claims checked on every organism, over the whole finite domain:

* task accuracy is exactly 1.0;
* IIA of the correct hypothesis at the known alignment is exactly 1.0 for
  each aligned variable, on every (base, source) pair;
* each wrong hypothesis scores clearly lower wherever its mechanism differs;
* a rotated twin scores 1.0 through its known rotation and fails (changed
  pairs <= 0.6) at the unit alignment that is right for the unrotated twin.

Exhaustive pairs for two-digit addition number 10^8 per variable, so
:func:`exact_iia` evaluates one representative per class of interchangeable
pairs and weights it by the class size (see its docstring); the tests also
check this against plain :func:`exhaustive_pairs` where that is cheap, and
pair by pair on random pairs where it is not.
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
from causalabs.data import CounterfactualDataset, exhaustive_pairs, random_pairs
from causalabs.engine import evaluate_pairs
from causalabs.errors import NetworkFileError, OrganismError
from causalabs.loading import load_hypothesis, load_module, sha256_file
from causalabs.metrics import IIA, iia, proportion
from causalabs.network import Alignment, Network, load_network, predict, site
from causalabs.network.sites import Subspace
from causalabs.organisms import (
    Organism,
    OrganismInfo,
    load_organism,
    resolve_ref,
    task_accuracy,
)

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


# --- loading and metadata -------------------------------------------------------


@pytest.mark.parametrize("name", ORGANISMS)
def test_organism_loads_with_its_metadata(name: str) -> None:
    # Load time is measured in benchmarks/bench_organisms.py, not asserted here.
    path = MODELS / f"{name}.py"
    net = load_network(path)
    info = OrganismInfo.from_mapping(net.info, where=name)
    o = organism(name)
    assert net.name == name
    assert info.accuracy == 1.0
    assert info.weights is not None and (path.parent / info.weights).is_file()
    assert info.alignment == {v: s.name for v, s in o.alignment().sites.items()}
    assert o.hypothesis().__name__ in info.hypothesis
    assert len(o.wrong_hypotheses()) == len(info.wrong) >= 1
    assert o.parameters == sum(p.numel() for p in net.module.parameters()) > 0


@pytest.mark.parametrize("name", ORGANISMS)
def test_loading_leaves_the_global_rng_alone(name: str) -> None:
    state = torch.get_rng_state()
    load_network(MODELS / f"{name}.py")
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("name", ORGANISMS)
def test_weights_file_is_regenerated_bit_identically(name: str, tmp_path: Path) -> None:
    source = load_module(MODELS / f"{name}.py")
    org = load_module(MODELS / "_organism.py")
    tensors, meta = source.build()
    out = org.save_weights(tensors, tmp_path / "w.safetensors", meta)
    assert sha256_file(out) == sha256_file(MODELS / "weights" / f"{name}.safetensors")


@pytest.mark.parametrize("name", ORGANISMS)
def test_task_accuracy_is_one_on_the_whole_domain(name: str) -> None:
    o = organism(name)
    est = task_accuracy(o.network, o.hypothesis())
    assert est.exact and est.n == model_of(o.hypothesis()).input_space_size
    assert est.value == 1.0


@pytest.mark.parametrize("name", list(ROTATED))
def test_rotated_twin_computes_the_same_function(name: str) -> None:
    plain, rotated = organism(name), organism(ROTATED[name])
    inputs = enumerate_inputs(plain.hypothesis())
    a, b = predict(plain.network, inputs), predict(rotated.network, inputs)
    assert torch.equal(a.values, b.values)
    assert a.scores is not None and b.scores is not None
    scale = a.scores.abs().max().item()  # float32 rounding grows with the logits' size
    torch.testing.assert_close(b.scores, a.scores, rtol=0, atol=1e-6 * scale + 1e-5)
    for scores in (a.scores, b.scores):  # the designed margin (>= 2 logits) survives the rotation
        top2 = scores.topk(2, dim=-1).values
        assert (top2[:, 0] - top2[:, 1]).min().item() > 1.9
    # ... while no unit of the rotated layer is the variable any more
    rot = rotated.source.rotation()
    assert rot.abs().max().item() < 0.95
    assert rotated.info.rotation_seed == rotated.source.SEED


def test_a_missing_weights_file_is_named(tmp_path: Path) -> None:
    org = load_module(MODELS / "_organism.py")
    with pytest.raises(NetworkFileError, match="nothing.safetensors"):
        org.load_weights(tmp_path / "nothing.safetensors")


def test_bad_metadata_names_the_field() -> None:
    good = dict(organism("heq_handbuilt").network.info)
    with pytest.raises(OrganismError, match="accuracy"):
        OrganismInfo.from_mapping({**good, "accuracy": 1.5}, where="x.py")
    with pytest.raises(OrganismError, match="hypothesis"):
        OrganismInfo.from_mapping({**good, "hypothesis": ""}, where="x.py")
    with pytest.raises(OrganismError, match="not of the form"):
        OrganismInfo.from_mapping({**good, "wrong": ["hypotheses/x.py"]}, where="x.py")


def test_hypothesis_refs_resolve_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ref = resolve_ref("hypotheses/hierarchical_equality.py:HierarchicalEquality", MODELS / "heq_handbuilt.py")
    assert Path(ref.rpartition(":")[0]).is_file()


# --- IIA: correct, wrong, neuron alignment on the rotated twin -------------------


@pytest.mark.parametrize(("name", "variable"), correct_cases())
def test_correct_hypothesis_has_iia_one_at_the_known_alignment(name: str, variable: str) -> None:
    m = measured(name, organism(name).hypothesis().__name__, variable)
    assert m.iia.overall.exact
    assert m.iia.overall.value == 1.0 and m.iia.changed.value == 1.0
    assert m.iia.changed.n > 0


@pytest.mark.parametrize("name", ["heq_handbuilt", "heq_rotated"])
def test_coarser_left_only_is_also_right(name: str) -> None:
    assert measured(name, "LeftOnly", "left").iia.overall.value == 1.0


@pytest.mark.parametrize(("name", "cls", "variable"), wrong_cases())
def test_wrong_hypothesis_is_clearly_lower(name: str, cls: str, variable: str) -> None:
    m = measured(name, cls, variable)
    assert m.iia.overall.value <= GAP, f"{cls}.{variable} on {name}: {m.iia.overall}"
    assert m.iia.changed.value <= GAP


def test_wrong_table_covers_exactly_the_variables_whose_mechanism_differs() -> None:
    for name in HANDBUILT:
        o = organism(name)
        correct = model_of(o.hypothesis())
        inputs = enumerate_inputs(correct)
        truth = run(correct, inputs)
        listed = {h.__name__ for h in o.wrong_hypotheses()}
        assert listed == {cls for cls, _ in WRONG[family(name)]}
        differs = set()
        for h in o.wrong_hypotheses():
            values = run(h, inputs)
            differs |= {(h.__name__, v) for v in o.alignment().sites if v in values and np.any(values[v] != truth[v])}
        assert differs == set(WRONG[family(name)])


@pytest.mark.parametrize(("name", "variable"), neuron_cases())
def test_unit_alignment_of_the_unrotated_twin_fails_on_the_rotated_one(name: str, variable: str) -> None:
    o = organism(name)
    neuron = o.neuron_alignment()
    assert neuron is not None and o.info.twin_of is not None
    twin = organism(o.info.twin_of.removesuffix(".py"))
    assert {v: s.name for v, s in neuron.sites.items()} == {v: s.name for v, s in twin.alignment().sites.items()}
    m = measured(name, o.hypothesis().__name__, variable, "neuron")
    assert m.iia.changed.value <= NEURON_CHANGED_MAX, f"{name}.{variable}: {m.iia.changed}"
    assert m.iia.overall.value <= GAP


def test_addition_carry_intervention_moves_the_sum_by_ten() -> None:
    o = organism("addition_handbuilt")
    base = {"a1": np.array([0, 9]), "a0": np.array([3, 9]), "b1": np.array([0, 9]), "b0": np.array([4, 0])}
    source = {"a1": np.array([0, 0]), "a0": np.array([5, 5]), "b1": np.array([0, 0]), "b0": np.array([5, 5])}
    from causalabs.engine import interchange_network

    got = interchange_network(o.network, o.alignment(), base, {"carry": source}).values.tolist()
    assert got == [17, 199] == interchange(o.hypothesis(), base, {"carry": source})["total"].tolist()


@pytest.mark.parametrize("name", ["addition_handbuilt", "addition_rotated"])
def test_ones_sum_is_right_on_carry_and_digit_together(name: str) -> None:
    o = organism(name)
    h = load_hypothesis(resolve_ref("hypotheses/addition.py:OnesSumAddition", MODELS))
    carry_site = o.alignment()["carry"]
    if carry_site.subspace.featurizer is not None:
        joint = site("2", featurizer=carry_site.subspace.featurizer, dims=(0, 2))
    else:
        joint = site("2", units=[0, 1])
    assert exact_iia(o.network, h, Alignment({"ones": joint}), "ones").iia.overall.value == 1.0
    assert exact_iia(o.network, h, Alignment({"ones": carry_site}), "ones").iia.changed.value <= GAP


# --- the class-based exact IIA agrees with plain evaluation ----------------------


@pytest.mark.parametrize(
    ("name", "cls", "variable", "which"),
    [
        ("heq_rotated", "HierarchicalEquality", "left", "known"),
        ("heq_rotated", "SwappedEquality", "right", "neuron"),
        ("heq_handbuilt", "CrossedEquality", "left", "known"),
        ("boolean_circuit_rotated", "BooleanCircuit", "g2", "known"),
        ("boolean_circuit_rotated", "SwappedGates", "g1", "neuron"),
    ],
)
def test_class_based_iia_equals_plain_exhaustive_iia(name: str, cls: str, variable: str, which: str) -> None:
    o = organism(name)
    h = hypothesis_named(name, cls)
    al = o.alignment() if which == "known" else o.neuron_alignment()
    assert al is not None
    results = evaluate_pairs(o.network, al, exhaustive_pairs(h, variable), batch_size=16384)
    plain = iia(results).overall  # type: ignore[arg-type]  # PairOutcomes declares settable members
    grouped = measured(name, cls, variable, which).iia
    for field in ("overall", "changed", "unchanged"):
        a, b = getattr(plain, field), getattr(grouped, field)
        assert (a.successes, a.n) == (b.successes, b.n), field


@pytest.mark.parametrize(
    ("name", "cls", "variable", "which"),
    [
        ("addition_rotated", "TwoDigitAddition", "carry", "known"),
        ("addition_handbuilt", "TensCarryAddition", "carry", "known"),
    ],
)
def test_class_based_iia_predicts_every_random_pair(name: str, cls: str, variable: str, which: str) -> None:
    o = organism(name)
    h = hypothesis_named(name, cls)
    model = model_of(h)
    al = o.alignment() if which == "known" else o.neuron_alignment()
    assert al is not None
    m = measured(name, cls, variable, which)
    ds = random_pairs(h, variable, 4096, seed=0)
    got = evaluate_pairs(o.network, al, ds).predicted
    sizes = [len(model.variables[k].domain) for k in model.inputs]

    def index(batch: dict[str, np.ndarray]) -> np.ndarray:
        return np.ravel_multi_index([model.domain_index(k, batch[k]) for k in model.inputs], sizes)

    table = m.predicted[m.base_class[index(ds.base)], m.source_class[index(ds.sources[variable])]]
    assert np.array_equal(got, table)


@pytest.mark.parametrize(("name", "variable"), neuron_cases())
def test_unit_alignment_fails_on_a_balanced_counterfactual_set(name: str, variable: str) -> None:
    """On a balanced set (half the pairs change the output) the unit alignment of the
    unrotated twin scores at most 0.6 overall on the rotated twin, the issue's bound.

    The exhaustive set is dominated by pairs whose output does not change, which any
    alignment that does nothing gets right; the balanced set weighs both kinds equally.
    """
    from causalabs.data import balanced
    from causalabs.engine import evaluate_pairs
    from causalabs.metrics import iia

    o = organism(name)
    neuron = o.neuron_alignment()
    assert neuron is not None
    ds = balanced(o.hypothesis(), [variable], 2000, seed=0, changed_fraction=0.5)
    report = iia(evaluate_pairs(o.network, neuron, ds))
    assert report.overall.changed.n == 1000
    assert report.overall.overall.value <= 0.6, f"{name}.{variable}: {report.overall.overall}"
    known = iia(evaluate_pairs(o.network, o.alignment(), ds))
    assert known.overall.overall.value == 1.0
