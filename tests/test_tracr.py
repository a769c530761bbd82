"""tracr-compiled organisms (``models/tracr/``): exports, plain-torch forward, IIA on whole domains.

Needs no JAX: everything here reads the committed exports written by
``models/tracr/export.py``.  What is shown:

* the export check passed when the files were written (the JSON records the
  max abs differences), and the torch model reproduces the committed tracr
  reference tensors (every residual stream, every block output, the
  read-out) within 1e-5 now;
* each organism's task accuracy is exactly 1.0 on its whole input domain;
* the exhaustive IIA of each correct hypothesis at the known alignment is
  exactly 1.0 for every variable over every (base, source) pair of the
  domain, and each wrong twin's pooled IIA is clearly lower;
* loading needs no JAX and takes well under a second.

Exhaustive IIA runs the network once per (base, distinct source vector at
the site) and gives that output to every source with that vector: the
patched suffix sees the source only through those coordinates, so this is
every pair, computed without repeating identical forwards.  A test checks
that it agrees pair for pair with plain :func:`evaluate_pairs`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import causalabs as ca
from causalabs.backends.hooks import hook_count
from causalabs.backends.native import NativeBackend
from causalabs.data import CounterfactualDataset, exhaustive_pairs, random_pairs
from causalabs.engine import PairResults, evaluate_pairs, interchange_network
from causalabs.errors import NetworkFileError, SiteError
from causalabs.loading import load_hypothesis, load_module
from causalabs.metrics import iia
from causalabs.network import Alignment, Network, load_network, predict
from causalabs.network.tracr_transformer import (
    TracrConfig,
    load_tracr,
    split_label,
    writer_blocks,
)
from causalabs.organisms import load_organism, task_accuracy

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "models" / "tracr"
WEIGHTS = FOLDER / "weights"
PROGRAMS = ("reverse", "hist", "sort", "frac_prevs")
TOLERANCE = 1e-5
#: The smallest gap between the correct hypothesis' pooled IIA (1.0) and its twin's.
MIN_GAP = 0.2




@pytest.fixture(scope="module")
def organisms() -> dict[str, Any]:
    return {p: load_organism(FOLDER / f"tracr_{p}.py") for p in PROGRAMS}


def record(program: str) -> dict[str, Any]:
    return json.loads((WEIGHTS / f"tracr_{program}.json").read_text())


# --- the export -------------------------------------------------------------------


@pytest.mark.parametrize("program", PROGRAMS)
def test_export_check_passed_and_recorded(program: str) -> None:
    rec = record(program)
    check = rec["check"]
    assert check["passed"] is True
    assert check["tolerance"] == TOLERANCE
    for scope in ("domain_max_abs_diff", "reference_max_abs_diff"):
        diffs = check[scope]
        assert len(diffs["residuals"]) == len(diffs["layer_outputs"]) == 2 * rec["model"]["num_layers"]
        assert (
            max(diffs["residuals"] + diffs["layer_outputs"] + [diffs["readout"], diffs["input_embeddings"]])
            < TOLERANCE
        )
    assert check["padded_vs_unpadded_tracr_max_abs_diff"] < TOLERANCE
    assert check["tracr_vs_rasp"]["agree"] == check["tracr_vs_rasp"]["inputs"] == check["domain_inputs"]
    assert rec["versions"]["tracr-pypi"] and rec["versions"]["jax"]
    assert rec["model"]["layer_norm"] is False


@pytest.mark.parametrize("program", PROGRAMS)
def test_torch_reproduces_committed_tracr_reference(program: str) -> None:
    module = load_tracr(WEIGHTS / f"tracr_{program}.safetensors", WEIGHTS / f"tracr_{program}.json")
    ref = load_file(str(WEIGHTS / f"tracr_{program}.reference.safetensors"))
    with torch.no_grad():
        out = module(ref["tokens"])
    assert ref["tokens"].shape[0] >= 16
    assert torch.equal(ref["tokens"][:, 0], torch.full_like(ref["tokens"][:, 0], module.config.bos_id))
    got = {
        "input_embeddings": out.input_embeddings,
        "residuals": torch.stack(out.residuals),
        "layer_outputs": torch.stack(out.layer_outputs),
        "readout": out.readout,
    }
    for key, value in got.items():
        assert value.shape == ref[key].shape, key
        assert (value - ref[key]).abs().max().item() < TOLERANCE, key
    # The residual stream is not trivially zero, and blocks add up to it.
    assert ref["residuals"][-1].abs().max() > 0.5
    total = out.input_embeddings + sum(out.layer_outputs)
    assert (total - out.output).abs().max().item() < TOLERANCE
    if module.config.categorical_output:
        assert torch.equal(out.readout.argmax(-1)[:, 1:], ref["unembedded"][:, 1:].long())
    else:
        assert (out.readout[..., 0] - ref["unembedded"]).abs().max().item() < TOLERANCE


@pytest.mark.parametrize("program", PROGRAMS)
def test_recorded_writers_match_the_weights(program: str) -> None:
    module = load_tracr(WEIGHTS / f"tracr_{program}.safetensors", WEIGHTS / f"tracr_{program}.json")
    rec = record(program)
    assert rec["writers"]
    for feature, writers in rec["writers"].items():
        assert list(writer_blocks(module, feature)) == writers
        dims = module.config.units(feature)
        label = module.config.label_of(feature)
        assert all(split_label(module.config.residual_labels[d])[0] == label for d in dims)


def test_loading_needs_no_jax() -> None:
    # Load time is measured in benchmarks/bench_organisms.py, not asserted here.
    mod = load_module(FOLDER / "tracr_reverse.py")
    net = mod.load()
    assert isinstance(net, Network)
    assert not {"jax", "haiku", "tracr"} & set(sys.modules)


def test_loading_is_deterministic() -> None:
    a = load_network(FOLDER / "tracr_sort.py")
    b = load_network(FOLDER / "tracr_sort.py")
    batch = ca.enumerate_inputs(load_hypothesis(f"{ROOT}/hypotheses/tracr_programs.py:TracrSort"))
    with torch.no_grad():
        ra = a.module(a.encode(batch)).output
        rb = b.module(b.encode(batch)).output
    assert torch.equal(ra, rb)


# --- encode, decode and errors ----------------------------------------------------


def test_encode_adds_bos_and_pads_after_n(organisms: dict[str, Any]) -> None:
    net = organisms["reverse"].network
    cfg: TracrConfig = net.module.config
    batch = {
        "n": np.array([2, 4]),
        "x0": np.array([0, 2]),
        "x1": np.array([1, 1]),
        "x2": np.array([2, 0]),
        "x3": np.array([2, 1]),
    }
    ids = net.encode(batch)
    tok = [[cfg.input_tokens[i] for i in row] for row in ids.tolist()]
    assert tok == [["BOS", "a", "b", "PAD", "PAD"], ["BOS", "c", "b", "a", "b"]]
    # reversed: [b, a, NONE, NONE] and [b, a, b, c]; NONE = 3, base 4
    assert predict(net, batch).values.tolist() == [
        1 + 0 * 4 + 3 * 16 + 3 * 64,
        1 + 0 * 4 + 1 * 16 + 2 * 64,
    ]


def test_sort_reads_none_where_selected_tokens_disagree(
    organisms: dict[str, Any],
) -> None:
    org = organisms["sort"]
    net, al = org.network, org.alignment()
    base = {
        "x0": np.array([2]),
        "x1": np.array([0]),
        "x2": np.array([1]),
        "x3": np.array([0]),
    }
    # target0 := 0 from a source where position 0 holds the smallest key: two positions now target 0.
    source = {
        "x0": np.array([0]),
        "x1": np.array([1]),
        "x2": np.array([1]),
        "x3": np.array([1]),
    }
    got = interchange_network(net, al, base, {"target0": source}).values.tolist()
    want = ca.interchange(org.hypothesis(), base, {"target0": source})["out"].tolist()
    assert got == want
    y = ca.interchange(org.hypothesis(), base, {"target0": source})
    assert 3 in (int(y["y0"][0]), int(y["y1"][0]), int(y["y2"][0]), int(y["y3"][0]))


def test_missing_export_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(NetworkFileError, match="nothing.json"):
        TracrConfig.from_json(tmp_path / "nothing.json")
    with pytest.raises(NetworkFileError, match="nothing.safetensors"):
        load_tracr(tmp_path / "nothing.safetensors", WEIGHTS / "tracr_hist.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x"}')
    with pytest.raises(NetworkFileError, match="bad.json"):
        TracrConfig.from_json(bad)


def test_unknown_feature_names_the_export() -> None:
    cfg = TracrConfig.from_json(WEIGHTS / "tracr_hist.json")
    with pytest.raises(SiteError, match="tracr_hist.*no_such"):
        cfg.units("no_such")
    assert cfg.units("hist") == tuple(range(5)) and cfg.values("hist") == (
        "0",
        "1",
        "2",
        "3",
        "4",
    )


# --- behaviour on the whole domain -----------------------------------------------


@pytest.mark.parametrize("program", PROGRAMS)
def test_task_accuracy_is_one_for_the_hypothesis_and_its_twin(
    organisms: dict[str, Any], program: str
) -> None:
    org = organisms[program]
    assert org.info.accuracy == 1.0
    for hyp in (org.hypothesis(), *org.wrong_hypotheses()):
        acc = task_accuracy(org.network, hyp)
        assert acc.exact and acc.n == ca.model_of(hyp).input_space_size
        assert acc.value == 1.0, f"{program}: {hyp.__name__} {acc}"


def exhaustive_results(
    network: Network, alignment: Alignment, hypothesis: type, variable: str
) -> PairResults:
    """Outcome of every (base, source) pair of the domain for one intervened variable.

    The network runs on (every base) x (one source per distinct vector at
    the variable's site); each source then takes the output of its vector's
    representative.  Expected outputs come from the full exhaustive dataset.
    """
    model = ca.model_of(hypothesis)
    ds = exhaustive_pairs(hypothesis, variable)
    inputs = ca.enumerate_inputs(hypothesis)
    names = list(model.inputs)
    rows = np.stack([inputs[k] for k in names], axis=1)
    n = len(rows)
    # exhaustive_pairs: base varies slowest, inputs in enumerate_inputs order.
    base_idx, source_idx = np.divmod(np.arange(n * n), n)
    assert all(np.array_equal(ds.base[k], rows[base_idx, j]) for j, k in enumerate(names))
    assert all(np.array_equal(ds.sources[variable][k], rows[source_idx, j]) for j, k in enumerate(names))
    s = alignment[variable]
    vectors = NativeBackend().collect(network, inputs, [s])[s.location_key()]
    coords = vectors[..., list(s.subspace.units)].reshape(n, -1)
    distinct, cls = torch.unique(coords, dim=0, return_inverse=True)
    cls_np = cls.numpy()
    first = np.array([int(np.flatnonzero(cls_np == c)[0]) for c in range(len(distinct))])
    c = len(first)
    b = np.repeat(np.arange(n), c)
    r = np.tile(first, n)
    base = {k: rows[b, j] for j, k in enumerate(names)}
    source = {k: rows[r, j] for j, k in enumerate(names)}
    expected = ca.interchange(model, base, {variable: source})[model.output]
    reduced = CounterfactualDataset(
        model.name,
        base,
        {variable: source},
        (variable,),
        expected,
        ca.run(model, base)[model.output],
    )
    predicted = evaluate_pairs(network, alignment, reduced, batch_size=4096).predicted.reshape(n, c)
    return PairResults(
        intervened=(variable,),
        predicted=predicted[base_idx, cls_np[source_idx]],
        expected=np.asarray(ds.expected),
        base_output=np.asarray(ds.base_output),
        prob_expected=None,
        exhaustive=True,
        dataset_digest=ds.digest,
    )


def test_shortcut_matches_plain_evaluation_pair_for_pair(
    organisms: dict[str, Any],
) -> None:
    org = organisms["frac_prevs"]
    net, al = org.network, org.alignment()
    for hyp in (org.hypothesis(), *org.wrong_hypotheses()):
        for v in ("is_x1", "count2"):
            fast = exhaustive_results(net, al, hyp, v)
            plain = evaluate_pairs(net, al, exhaustive_pairs(hyp, v), batch_size=8192)
            assert np.array_equal(fast.predicted, plain.predicted)
            assert np.array_equal(fast.expected, plain.expected)
    org = organisms["reverse"]
    ds = random_pairs(org.hypothesis(), "opp2", 3000, seed=7)
    plain = evaluate_pairs(org.network, org.alignment(), ds)
    fast = exhaustive_results(org.network, org.alignment(), org.hypothesis(), "opp2")
    n = ca.model_of(org.hypothesis()).input_space_size
    index = {
        tuple(r): i
        for i, r in enumerate(np.stack(list(ca.enumerate_inputs(org.hypothesis()).values()), 1).tolist())
    }
    names = list(ca.model_of(org.hypothesis()).inputs)
    bi = [index[tuple(t)] for t in np.stack([ds.base[k] for k in names], 1).tolist()]
    si = [index[tuple(t)] for t in np.stack([ds.sources["opp2"][k] for k in names], 1).tolist()]
    assert np.array_equal(plain.predicted, fast.predicted[np.asarray(bi) * n + np.asarray(si)])
    assert hook_count(org.network.module) == 0


#: Variables on the output feature itself (the read-out positions); their many distinct
#: source vectors make them the slow part, so the fast test leaves them to the slow one.
READOUT = {"reverse": "y", "hist": "hist", "sort": "y", "frac_prevs": None}


def pooled_iia(org: Any, hypothesis: type, variables: list[str]) -> tuple[Any, dict[str, float]]:
    net, al = org.network, org.alignment()
    report = iia([exhaustive_results(net, al, hypothesis, v) for v in variables])
    return report, {k: v.overall.value for k, v in report.per_variable.items()}


def check_iia(org: Any, variables: list[str]) -> None:
    good, per_good = pooled_iia(org, org.hypothesis(), variables)
    assert good.overall.overall.exact
    assert good.overall.overall.value == 1.0, per_good
    assert good.overall.changed.n > 0 and good.overall.changed.value == 1.0
    assert set(per_good) == set(variables)
    twins = org.wrong_hypotheses()
    assert twins
    for twin in twins:
        bad, per_bad = pooled_iia(org, twin, variables)
        assert bad.overall.overall.exact and bad.overall.overall.n == good.overall.overall.n
        assert bad.overall.overall.value <= 1.0 - MIN_GAP, (twin.__name__, per_bad)
        assert min(per_bad.values()) < 0.7, (twin.__name__, per_bad)


@pytest.mark.parametrize("program", PROGRAMS)
def test_exhaustive_iia_of_intermediate_variables(organisms: dict[str, Any], program: str) -> None:
    """Every intermediate (non read-out) variable: IIA exactly 1.0 for the hypothesis, its twin clearly lower."""
    org = organisms[program]
    readout = READOUT[program]
    variables = [v for v in org.alignment().sites if readout is None or v.rstrip("0123456789") != readout]
    assert 0 < len(variables) < len(org.alignment().sites) or readout is None
    check_iia(org, variables)


@pytest.mark.slow
@pytest.mark.parametrize("program", PROGRAMS)
def test_exhaustive_iia_of_every_aligned_variable(organisms: dict[str, Any], program: str) -> None:
    """Every variable of the known alignment, read-out positions included."""
    org = organisms[program]
    check_iia(org, list(org.alignment().sites))
