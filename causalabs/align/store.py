"""Alignments as files: a JSON description plus the featurizer weights in safetensors beside it.

``save_alignment(alignment, "runs/heq.json", info=...)`` writes
``runs/heq.json`` (schema, sites, info) and, when a site has a featurizer,
``runs/heq.<sha256[:16]>.safetensors`` (one tensor per distinct featurizer,
stored in its own dtype, so a round trip is exact to the bit).  The weights
file is named from the JSON file's own name and its content's SHA-256, so a
save only ever writes names it derives for this JSON.

Guarantees:

* **Atomic.** Each file goes to a temporary file in the same folder and is
  moved into place with :func:`os.replace`, weights first: the JSON's
  replace is the commit point, so a failed or interrupted save leaves the
  previous pair readable and no temporary file (a process killed mid-write
  leaves at most a ``.NAME.XXXXXXXX.tmp``, which a resumed sweep removes).
* **Never a file it did not write.** An existing ``heq.json`` that is not an
  alignment file, or an existing weights name holding other bytes that are
  not a causalabs alignment's weights, is refused
  (:class:`~causalabs.errors.AlignmentFileError`) unless ``overwrite=True``.
  After the commit, the weights file the previous ``heq.json`` named is
  removed only if everything says this save's predecessor wrote it: its name
  is ``heq.<16 hex>.safetensors``, its metadata marks it as causalabs
  alignment weights, its bytes match the SHA-256 that JSON recorded, and no
  other alignment file in the folder names it (a copied ``backup.json``
  keeps its weights).  Anything else stays.
* **Same alignment, same bytes.** The JSON is written in a fixed key order
  and the weights with a single metadata entry, so saving the same alignment
  twice gives identical files (and the same weights name).
* **Checked on load.** Every field is type-checked; the weights' SHA-256,
  shapes and dtypes must match the JSON, rotations must be finite and
  orthonormal within the :class:`~causalabs.network.Rotation` constructor's
  tolerance; with ``network=`` and ``hypothesis=`` every site is resolved
  and its width checked.  Errors name the file and the field.

Layout of the JSON (``version`` 1)::

    {"schema": "causalabs.alignment", "version": 1,
     "weights": {"file": "heq.0123456789abcdef.safetensors", "sha256": "..."} | null,
     "featurizers": [{"type": "Rotation", "tensor": "featurizer.0", "shape": [8, 8], "dtype": "float32"}],
     "sites": {"left": {"module": "2", "io": "output", "positions": null | [int, ...] | "last" | "slot:S" ...,
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
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as st_save

from causalabs.align._store_read import (
    SCHEMA,
    VERSION,
    fail,
    is_alignment_weights,
    parse_json,
    read_alignment,
    weights_name,
)
from causalabs.align.rotation import LearnedRotation
from causalabs.atomic import write_bytes_atomic
from causalabs.errors import AlignmentFileError, CausalabsError, SiteError, UnsavableAlignmentError
from causalabs.network.text import PositionName
from causalabs.network.alignment import Alignment
from causalabs.network.featurizers import Featurizer, Rotation
from causalabs.network.dispatch import state_tensors
from causalabs.network.network import Network
from causalabs.network.sites import check_featurizer_width, resolve_module

#: Alignment JSON files larger than this are not read when deciding whether a file is one.
_MAX_JSON = 64 << 20


def weights_path(path: str | Path) -> Path | None:
    """The weights file the alignment JSON at ``path`` refers to (None: it has no featurizer)."""
    p = Path(path)
    name = weights_name(p, parse_json(p))
    return None if name is None else p.with_name(name)


def network_fingerprint(network: Network) -> dict[str, str]:
    """``{"network": name, "weights_sha256": ...}``: a digest of the module's state dict (names, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    for name, t in state_tensors(network.module):  # offloaded weights read from accelerate's maps
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
        named = s.positions.__name__ if isinstance(s.positions, PositionName) else None
        if callable(s.positions) and named is None:
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
        pos = named if named is not None else None if s.positions is None else list(s.positions)
        sites[v] = {"module": s.module, "io": s.io, "positions": pos, "subspace": subspace}
    return sites, featurizers, tensors


def _weights_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """Safetensors bytes with a single metadata entry: the same tensors always give the same bytes."""
    return st_save(tensors, metadata={"schema": SCHEMA})


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _alignment_doc(p: Path) -> dict[str, Any] | None:
    """The document of the causalabs alignment file at ``p``; None when ``p`` is anything else."""
    try:
        if not p.is_file() or p.stat().st_size > _MAX_JSON:
            return None
        return parse_json(p)
    except (AlignmentFileError, OSError):
        return None


def _named_elsewhere(p: Path, name: str) -> bool:
    """True when another alignment file in ``p``'s folder names ``name`` as its weights."""
    for q in p.parent.glob("*.json"):
        if q.name == p.name:
            continue
        doc = _alignment_doc(q)
        w = doc.get("weights") if doc is not None else None
        if isinstance(w, dict) and w.get("file") == name:
            return True
    return False


def _remove_replaced_weights(p: Path, previous: Mapping[str, Any] | None, keep: str | None) -> None:
    """Remove the weights the replaced JSON named, if and only if its predecessor save surely wrote them."""
    w = None if previous is None else previous.get("weights")
    if not isinstance(w, dict):
        return
    name, sha = w.get("file"), w.get("sha256")
    if not isinstance(name, str) or name == keep:
        return
    if not re.fullmatch(re.escape(p.stem) + r"\.[0-9a-f]{16}\.safetensors", name):
        return  # not a name this JSON's saves derive
    old = p.with_name(name)
    if old.is_symlink() or not old.is_file() or not is_alignment_weights(old) or _sha256(old) != sha:
        return
    if _named_elsewhere(p, name):
        return
    old.unlink(missing_ok=True)


def save_alignment(
    alignment: Alignment,
    path: str | Path,
    *,
    info: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``alignment`` to ``path`` (JSON, ``NAME.json``) and its featurizer weights beside it; returns ``path``.

    ``info`` (JSON-able: method, k, seed, losses, dataset digests, hypothesis
    ref, network fingerprint, ...) is merged over ``alignment.info``.  An
    existing file at ``path`` must be an alignment file, and an existing
    file at the weights name must be causalabs alignment weights, unless
    ``overwrite=True``; see the module docstring for every guarantee.
    """
    p = Path(path)
    if p.suffix != ".json":
        raise AlignmentFileError(
            f"{p}: an alignment file is named NAME.json (its weights go beside it as NAME.<sha256>.safetensors)"
        )
    sites, featurizers, tensors = _encode(alignment)
    merged = _jsonable({**dict(alignment.info), **dict(info or {})}, "info")
    doc: dict[str, Any] = {"schema": SCHEMA, "version": VERSION, "weights": None}
    blob = b""
    if tensors:
        blob = _weights_bytes(tensors)
        digest = hashlib.sha256(blob).hexdigest()
        doc["weights"] = {"file": f"{p.stem}.{digest[:16]}.safetensors", "sha256": digest}
    doc.update(featurizers=featurizers, sites=sites, info=merged)
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise AlignmentFileError(f"{p}: folder {folder} does not exist")
    if p.is_dir():
        raise AlignmentFileError(f"{p}: is a directory")
    previous = _alignment_doc(p)
    if p.exists() and previous is None and not overwrite:
        raise AlignmentFileError(
            f"{p}: exists and is not an alignment file written by causalabs; not overwritten "
            "(choose another path, or pass overwrite=True)"
        )
    keep = None
    if tensors:
        weights = p.with_name(doc["weights"]["file"])
        keep = weights.name
        if weights.is_dir():
            raise AlignmentFileError(f"{p}: its weights path {weights} is a directory")
        same = weights.is_file() and _sha256(weights) == doc["weights"]["sha256"]
        if weights.exists() and not same and not overwrite and not is_alignment_weights(weights):
            raise AlignmentFileError(
                f"{p}: its weights path {weights} exists and is not an alignment weights file written by "
                "causalabs; not overwritten (choose another path, or pass overwrite=True)"
            )
        if not same:
            write_bytes_atomic(weights, blob)
    write_bytes_atomic(p, text.encode())  # the commit point
    _remove_replaced_weights(p, previous, keep)
    return p


def load_alignment(
    path: str | Path, *, network: Network | None = None, hypothesis: Any = None
) -> Alignment:
    """Read an alignment written by :func:`save_alignment`; its ``info`` comes back in ``Alignment.info``.

    Every field is checked (:class:`~causalabs.errors.AlignmentFileError`
    naming the file and the field).  With ``network`` every site's module
    must exist in it; with ``network`` and ``hypothesis`` too, one input row
    is run to check each site's featurizer width and unit indices against
    the network's activation.
    """
    p = Path(path)
    alignment = read_alignment(p)
    if network is not None:
        check_file_against_network(p, alignment, network, hypothesis)
    return alignment


def check_file_against_network(p: Path, alignment: Alignment, network: Network, hypothesis: Any = None) -> None:
    """Raise :class:`~causalabs.errors.AlignmentFileError` naming ``p`` and the site if the network lacks it or its width differs."""
    for v, s in alignment.sites.items():
        try:
            resolve_module(network.module, s.module, network=network.name)
        except CausalabsError as exc:
            fail(p, f"sites.{v}.module", str(exc))
    if hypothesis is None:
        return
    from causalabs.backends.native import NativeBackend
    from causalabs.scm.semantics import enumerate_rows, model_of

    row = enumerate_rows(model_of(hypothesis), 0, 1)
    for v, s in alignment.sites.items():
        try:  # the backend checks the width as it records; the unit indices are checked here
            vectors = NativeBackend().collect(network, row, [s])[s.location_key()]
            check_featurizer_width(s, int(vectors.shape[-1]))
        except SiteError as exc:
            fail(p, f"sites.{v}.subspace", str(exc))


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
