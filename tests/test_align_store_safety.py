"""Alignment files never cost the user a file: ownership, identical bytes, and every field checked on load.

Each test records the folder (names and bytes) before and after: nothing the
program did not write is deleted or overwritten, no temporary file stays.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as st_save
from typer.testing import CliRunner

from causalabs.align.store import load_alignment, save_alignment, weights_path
from causalabs.cli import app
from causalabs.errors import AlignmentFileError
from causalabs.loading import load_attr
from causalabs.network import Alignment, Rotation, load_network, random_rotation, site

ROOT = Path(__file__).resolve().parent.parent
HEQ_REF = "hypotheses/hierarchical_equality.py:HierarchicalEquality"
HEQ = load_attr(str(ROOT / HEQ_REF))
NET = ROOT / "models/heq_rotated.py"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _rotated(seed: int, width: int = 8, dtype: torch.dtype = torch.float32) -> Alignment:
    rot = Rotation(random_rotation(width, seed, dtype))
    return Alignment({"left": site("2", featurizer=rot, dims=(0, 1)), "right": site("2", featurizer=rot, dims=(1, 2))})


def _two_featurizers() -> Alignment:
    a, b = Rotation(random_rotation(8, 1)), Rotation(random_rotation(8, 2, torch.float64))
    return Alignment(
        {"left": site("2", featurizer=a, dims=(0, 1)), "right": site("1", featurizer=b, dims=(0, 3))},
        info={"method": "das", "losses": [0.5, 0.25, 1 / 3], "k": {"left": 1, "right": 3}},
    )


# --- same alignment, same bytes ---------------------------------------------------------


def test_saving_the_same_alignment_twenty_times_gives_identical_bytes(tmp_path):
    al = _two_featurizers()
    first = save_alignment(al, tmp_path / "a.json", info={"seed": 3})
    json_bytes, weights = first.read_bytes(), weights_path(first)
    weight_bytes = weights.read_bytes()
    for _ in range(20):  # safetensors' metadata order used to differ about half the time
        save_alignment(al, tmp_path / "a.json", info={"seed": 3})
        assert first.read_bytes() == json_bytes
        assert weights_path(first) == weights and weights.read_bytes() == weight_bytes
        assert sorted(_snapshot(tmp_path)) == sorted(["a.json", weights.name])
    for i in range(20):  # fresh saves elsewhere, each to a new file
        other = save_alignment(al, tmp_path / f"copy{i}.json", info={"seed": 3})
        assert weights_path(other).read_bytes() == weight_bytes


# --- never a file it did not write -----------------------------------------------------


def test_a_copied_backup_keeps_its_weights(tmp_path):
    path = save_alignment(_rotated(1), tmp_path / "a.json")
    old_weights = weights_path(path)
    shutil.copy(path, tmp_path / "backup.json")  # the user backs up the JSON only
    save_alignment(_rotated(2), path)  # a new alignment at the same path
    assert old_weights.exists(), "the weights a backup still names were deleted"
    back = load_alignment(tmp_path / "backup.json")
    assert torch.equal(back["left"].subspace.featurizer.matrix, _rotated(1)["left"].subspace.featurizer.matrix)
    assert torch.equal(load_alignment(path)["left"].subspace.featurizer.matrix,
                       _rotated(2)["left"].subspace.featurizer.matrix)
    # saving over the backup does not touch a weights file named after another JSON
    save_alignment(_rotated(3), tmp_path / "backup.json")
    assert old_weights.exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_a_replaced_alignment_s_own_weights_are_removed(tmp_path):
    path = save_alignment(_rotated(1), tmp_path / "a.json")
    old = weights_path(path)
    save_alignment(_rotated(2), path)
    assert not old.exists()
    assert sorted(_snapshot(tmp_path)) == sorted(["a.json", weights_path(path).name])
    save_alignment(Alignment({"left": site("2", units=[0])}), path)  # no featurizer any more
    assert sorted(_snapshot(tmp_path)) == ["a.json"]


@pytest.mark.parametrize("planted", ["precious.txt", "a.0123456789abcdef.safetensors", "a.ffffffffffffffff.safetensors"])
def test_a_planted_weights_name_is_never_deleted(tmp_path, planted):
    path = save_alignment(_rotated(1), tmp_path / "a.json")
    real = weights_path(path)
    if planted == "a.ffffffffffffffff.safetensors":
        data = real.read_bytes()  # causalabs weights, but not the bytes the JSON records
        (tmp_path / planted).write_bytes(data[:-4] + b"\x00\x00\x00\x00")
    else:
        (tmp_path / planted).write_bytes(b"somebody's data")
    doc = json.loads(path.read_text())
    doc["weights"]["file"] = planted  # the previous JSON names a file it did not write
    path.write_text(json.dumps(doc))
    before = (tmp_path / planted).read_bytes()
    save_alignment(_rotated(2), path)
    assert (tmp_path / planted).read_bytes() == before
    assert real.exists()  # not named any more, but not proven ours to delete: left alone


def test_an_existing_file_that_is_not_an_alignment_is_not_overwritten(tmp_path):
    notes = tmp_path / "notes.json"
    notes.write_text('{"hello": 1}\n')
    before = _snapshot(tmp_path)
    with pytest.raises(AlignmentFileError, match=r"notes\.json: exists and is not an alignment file.*overwrite=True"):
        save_alignment(_rotated(1), notes)
    assert _snapshot(tmp_path) == before  # no weights, no temporary file
    save_alignment(_rotated(1), notes, overwrite=True)
    assert load_alignment(notes)["left"].module == "2"


def test_a_weights_name_held_by_a_foreign_file_is_not_overwritten(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    name = weights_path(save_alignment(_rotated(1), elsewhere / "x.json")).name  # the name a save derives
    target = tmp_path / "x.json"
    (tmp_path / name).write_bytes(b"not ours")
    before = _snapshot(tmp_path)
    with pytest.raises(AlignmentFileError, match=r"weights path .* is not an alignment weights file"):
        save_alignment(_rotated(1), target)
    assert _snapshot(tmp_path) == before
    with pytest.raises(AlignmentFileError, match=r"named NAME\.json"):
        save_alignment(_rotated(1), tmp_path / "x.alignment")
    assert _snapshot(tmp_path) == before


# --- checked on load --------------------------------------------------------------------


def _write_pair(folder: Path, doc: dict, tensors: dict[str, torch.Tensor] | None, name: str = "m.json") -> Path:
    """An alignment file and its weights written by hand (what an edited or foreign file looks like)."""
    if tensors is not None:
        blob = st_save({k: t.contiguous() for k, t in tensors.items()}, metadata={"schema": "causalabs.alignment"})
        sha = hashlib.sha256(blob).hexdigest()
        wname = f"{Path(name).stem}.{sha[:16]}.safetensors"
        (folder / wname).write_bytes(blob)
        doc = {**doc, "weights": {"file": wname, "sha256": sha}}
    (folder / name).write_text(json.dumps(doc))
    return folder / name


def _rotation_doc(matrix: torch.Tensor) -> tuple[dict, dict[str, torch.Tensor]]:
    doc = {
        "schema": "causalabs.alignment", "version": 1, "weights": None,
        "featurizers": [{"type": "Rotation", "tensor": "featurizer.0", "shape": list(matrix.shape),
                         "dtype": str(matrix.dtype).removeprefix("torch.")}],
        "sites": {"left": {"module": "2", "io": "output", "positions": None,
                           "subspace": {"kind": "featurizer", "featurizer": 0, "dims": [0, 1]}}},
        "info": {},
    }
    return doc, {"featurizer.0": matrix}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m: m * 1.01, "not orthonormal"),
        (lambda m: torch.where(torch.arange(64).reshape(8, 8) == 9, float("nan"), m), "NaN or infinite"),
        (lambda m: torch.where(torch.arange(64).reshape(8, 8) == 9, float("inf"), m), "NaN or infinite"),
        (lambda m: m[:, :3] @ torch.ones(3, 2), "not orthonormal"),
    ],
    ids=["scaled", "nan", "inf", "rank-deficient"],
)
def test_a_rotation_that_is_not_orthonormal_is_refused_on_load(tmp_path, change, says):
    m = change(random_rotation(8, 0))
    doc, tensors = _rotation_doc(m)
    path = _write_pair(tmp_path, doc, tensors)
    with pytest.raises(AlignmentFileError, match=rf"m\.json: field featurizers\[0\]\.tensor: .*{says}"):
        load_alignment(path)


def test_a_rotation_within_the_constructor_s_tolerance_loads(tmp_path):
    m = random_rotation(8, 0) + 1e-6  # |U^T U - I| about 1e-5 < 1e-4
    path = _write_pair(tmp_path, *_rotation_doc(m))
    assert torch.equal(load_alignment(path)["left"].subspace.featurizer.matrix, m)


def _edit(doc: dict, path: str, value) -> dict:
    out = json.loads(json.dumps(doc))
    keys = path.split(".")
    target = out
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target[k]
    target[keys[-1]] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("featurizers", {"0": 1}, "featurizers"),
        ("featurizers.0.shape", "8x8", r"featurizers\[0\]\.shape"),
        ("featurizers.0.shape", [8, 4], r"featurizers\[0\]\.shape"),
        ("featurizers.0.type", "Magic", r"featurizers\[0\]\.type"),
        ("featurizers.0.tensor", "featurizer.7", r"featurizers\[0\]\.tensor"),
        ("featurizers.0.dtype", "float16", r"featurizers\[0\]\.dtype"),
        ("sites", ["left"], "sites"),
        ("sites.left", "2", r"sites\.left"),
        ("sites.left.module", 2, r"sites\.left\.module"),
        ("sites.left.io", "sideways", r"sites\.left\.io"),
        ("sites.left.positions", "0", r"sites\.left\.positions"),
        ("sites.left.positions", [], r"sites\.left"),
        ("sites.left.subspace", None, r"sites\.left\.subspace"),
        ("sites.left.subspace.kind", "magic", r"sites\.left\.subspace\.kind"),
        ("sites.left.subspace.dims", [0], r"sites\.left\.subspace\.dims"),
        ("sites.left.subspace.dims", [0, 9], r"sites\.left\.subspace\.dims"),
        ("sites.left.subspace.dims", [0, True], r"sites\.left\.subspace\.dims"),
        ("sites.left.subspace.featurizer", 3, r"sites\.left\.subspace\.featurizer"),
        ("sites.left.subspace", {"kind": "units", "units": [1, 1]}, r"sites\.left"),
        ("sites.left.subspace", {"kind": "units", "units": "1"}, r"sites\.left\.subspace\.units"),
        ("info", [1, 2], "info"),
        ("weights.file", "../x.safetensors", r"weights\.file"),
        ("weights.file", "gone.safetensors", r"weights\.file.*gone\.safetensors is missing"),
        ("weights.sha256", "abc", r"weights\.sha256"),
        ("weights.sha256", "0" * 64, r"weights\.sha256.*does not match"),
        ("version", 2, r"version.*not supported"),
    ],
)
def test_a_malformed_field_is_named_with_the_file(tmp_path, path, value, field):
    doc, tensors = _rotation_doc(random_rotation(8, 0))
    good = _write_pair(tmp_path, doc, tensors, "good.json")
    load_alignment(good)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_edit(json.loads(good.read_text()), path, value)))
    with pytest.raises(AlignmentFileError, match=rf"bad\.json: field {field}"):
        load_alignment(bad)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[1, 2]", "not an alignment file"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply|invalid JSON"),
        (b"{not json", "invalid JSON"),
    ],
    ids=["list", "not-utf8", "deep", "junk"],
)
def test_a_file_that_is_not_an_alignment_is_named(tmp_path, content, says):
    (tmp_path / "x.json").write_bytes(content)
    with pytest.raises(AlignmentFileError, match=rf"x\.json: .*({says})"):
        load_alignment(tmp_path / "x.json")
    (tmp_path / "d.json").mkdir()
    with pytest.raises(AlignmentFileError, match=r"d\.json: is a directory"):
        load_alignment(tmp_path / "d.json")


def test_weights_that_are_not_safetensors_are_named(tmp_path):
    blob = b"garbage that is not safetensors"
    sha = hashlib.sha256(blob).hexdigest()
    (tmp_path / "w.safetensors").write_bytes(blob)
    doc, _ = _rotation_doc(random_rotation(8, 0))
    (tmp_path / "m.json").write_text(json.dumps({**doc, "weights": {"file": "w.safetensors", "sha256": sha}}))
    with pytest.raises(AlignmentFileError, match=r"m\.json: field weights\.file: .*not a safetensors file"):
        load_alignment(tmp_path / "m.json")


def test_a_file_that_does_not_fit_the_network_names_the_site(tmp_path):
    net = load_network(NET)
    wide = _write_pair(tmp_path, *_rotation_doc(random_rotation(16, 0)), "wide.json")  # layer "2" has width 8
    load_alignment(wide)  # a file alone cannot know the network
    with pytest.raises(AlignmentFileError, match=r"wide\.json: field sites\.left\.subspace: .*width 16"):
        load_alignment(wide, network=net, hypothesis=HEQ)
    doc, tensors = _rotation_doc(random_rotation(8, 0))
    nowhere = _write_pair(tmp_path, _edit(doc, "sites.left.module", "9"), tensors, "nowhere.json")
    with pytest.raises(AlignmentFileError, match=r"nowhere\.json: field sites\.left\.module: .*no module '9'"):
        load_alignment(nowhere, network=net)
    ok = _write_pair(tmp_path, doc, tensors, "ok.json")
    assert load_alignment(ok, network=net, hypothesis=HEQ)["left"].module == "2"


@pytest.mark.parametrize("case", ["scaled", "nan", "wide", "shape-string"])
def test_cli_refuses_a_bad_alignment_file_with_exit_2_and_one_line(tmp_path, case):
    m = random_rotation(16 if case == "wide" else 8, 0)
    m = m * 1.01 if case == "scaled" else m
    m = torch.where(torch.arange(m.numel()).reshape(m.shape) == 3, float("nan"), m) if case == "nan" else m
    doc, tensors = _rotation_doc(m)
    if case == "shape-string":
        doc = _edit(doc, "featurizers.0.shape", "8x8")
    path = _write_pair(tmp_path, doc, tensors, "al.json")
    before = _snapshot(tmp_path)
    r = CliRunner().invoke(app, ["verify", str(ROOT / HEQ_REF), "--network", str(NET), "--alignment", str(path),
                                 "--json", str(tmp_path / "report.json")], env={"COLUMNS": "300"})
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "al.json: field " in lines[0], r.output
    assert _snapshot(tmp_path) == before  # no report written
