"""Provenance of a report: versions, device, seed and content hashes of what was checked."""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sympy as sp
import torch

from causalabs._version import __version__
from causalabs.loading import sha256_file
from causalabs.network.dispatch import state_tensors
from causalabs.network.network import Network
from causalabs.scm import space
from causalabs.scm.model import CausalModel
from causalabs.verification.report.found import search_provenance


def weights_sha256(network: Network) -> str:
    """sha256 over the module's state dict (names, dtypes, shapes and bytes, in name order)."""
    h = hashlib.sha256()
    for name, t in state_tensors(network.module):  # offloaded weights read from accelerate's maps
        c = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{c.dtype}|{tuple(c.shape)}|".encode())
        h.update(c.numpy().tobytes() if c.dtype != torch.bfloat16 else c.float().numpy().tobytes())
    return h.hexdigest()


def hypothesis_sha256(model: CausalModel) -> str | None:
    if model.source_file and Path(model.source_file).is_file():
        return sha256_file(model.source_file)
    return None


def provenance(
    model: CausalModel,
    network: Network,
    *,
    seed: int | None,
    digests: Iterable[str] = (),
    mode: str = "",
    alignment_info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a reader needs to rerun the check and know it is the same check."""
    dev = network.device
    found = search_provenance(alignment_info or {})
    return {
        "causalabs": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(dev) if dev.type != "cuda" else f"cuda ({torch.cuda.get_device_name(dev)})",
        "seed": seed,
        "mode": mode,
        "network_sha256": weights_sha256(network),
        "hypothesis_sha256": hypothesis_sha256(model),
        "hypothesis_file": Path(model.source_file).name if model.source_file else None,
        "dataset_digests": sorted(set(digests)),
        **({"alignment_search": found} if found is not None else {}),
        **({"input_space": input_space(model)} if model.requires else {}),
    }


def input_space(model: CausalModel) -> dict[str, Any]:
    """The inputs a constrained hypothesis admits: their count (None: not counted), the box and the requirements."""
    return {
        "inputs": space.count(model),
        "combinations": model.box_size,
        "requires": [sp.sstr(r) for r in model.requires],
    }
