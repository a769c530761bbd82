"""Shared helpers for the organism files in this folder (not an organism itself).

An organism file builds its weights with a deterministic function, writes
them once to ``weights/<stem>.safetensors`` (``python models/<file>.py
--write``), and loads them from there.  The helpers here keep every file
short and alike:

* :func:`weights_path`, :func:`save_weights`, :func:`load_weights` -- the
  committed safetensors file next to the organism;
* :func:`fold_rotation` -- rotate one hidden layer of a state dict without
  changing the function;
* :func:`metadata` -- the standard ``Network.info`` dict, checked;
* :func:`one_hot`, :func:`bits` -- the usual encoders for small integer inputs;
* :func:`sibling` -- import another organism file of this folder;
* :func:`main` -- the ``--write`` / ``--check`` command line of a file.

Files whose name starts with ``_`` are skipped by ``causalabs models``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save
from torch import nn

from causalabs.errors import NetworkFileError
from causalabs.loading import load_module, sha256_file
from causalabs.network import Alignment, Network, Rotation, random_rotation, site
from causalabs.organisms import OrganismInfo

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "weights"

#: A builder returns the tensors to store (module state plus extras) and string metadata.
Builder = Callable[[], tuple[dict[str, torch.Tensor], dict[str, str]]]


def weights_path(organism_file: str | Path) -> Path:
    """``weights/<stem>.safetensors`` next to the organism file."""
    p = Path(organism_file).resolve()
    return p.parent / "weights" / f"{p.stem}.safetensors"


def save_weights(tensors: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str]) -> Path:
    """Write ``tensors`` (float32, contiguous copies) and string ``metadata`` to ``path``, reproducibly.

    safetensors writes the metadata map in hash order, which changes from one
    process to the next; the header is re-written here as canonical JSON
    (sorted keys, padded to 8 bytes as the format asks), so the file's bytes
    depend only on the values.  Offsets in the header are relative to the
    data section, which is untouched.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in sorted(tensors.items())}
    raw = save({k: clean[k] for k in clean}, metadata={str(k): str(v) for k, v in metadata.items()})
    size = int.from_bytes(raw[:8], "little")
    header = json.dumps(json.loads(raw[8 : 8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    out.write_bytes(len(header).to_bytes(8, "little") + header + raw[8 + size :])
    return out


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a weights file."""
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a committed weights file; NetworkFileError naming the file if it is missing."""
    p = Path(path)
    if not p.is_file():
        raise NetworkFileError(
            f"{p}: weights file missing; regenerate it with `python models/{p.stem}.py --write`"
        )
    return load_file(str(p))


def load_module_state(module: nn.Module, tensors: Mapping[str, torch.Tensor], *, extras: Sequence[str] = ()) -> nn.Module:
    """Load the module's tensors strictly (assigned, so a module built on ``device="meta"`` works).

    Keys listed in ``extras`` may also be present in ``tensors`` and are ignored.
    Building on the meta device keeps loading from touching torch's global RNG.
    """
    own = {k: v for k, v in tensors.items() if k not in extras}
    result = module.load_state_dict(own, strict=False, assign=True)
    if result.missing_keys or result.unexpected_keys:
        raise NetworkFileError(
            f"weights do not fit {type(module).__name__}: missing {result.missing_keys}, "
            f"unexpected {result.unexpected_keys}"
        )
    module.eval()
    return module


def fold_rotation(
    state: Mapping[str, torch.Tensor], layer: str, reader: str, rotation: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Rotate the output of Linear ``layer`` by ``rotation`` and undo it in Linear ``reader``.

    With row vectors, the new hidden vector is ``h @ R``; the weights become
    ``W_layer' = R^T W_layer``, ``b_layer' = R^T b_layer`` and
    ``W_reader' = W_reader R``.  Nothing but a linear map may sit between
    the two layers, so the network's function is unchanged (up to float
    rounding).  Arithmetic is in float64, results in float32.
    """
    r = rotation.to(torch.float64)
    out = {k: v.clone() for k, v in state.items()}
    w, b = state[f"{layer}.weight"].double(), state[f"{layer}.bias"].double()
    out[f"{layer}.weight"] = (r.T @ w).to(torch.float32)
    out[f"{layer}.bias"] = (r.T @ b).to(torch.float32)
    out[f"{reader}.weight"] = (state[f"{reader}.weight"].double() @ r).to(torch.float32)
    return out


def metadata(
    organism_file: str | Path,
    *,
    task: str,
    hypothesis: str,
    alignment: Alignment,
    accuracy: float,
    wrong: Sequence[str] = (),
    also_correct: Sequence[str] = (),
    twin_of: str | None = None,
    rotation_seed: int | None = None,
    description: str = "",
) -> dict[str, object]:
    """The standard ``Network.info`` of an organism, checked by :class:`causalabs.organisms.OrganismInfo`."""
    p = Path(organism_file).resolve()
    info: dict[str, object] = {
        "task": task,
        "hypothesis": hypothesis,
        "wrong": list(wrong),
        "also_correct": list(also_correct),
        "alignment": {v: s.name for v, s in alignment.sites.items()},
        "accuracy": accuracy,
        "weights": str(weights_path(p).relative_to(p.parent)),
        "description": description,
    }
    if twin_of is not None:
        info["twin_of"] = twin_of
    if rotation_seed is not None:
        info["rotation_seed"] = rotation_seed
    OrganismInfo.from_mapping(info, where=str(p))
    return info


def rotated_alignment(neuron: Alignment, rotation: torch.Tensor) -> Alignment:
    """The alignment of a twin whose layer was rotated by ``rotation`` (``h_rot = h @ R``).

    Each variable on contiguous units ``[a, ..., b-1]`` of the unrotated twin
    lives on coordinates ``[a:b]`` of ``Rotation(R^T)``: ``h_rot @ R^T = h``.
    All variables share one featurizer, so their sites are disjoint.
    """
    featurizer = Rotation(rotation.to(torch.float32).T.contiguous())
    sites = {}
    for var, s in neuron.sites.items():
        units = s.subspace.units
        if units is None or list(units) != list(range(units[0], units[0] + len(units))):
            raise ValueError(f"rotated_alignment: {var!r} is not on contiguous units ({s.name})")
        sites[var] = site(s.module, io=s.io, featurizer=featurizer, dims=(units[0], units[0] + len(units)))
    return Alignment(sites)


class RotatedTwin:
    """A hand-built organism with its variable layer rotated by a seeded random orthogonal matrix.

    ``R`` is Haar-random (``random_rotation(width, seed)``, computed in
    float64).  It is folded into Linear ``layer`` and undone in Linear
    ``reader`` (:func:`fold_rotation`): ``layer`` outputs ``h_rot = h @ R``
    and ``reader`` reads ``h_rot @ R^T``, so the function is unchanged on
    every input but no single unit of ``layer`` holds a variable any more.
    ``R`` is stored in the weights file under ``rotation``.  Task,
    hypotheses, encoder and decoder are those of the unrotated twin; the
    known alignment is its unit alignment carried through ``Rotation(R^T)``.

    A rotated organism file binds its functions from one instance
    (``load = twin.load``, ``alignment = twin.alignment``, ...); the
    catalogue reads a module-level ``load`` bound by ``def`` or by a plain
    assignment alike.
    """

    def __init__(self, organism_file: str | Path, twin_file: str, *, seed: int = 0, layer: str = "2", reader: str = "3") -> None:
        self.file = Path(organism_file).resolve()
        self.twin = sibling(organism_file, twin_file)
        self.twin_file = twin_file
        self.seed = seed
        self.layer = layer
        self.reader = reader

    def build(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        """The twin's weights with ``R`` folded in, plus ``R`` itself (key ``rotation``)."""
        state, _ = self.twin.build()
        rotation = random_rotation(self.twin.WIDTH, self.seed, dtype=torch.float64)
        tensors = fold_rotation(state, self.layer, self.reader, rotation)
        tensors["rotation"] = rotation.to(torch.float32)
        meta = {"organism": self.file.stem, "twin_of": Path(self.twin_file).stem, "rotation_seed": str(self.seed)}
        return tensors, meta

    def rotation(self) -> torch.Tensor:
        """The stored rotation ``R`` (``h_rot = h @ R``)."""
        return load_weights(weights_path(self.file))["rotation"]

    def neuron_alignment(self) -> Alignment:
        """The unit alignment that is right for the unrotated twin."""
        return self.twin.alignment()

    def alignment(self) -> Alignment:
        """The known alignment: the twin's units as coordinates of ``Rotation(R^T)``."""
        return rotated_alignment(self.twin.alignment(), self.rotation())

    def load(self) -> Network:
        """The rotated network with its committed weights and organism metadata."""
        plain = self.twin.load()
        tensors = load_weights(weights_path(self.file))
        module = load_module_state(self.twin.architecture(), tensors, extras=("rotation",))
        info = metadata(
            self.file,
            task=self.twin.TASK,
            hypothesis=plain.info["hypothesis"],
            wrong=plain.info["wrong"],
            also_correct=plain.info["also_correct"],
            alignment=self.alignment(),
            accuracy=plain.info["accuracy"],
            twin_of=self.twin_file,
            rotation_seed=self.seed,
            description=f"{Path(self.twin_file).stem} with layer '{self.layer}' rotated by a seeded random orthogonal matrix",
        )
        return Network(module, plain.encode, plain.decode, name=self.file.stem, info=info)


def one_hot(batch: Mapping[str, np.ndarray], names: Sequence[str], size: int) -> torch.Tensor:
    """Concatenated one-hot codes of the integer inputs ``names`` (each in ``range(size)``)."""
    cols = [torch.nn.functional.one_hot(torch.from_numpy(np.array(batch[k], dtype=np.int64)), size) for k in names]
    return torch.cat(cols, dim=1).to(torch.float32)


def bits(batch: Mapping[str, np.ndarray], names: Sequence[str]) -> torch.Tensor:
    """The 0/1 inputs ``names`` as float columns."""
    return torch.from_numpy(np.stack([np.asarray(batch[k]) for k in names], axis=1).astype(np.float32))


def sibling(organism_file: str | Path, filename: str) -> ModuleType:
    """Import another file of the organism's folder (the same module object ``load_network`` uses)."""
    return load_module(Path(organism_file).resolve().parent / filename)


def main(organism_file: str | Path, build: Builder, argv: Sequence[str] | None = None) -> int:
    """``--write`` regenerates the weights file; ``--check`` tells whether the committed one matches."""
    parser = argparse.ArgumentParser(description=f"weights of {Path(organism_file).stem}")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rebuild and write the weights file")
    group.add_argument("--check", action="store_true", help="rebuild and compare with the committed file")
    group.add_argument("--to", type=Path, help="rebuild and write to this path instead")
    args = parser.parse_args(argv)
    target = weights_path(organism_file)
    tensors, meta = build()
    if args.write:
        save_weights(tensors, target, meta)
        print(f"wrote {target} sha256={sha256_file(target)}")
        return 0
    if args.to is not None:
        save_weights(tensors, args.to, meta)
        print(f"wrote {args.to} sha256={sha256_file(args.to)}")
        return 0
    tmp = target.with_suffix(".check.safetensors")
    try:
        save_weights(tensors, tmp, meta)
        same = target.is_file() and tmp.read_bytes() == target.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    print(f"{target}: {'matches the build' if same else 'DIFFERS from the build'}")
    return 0 if same else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit("this is a helper module; run an organism file, e.g. python models/heq_handbuilt.py --write")
