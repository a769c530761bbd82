"""Provenance of a report: versions, device, seed and content hashes of what was checked."""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from causalabs._version import __version__
from causalabs.loading import sha256_file
from causalabs.network.network import Network
from causalabs.scm.model import CausalModel


def weights_sha256(network: Network) -> str:
    """sha256 over the module's state dict (names, dtypes, shapes and bytes, in name order)."""
    h = hashlib.sha256()
    for name, t in sorted(network.module.state_dict().items()):
        c = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{c.dtype}|{tuple(c.shape)}|".encode())
        h.update(c.numpy().tobytes() if c.dtype != torch.bfloat16 else c.float().numpy().tobytes())
    return h.hexdigest()


def hypothesis_sha256(model: CausalModel) -> str | None:
    if model.source_file and Path(model.source_file).is_file():
        return sha256_file(model.source_file)
    return None


#: Keys of an alignment's ``info`` that say how a search found it (see :mod:`causalabs.align.find`).
SEARCH_KEYS = ("method", "config", "sites", "seed", "samples", "data", "train_digests", "converged", "training")


def search_provenance(info: Mapping[str, Any]) -> dict[str, Any] | None:
    """How the alignment was found, when a search found it (its info names the training data), else None."""
    if "train_digests" not in info:
        return None
    return {k: info[k] for k in SEARCH_KEYS if k in info}


def search_converged(info: Mapping[str, Any]) -> bool | None:
    """Whether the training that found this alignment converged: False when it reached its epoch cap still improving.

    Reads ``info["converged"]`` (:func:`causalabs.align.find.find_alignment`)
    or ``info["training"]["converged"]`` (``fit_das``, ``fit_boundless``);
    None when the alignment says nothing about a training.
    """
    flag = info.get("converged")
    if flag is None and isinstance(info.get("training"), Mapping):
        flag = info["training"].get("converged")
    return flag if isinstance(flag, bool) else None


#: The reason a refutation after an unconverged search is only inconclusive.
UNCONVERGED = "the search did not converge; raise --epochs"


def after_search(verdict: str, reason: str, info: Mapping[str, Any]) -> tuple[str, str]:
    """A refutation under an alignment whose search stopped at its epoch cap still improving is inconclusive.

    The refutation is of what the search reached, not of the claim; every
    mode (verify, falsify, prove) reports it the same way.
    """
    if verdict == "refuted" and search_converged(info) is False:
        return "inconclusive", f"{UNCONVERGED}; the alignment it reached: {reason}"
    return verdict, reason


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
    }
