"""Alignment files: exact round trips, atomic writes, and typed errors naming the file or variable."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import causalabs as ca
from causalabs.align.das import fit_das
from causalabs.align.rotation import LearnedRotation
from causalabs.align.store import (
    load_alignment,
    network_fingerprint,
    save_alignment,
    save_das,
    weights_path,
)
from causalabs.engine import evaluate_pairs
from causalabs.errors import (
    AlignmentFileError,
    UnknownModuleError,
    UnsavableAlignmentError,
)
from causalabs.loading import load_attr
from causalabs.network import (
    Alignment,
    Rotation,
    Site,
    load_network,
    random_rotation,
    site,
)

ROOT = Path(__file__).resolve().parent.parent
HEQ_REF = "hypotheses/hierarchical_equality.py:HierarchicalEquality"
HEQ = load_attr(str(ROOT / HEQ_REF))
ROTATED = ROOT / "models/heq_rotated.py"


@pytest.fixture(scope="module")
def fitted():
    net = load_network(ROTATED)
    train = [ca.random_pairs(HEQ, [v], 256, seed=i) for i, v in enumerate(["left", "right"])]
    return net, fit_das(net, Site("2"), {"left": 1, "right": 1}, train, epochs=1, seed=3)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_das_result_round_trips_exactly(tmp_path, fitted):
    net, res = fitted
    path = save_das(res, tmp_path / "heq.json", network=net, hypothesis=HEQ_REF)
    weights = weights_path(path)
    assert weights is not None and re.fullmatch(r"heq\.[0-9a-f]{16}\.safetensors", weights.name)
    assert _files(tmp_path) == sorted(["heq.json", weights.name])
    back = load_alignment(path)
    a, b = res.alignment["left"].subspace.featurizer, back["left"].subspace.featurizer
    assert isinstance(b, Rotation) and torch.equal(a.matrix, b.matrix) and a.matrix.dtype == b.matrix.dtype
    # one featurizer object shared by both sites, as before saving
    assert back["right"].subspace.featurizer is b
    assert {v: s.subspace.dims for v, s in back.sites.items()} == {"left": (0, 1), "right": (1, 2)}
    ds = ca.random_pairs(HEQ, ["left", "right"], 500, seed=9)
    before, after = evaluate_pairs(net, res.alignment, ds), evaluate_pairs(net, back, ds)
    assert np.array_equal(before.correct, after.correct) and np.array_equal(before.predicted, after.predicted)
    info = back.info
    assert info["method"] == "das" and info["seed"] == 3 and info["k"] == {"left": 1, "right": 1}
    assert info["losses"] == res.losses  # floats survive JSON to the bit
    assert info["data_digests"] == list(res.data_digests) and all(info["data_digests"])
    assert info["hypothesis"] == HEQ_REF and info["network"] == "heq_rotated"
    assert info["weights_sha256"] == network_fingerprint(net)["weights_sha256"]
    doc = json.loads(path.read_text())
    assert doc["schema"] == "causalabs.alignment" and doc["version"] == 1


def test_units_all_units_and_positions_round_trip(tmp_path):
    al = Alignment(
        {
            "a": site("layers.0", units=[3, 1]),
            "b": site("layers.1", io="input"),
            "c": site("layers.2", positions=(0, 2), units=[0]),
        },
        info={"note": "hand-made", "score": np.float64(0.5)},
    )
    save_alignment(al, tmp_path / "u.json", info={"k": {"a": 2}})
    assert _files(tmp_path) == ["u.json"]  # no featurizer, no weights file
    back = load_alignment(tmp_path / "u.json")
    assert [s.name for s in back.sites.values()] == [s.name for s in al.sites.values()]
    assert back["a"].subspace.units == (3, 1) and back["b"].subspace.is_all and back["c"].positions == (0, 2)
    assert back.info == {"note": "hand-made", "score": 0.5, "k": {"a": 2}}


def test_learned_rotation_is_saved_as_its_basis(tmp_path):
    rot = LearnedRotation(6, 3, seed=1)
    al = Alignment({"x": site("0", featurizer=rot, dims=(0, 2))})
    save_alignment(al, tmp_path / "l.json")
    back = load_alignment(tmp_path / "l.json")["x"].subspace.featurizer
    assert torch.equal(back.matrix, rot.frozen())


def test_position_functions_cannot_be_saved_and_nothing_is_written(tmp_path):
    al = Alignment({"left": site("1", positions=lambda batch: np.zeros(len(batch["w"]), dtype=int))})
    with pytest.raises(UnsavableAlignmentError, match="'left'"):
        save_alignment(al, tmp_path / "p.json")
    with pytest.raises(UnsavableAlignmentError, match="info.bad"):
        save_alignment(Alignment({"a": site("0")}), tmp_path / "p.json", info={"bad": object()})
    assert _files(tmp_path) == []


def test_a_failed_save_keeps_the_old_files(tmp_path, fitted, monkeypatch):
    _, res = fitted
    path = save_das(res, tmp_path / "keep.json")
    old = path.read_bytes(), weights_path(path).read_bytes()
    names = _files(tmp_path)
    rot = Rotation(random_rotation(8, 5))
    bad = Alignment({"left": site("2", featurizer=rot, dims=(0, 1)), "right": site("3", positions=lambda b: b)})
    with pytest.raises(UnsavableAlignmentError):
        save_alignment(bad, path)
    assert (path.read_bytes(), weights_path(path).read_bytes()) == old
    assert _files(tmp_path) == names
    # a failure while moving files into place: temporaries are removed, old files kept

    def refuse(src, dst):
        raise OSError("disk full")

    new = Alignment({"left": site("2", featurizer=rot, dims=(0, 1))})
    with monkeypatch.context() as m:
        m.setattr("causalabs.atomic.os.replace", refuse)
        with pytest.raises(OSError, match="disk full"):
            save_alignment(new, path)
    assert (path.read_bytes(), weights_path(path).read_bytes()) == old
    assert _files(tmp_path) == names
    # interrupted after the new weights are in place but before the JSON: the old pair still loads
    real = os.replace

    def only_weights(src, dst):
        if str(dst).endswith(".json"):
            raise OSError("power cut")
        real(src, dst)

    with monkeypatch.context() as m:
        m.setattr("causalabs.atomic.os.replace", only_weights)
        with pytest.raises(OSError, match="power cut"):
            save_alignment(new, path)
    assert path.read_bytes() == old[0]
    assert torch.equal(load_alignment(path)["left"].subspace.featurizer.matrix, res.basis)
    # a completed save replaces the pair and removes the weights the old JSON named
    old_weights = weights_path(path)
    save_alignment(new, path)
    assert old_weights is not None and not old_weights.exists()
    assert torch.equal(load_alignment(path)["left"].subspace.featurizer.matrix, rot.matrix)
    assert all(not n.endswith(".tmp") for n in _files(tmp_path))


def test_bad_files_raise_errors_naming_the_file(tmp_path, fitted):
    _, res = fitted
    path = save_das(res, tmp_path / "a.json")
    doc = json.loads(path.read_text())
    wrong = tmp_path / "v2.json"
    wrong.write_text(json.dumps({**doc, "version": 2}))
    with pytest.raises(AlignmentFileError, match=r"v2\.json.*version 2"):
        load_alignment(wrong)
    # v2.json points at a.safetensors; a copy pointing at a missing weights file
    orphan = tmp_path / "orphan.json"
    orphan.write_text(json.dumps({**doc, "weights": {**doc["weights"], "file": "gone.safetensors"}}))
    with pytest.raises(AlignmentFileError, match=r"orphan\.json.*gone\.safetensors.*missing"):
        load_alignment(orphan)
    weights_path(path).write_bytes(weights_path(path).read_bytes() + b" ")
    with pytest.raises(AlignmentFileError, match=r"a\.json.*SHA-256"):
        load_alignment(path)
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    with pytest.raises(AlignmentFileError, match=r"junk\.json"):
        load_alignment(junk)
    with pytest.raises(AlignmentFileError, match=r"nowhere\.json"):
        load_alignment(tmp_path / "nowhere.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**doc, "weights": None, "featurizers": [], "sites": {"left": {"module": "2"}}}))
    with pytest.raises(AlignmentFileError, match=r"broken\.json"):
        load_alignment(broken)


def test_a_site_the_network_lacks_is_caught_when_used(tmp_path, fitted):
    net, _ = fitted
    save_alignment(Alignment({"left": site("nope", units=[0])}), tmp_path / "n.json")
    back = load_alignment(tmp_path / "n.json")
    with pytest.raises(UnknownModuleError, match="nope"):
        evaluate_pairs(net, back, ca.random_pairs(HEQ, ["left"], 16, seed=0))
