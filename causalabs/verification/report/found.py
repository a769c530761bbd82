"""How an alignment was found, as a report records it: the search's record, whether it converged.

Kept apart from :mod:`~causalabs.verification.report.provenance` (which reads
torch's version and the network's weights) so that rendering a saved report
imports no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Keys of an alignment's ``info`` that say how a search found it (see :mod:`causalabs.align.find`).
SEARCH_KEYS = ("method", "config", "sites", "site", "seed", "samples", "data", "train_digests", "converged", "training")


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
