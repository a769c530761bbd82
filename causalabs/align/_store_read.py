"""Reading alignment files: every field checked where it enters, errors naming the file and the field.

:func:`read_alignment` turns the bytes of an alignment JSON and of its
weights file into an :class:`~causalabs.network.Alignment`, or raises
:class:`~causalabs.errors.AlignmentFileError` naming the file and the field
at fault (``featurizers[0].shape``, ``sites.left.subspace.dims``): wrong
types, a missing or altered weights file, tensors of another shape than
recorded, non-finite or non-orthonormal rotations (checked with the
:class:`~causalabs.network.Rotation` constructor's tolerance).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load

from causalabs.errors import AlignmentFileError, SiteError
from causalabs.network.alignment import Alignment
from causalabs.network.featurizers import Rotation
from causalabs.network.sites import ALL, Site, Subspace

SCHEMA = "causalabs.alignment"
VERSION = 1
#: Header bytes read to recognise a safetensors file written by causalabs (its JSON header is small).
_MAX_HEADER = 1 << 20


def fail(p: Path, field: str | None, why: str) -> NoReturn:
    where = f"{p}" if field is None else f"{p}: field {field}"
    raise AlignmentFileError(f"{where}: {why}")


def _shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _int(p: Path, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail(p, field, f"expected an integer, got {_shown(value)}")
    return value


def _ints(p: Path, field: str, value: Any) -> list[int]:
    if not isinstance(value, list):
        fail(p, field, f"expected a list of integers, got {_shown(value)}")
    return [_int(p, f"{field}[{i}]", v) for i, v in enumerate(value)]


def _str(p: Path, field: str, value: Any) -> str:
    if not isinstance(value, str):
        fail(p, field, f"expected a string, got {_shown(value)}")
    return value


def _dict(p: Path, field: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        fail(p, field, f"expected an object, got {_shown(value)}")
    return value


def parse_json(p: Path) -> dict[str, Any]:
    """The alignment JSON document at ``p`` (schema and version checked)."""
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        fail(p, None, "no such alignment file")
    except IsADirectoryError:
        fail(p, None, "is a directory, not an alignment file")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        fail(p, None, f"not an alignment file (not UTF-8 text: {exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        fail(p, None, f"not an alignment file (invalid JSON: {exc})")
    except RecursionError:
        fail(p, None, "not an alignment file (JSON nested too deeply)")
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else None
        fail(p, None, f"not an alignment file (schema {got!r}, expected {SCHEMA!r})")
    if doc.get("version") != VERSION:
        fail(p, "version", f"alignment file version {doc.get('version')!r} is not supported (this causalabs reads version {VERSION})")
    return doc


def weights_name(p: Path, doc: Mapping[str, Any]) -> str | None:
    """The weights file name the document records (a bare file name beside ``p``), or None."""
    w = doc.get("weights")
    if w is None:
        return None
    w = _dict(p, "weights", w)
    name = _str(p, "weights.file", w.get("file"))
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        fail(p, "weights.file", f"expected a file name beside the alignment file, got {_shown(name)}")
    sha = _str(p, "weights.sha256", w.get("sha256"))
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        fail(p, "weights.sha256", f"expected 64 hex digits, got {_shown(sha)}")
    return name


def is_alignment_weights(path: Path) -> bool:
    """True when ``path`` is a safetensors file whose metadata says causalabs wrote it for an alignment."""
    try:
        with path.open("rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n <= _MAX_HEADER:
                return False
            header = json.loads(f.read(n).decode("utf-8"))
    except (OSError, ValueError):
        return False
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return isinstance(meta, dict) and meta.get("schema") == SCHEMA


def _read_weights(p: Path, doc: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    name = weights_name(p, doc)
    if name is None:
        return {}
    wp = p.with_name(name)
    try:
        blob = wp.read_bytes()
    except FileNotFoundError:
        fail(p, "weights.file", f"its weights file {wp} is missing")
    except IsADirectoryError:
        fail(p, "weights.file", f"its weights file {wp} is a directory")
    if hashlib.sha256(blob).hexdigest() != doc["weights"]["sha256"]:
        fail(p, "weights.sha256", f"its weights file {wp} does not match the SHA-256 recorded in the alignment file")
    try:
        return st_load(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        fail(p, "weights.file", f"its weights file {wp} is not a safetensors file ({exc})")


def _featurizers(p: Path, doc: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> list[Rotation]:
    entries = doc.get("featurizers", [])
    if not isinstance(entries, list):
        fail(p, "featurizers", f"expected a list, got {_shown(entries)}")
    out: list[Rotation] = []
    for j, entry in enumerate(entries):
        field = f"featurizers[{j}]"
        f = _dict(p, field, entry)
        if f.get("type") != "Rotation":
            fail(p, f"{field}.type", f"unknown featurizer type {_shown(f.get('type'))} (expected \"Rotation\")")
        name = _str(p, f"{field}.tensor", f.get("tensor"))
        shape = _ints(p, f"{field}.shape", f.get("shape"))
        if name not in tensors:
            fail(p, f"{field}.tensor", f"tensor {name!r} is missing from the weights file {doc['weights']['file'] if doc.get('weights') else '(none)'}")
        m = tensors[name]
        if list(m.shape) != shape:
            fail(p, f"{field}.shape", f"the weights hold shape {list(m.shape)}, the file records {shape}")
        if m.ndim != 2 or m.shape[0] < m.shape[1] or m.shape[1] < 1:
            fail(p, f"{field}.shape", f"a rotation is a width x k matrix with 1 <= k <= width, got {list(m.shape)}")
        if not m.is_floating_point():
            fail(p, f"{field}.tensor", f"a rotation holds floats, got {m.dtype}")
        dtype = f.get("dtype")
        if dtype is not None and dtype != str(m.dtype).removeprefix("torch."):
            fail(p, f"{field}.dtype", f"the weights hold {str(m.dtype).removeprefix('torch.')}, the file records {_shown(dtype)}")
        if not torch.isfinite(m).all():
            fail(p, f"{field}.tensor", "the rotation holds NaN or infinite values")
        try:
            out.append(Rotation(m))  # the constructor's orthonormality check and tolerance
        except SiteError as exc:
            fail(p, f"{field}.tensor", str(exc))
    return out


def _subspace(p: Path, field: str, value: Any, featurizers: list[Rotation]) -> Subspace:
    sub = _dict(p, field, value)
    kind = sub.get("kind")
    if kind == "all":
        return ALL
    if kind == "units":
        units = _ints(p, f"{field}.units", sub.get("units"))
        if not units:
            fail(p, f"{field}.units", "expected at least one unit")
        return Subspace(units=units)
    if kind == "featurizer":
        i = _int(p, f"{field}.featurizer", sub.get("featurizer"))
        if not 0 <= i < len(featurizers):
            fail(p, f"{field}.featurizer", f"featurizer {i} is not defined (the file defines {len(featurizers)})")
        dims = _ints(p, f"{field}.dims", sub.get("dims"))
        coords = featurizers[i].coords
        if len(dims) != 2 or not 0 <= dims[0] < dims[1] <= coords:
            fail(p, f"{field}.dims", f"expected [a, b] with 0 <= a < b <= {coords}, got {dims}")
        return Subspace(featurizer=featurizers[i], dims=(dims[0], dims[1]))
    fail(p, f"{field}.kind", f"unknown subspace kind {_shown(kind)} (expected \"all\", \"units\" or \"featurizer\")")


def _site(p: Path, variable: str, value: Any, featurizers: list[Rotation]) -> Site:
    field = f"sites.{variable}"
    d = _dict(p, field, value)
    module = _str(p, f"{field}.module", d.get("module"))
    io = d.get("io", "output")
    if io not in ("output", "input"):
        fail(p, f"{field}.io", f"expected \"output\" or \"input\", got {_shown(io)}")
    pos = d.get("positions")
    positions: Any
    if isinstance(pos, str):  # a position name (last, slot:S...), bound to the network's template when used
        from causalabs.network.text import PositionName

        try:
            int(pos)
            integer = True
        except ValueError:
            integer = False
        if integer:
            fail(p, f"{field}.positions", f"expected a list of integers or a position name, got {_shown(pos)}")
        try:
            positions = PositionName(pos)
        except SiteError as exc:
            fail(p, f"{field}.positions", str(exc))
    else:
        positions = None if pos is None else tuple(_ints(p, f"{field}.positions", pos))
    try:
        return Site(module, io, positions, _subspace(p, f"{field}.subspace", d.get("subspace"), featurizers))
    except SiteError as exc:  # repeated units, empty positions
        fail(p, field, str(exc))


def read_alignment(p: Path) -> Alignment:
    """The alignment stored at ``p`` (and its weights file), every field checked."""
    doc = parse_json(p)
    tensors = _read_weights(p, doc)
    featurizers = _featurizers(p, doc, tensors)
    sites = _dict(p, "sites", doc.get("sites"))
    info = doc.get("info")
    if info is not None:
        info = _dict(p, "info", info)
    decoded = {str(v): _site(p, str(v), d, featurizers) for v, d in sites.items()}
    try:
        return Alignment(decoded, info=dict(info or {}))
    except SiteError as exc:  # overlapping sites
        fail(p, "sites", str(exc))
