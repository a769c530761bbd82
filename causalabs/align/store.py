"""Alignments as files: a JSON description plus the featurizer weights in safetensors beside it.

``save_alignment(alignment, "runs/heq.json", info=...)`` writes
``runs/heq.json`` (schema, sites, info) and, when a site has a featurizer,
``runs/heq.<sha256[:16]>.safetensors`` (one tensor per distinct featurizer,
stored in its own dtype, so a round trip is exact to the bit).  Both are
written to a temporary file in the same folder and moved into place with
:func:`os.replace`, weights first: the JSON's replace is the commit point,
so a failed or interrupted save leaves the previous pair intact and nothing
half-written.  The weights file named by the previous JSON is removed after
the commit.  The JSON records the weights' SHA-256; altered weights are refused.

Layout of the JSON (``version`` 1)::

    {"schema": "causalabs.alignment", "version": 1,
     "weights": {"file": "heq.0123456789abcdef.safetensors", "sha256": "..."} | null,
     "featurizers": [{"type": "Rotation", "tensor": "featurizer.0", "shape": [8, 8], "dtype": "float32"}],
     "sites": {"left": {"module": "2", "io": "output", "positions": null | [int, ...],
                        "subspace": {"kind": "all"} | {"kind": "units", "units": [...]}
                                  | {"kind": "featurizer", "featurizer": 0, "dims": [0, 1]}}},
     "info": {...}}

Sites that share one featurizer object share it again after loading (the
engine's disjointness check relies on it).  Per-example position functions
and featurizers other than :class:`~causalabs.network.Rotation` (or a
:class:`~causalabs.align.rotation.LearnedRotation`, saved as its current
basis) have no file form: :class:`~causalabs.errors.UnsavableAlignmentError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from causalabs.align.rotation import LearnedRotation
from causalabs.errors import AlignmentFileError, SiteError, UnsavableAlignmentError
from causalabs.network.alignment import Alignment
from causalabs.network.featurizers import Featurizer, Rotation
from causalabs.network.network import Network
from causalabs.network.sites import ALL, Site, Subspace

SCHEMA = "causalabs.alignment"
VERSION = 1


def weights_path(path: str | Path) -> Path | None:
    """The weights file the alignment JSON at ``path`` refers to (None: it has no featurizer)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
        w = doc.get("weights")
        return None if w is None else p.with_name(str(w["file"]))
    except FileNotFoundError:
        raise _fail(p, "no such alignment file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise _fail(p, f"not an alignment file ({type(exc).__name__}: {exc})") from None


def _previous_weights(p: Path) -> Path | None:
    try:
        return weights_path(p)
    except AlignmentFileError:
        return None


def network_fingerprint(network: Network) -> dict[str, str]:
    """``{"network": name, "weights_sha256": ...}``: a digest of the module's state dict (names, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    for name, t in sorted(network.module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return {"network": network.name, "weights_sha256": h.hexdigest()}


def _jsonable(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, Mapping):
        return {str(getattr(k, "name", k)): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise UnsavableAlignmentError(f"alignment info {where}: a {type(value).__name__} has no JSON form")


def _featurizer_matrix(variable: str, f: Featurizer) -> torch.Tensor:
    if isinstance(f, Rotation):
        return f.basis(0, f.coords).detach().cpu().contiguous()
    if isinstance(f, LearnedRotation):
        return f.frozen().cpu().contiguous()
    raise UnsavableAlignmentError(
        f"variable {variable!r}: a {type(f).__name__} featurizer cannot be saved (only Rotation and LearnedRotation)"
    )


def _encode(alignment: Alignment) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, torch.Tensor]]:
    sites: dict[str, Any] = {}
    featurizers: list[dict[str, Any]] = []
    tensors: dict[str, torch.Tensor] = {}
    ids: dict[int, int] = {}
    for v, s in alignment.sites.items():
        if callable(s.positions):
            raise UnsavableAlignmentError(
                f"variable {v!r}: site {s.name} has per-example positions (a function), which cannot be saved"
            )
        sub = s.subspace
        if sub.units is not None:
            subspace: dict[str, Any] = {"kind": "units", "units": list(sub.units)}
        elif sub.featurizer is not None:
            assert sub.dims is not None
            key = id(sub.featurizer)
            if key not in ids:
                m = _featurizer_matrix(v, sub.featurizer)
                ids[key] = len(featurizers)
                name = f"featurizer.{ids[key]}"
                tensors[name] = m
                featurizers.append({"type": "Rotation", "tensor": name, "shape": list(m.shape), "dtype": str(m.dtype).removeprefix("torch.")})
            subspace = {"kind": "featurizer", "featurizer": ids[key], "dims": list(sub.dims)}
        else:
            subspace = {"kind": "all"}
        pos = None if s.positions is None else list(s.positions)
        sites[v] = {"module": s.module, "io": s.io, "positions": pos, "subspace": subspace}
    return sites, featurizers, tensors


def _write_temp(folder: Path, data: bytes, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def save_alignment(alignment: Alignment, path: str | Path, *, info: Mapping[str, Any] | None = None) -> Path:
    """Write ``alignment`` to ``path`` (JSON) and its featurizer weights beside it; returns ``path``.

    ``info`` (JSON-able: method, k, seed, losses, dataset digests, hypothesis
    ref, network fingerprint, ...) is merged over ``alignment.info``.
    """
    p = Path(path)
    if p.suffix == ".safetensors":
        raise AlignmentFileError(f"{p}: the alignment file is the JSON part; its weights go beside it as .safetensors")
    sites, featurizers, tensors = _encode(alignment)
    merged = _jsonable({**dict(alignment.info), **dict(info or {})}, "info")
    doc: dict[str, Any] = {"schema": SCHEMA, "version": VERSION, "weights": None}
    blob = b""
    if tensors:
        blob = st_save(tensors, metadata={"schema": SCHEMA, "version": str(VERSION)})
        digest = hashlib.sha256(blob).hexdigest()
        doc["weights"] = {"file": f"{p.stem}.{digest[:16]}.safetensors", "sha256": digest}
    doc.update(featurizers=featurizers, sites=sites, info=merged)
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise AlignmentFileError(f"{p}: folder {folder} does not exist")
    previous = _previous_weights(p)
    temps: list[Path] = []
    try:
        if tensors:
            temps.append(_write_temp(folder, blob, ".safetensors"))
        temps.append(_write_temp(folder, text.encode(), ".json"))
        if tensors:
            os.replace(temps[0], p.with_name(doc["weights"]["file"]))
        os.replace(temps[-1], p)  # the commit point
    finally:
        for t in temps:
            t.unlink(missing_ok=True)
    if previous is not None and previous.name != (doc["weights"] or {}).get("file"):
        previous.unlink(missing_ok=True)
    return p


def _fail(p: Path, why: str) -> AlignmentFileError:
    return AlignmentFileError(f"{p}: {why}")


def _read_weights(p: Path, doc: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    w = doc.get("weights")
    if w is None:
        return {}
    wp = p.with_name(str(w["file"]))
    try:
        blob = wp.read_bytes()
    except FileNotFoundError:
        raise _fail(p, f"its weights file {wp} is missing") from None
    if hashlib.sha256(blob).hexdigest() != w.get("sha256"):
        raise _fail(p, f"its weights file {wp} does not match the SHA-256 recorded in the alignment file")
    return st_load(blob)


def _decode_site(p: Path, v: str, d: Mapping[str, Any], featurizers: list[Rotation]) -> Site:
    sub = d["subspace"]
    kind = sub["kind"]
    if kind == "all":
        subspace = ALL
    elif kind == "units":
        subspace = Subspace(units=sub["units"])
    elif kind == "featurizer":
        i = int(sub["featurizer"])
        if not 0 <= i < len(featurizers):
            raise _fail(p, f"variable {v!r} refers to featurizer {i}, which the file does not define")
        a, b = sub["dims"]
        subspace = Subspace(featurizer=featurizers[i], dims=(int(a), int(b)))
    else:
        raise _fail(p, f"variable {v!r} has an unknown subspace kind {kind!r}")
    pos = d.get("positions")
    return Site(str(d["module"]), d.get("io", "output"), None if pos is None else tuple(pos), subspace)


def load_alignment(path: str | Path) -> Alignment:
    """Read an alignment written by :func:`save_alignment`; its ``info`` comes back in ``Alignment.info``."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise _fail(p, "no such alignment file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(p, f"not an alignment file (invalid JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise _fail(p, f"not an alignment file (schema {doc.get('schema') if isinstance(doc, dict) else None!r}, expected {SCHEMA!r})")
    if doc.get("version") != VERSION:
        raise _fail(p, f"alignment file version {doc.get('version')!r} is not supported (this causalabs reads version {VERSION})")
    try:
        tensors = _read_weights(p, doc)
        featurizers = []
        for j, f in enumerate(doc["featurizers"]):
            if f["type"] != "Rotation":
                raise _fail(p, f"featurizer {j} has unknown type {f['type']!r}")
            if f["tensor"] not in tensors:
                raise _fail(p, f"featurizer {j}'s tensor {f['tensor']!r} is missing from {doc['weights']['file']}")
            m = tensors[f["tensor"]]
            if list(m.shape) != list(f["shape"]):
                raise _fail(p, f"featurizer {j} has shape {list(m.shape)} in the weights, {f['shape']} in the file")
            featurizers.append(Rotation(m, check=False))
        sites = {str(v): _decode_site(p, str(v), d, featurizers) for v, d in doc["sites"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, AlignmentFileError):
            raise
        what = "a malformed site" if isinstance(exc, SiteError) else f"a malformed entry ({type(exc).__name__}: {exc})"
        raise _fail(p, f"{what}: {exc}") from exc
    return Alignment(sites, info=dict(doc.get("info") or {}))


def save_das(
    result: Any,
    path: str | Path,
    *,
    network: Network | None = None,
    hypothesis: str | None = None,
    info: Mapping[str, Any] | None = None,
) -> Path:
    """Save a :class:`~causalabs.align.das.DASResult` or :class:`~causalabs.align.boundless.BoundlessResult`.

    The info records the method, dims and k per variable, seed, training
    curve, dataset digests and location; ``network`` adds its name and
    weights SHA-256, ``hypothesis`` a ``path.py:Class`` reference.
    """
    dims = {v: list(d) for v, d in result.dims.items()}
    record: dict[str, Any] = {
        "method": result.alignment.info.get("method", "das"),
        "location": result.location.name,
        "dims": dims,
        "k": {v: b - a for v, (a, b) in dims.items()},
        "seed": result.seed,
        "losses": list(result.losses),
        "data_digests": list(result.data_digests),
    }
    for extra in ("boundaries", "temperatures", "collapsed"):
        if hasattr(result, extra):
            record[extra] = getattr(result, extra)
    if network is not None:
        record.update(network_fingerprint(network))
    if hypothesis is not None:
        record["hypothesis"] = str(hypothesis)
    record.update(dict(info or {}))
    return save_alignment(result.alignment, path, info=record)
