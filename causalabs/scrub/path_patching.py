"""Path patching (Wang et al. 2022): the counterfactual's sender value reaches only chosen receivers.

``path_patch(network, base, counterfactual, sender, receivers)``:

1. record the sender's vector on the counterfactual inputs (one ``collect``);
2. run the base with the sender patched and record each receiver's vector
   (this pass's output is the *full* effect of the sender);
3. run the clean base with only the receivers set to what they recorded.

Every path from the sender that does not go through a receiver keeps the
base's value.  The effect is measured by a per-row metric of the decoded
output (default: log-probability of the class the clean network predicts)
and reported as the proportion of the full effect that the paths through
the receivers explain: ``(m_path - m_clean) / (m_full - m_clean)`` on the
means, with a seeded bootstrap interval over rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.backends.hooks import edit_hooks
from causalabs.backends.locations import select
from causalabs.backends.native import NativeBackend
from causalabs.errors import ScrubError
from causalabs.metrics.estimate import Estimate
from causalabs.network.network import Decoded, Network, encode
from causalabs.network.sites import Site, positions_tensor, resolve_module
from causalabs.scrub.claims import execution_order

Batch = dict[str, np.ndarray]
Metric = Callable[[Decoded, Decoded], np.ndarray]


def clean_logprob(decoded: Decoded, clean: Decoded) -> np.ndarray:
    """Per-row log-probability, under ``decoded``, of the class the clean pass predicts."""
    if decoded.scores is None or clean.scores is None:
        raise ScrubError("path patching: the decoder gives no scores; pass metric=")
    col = clean.scores.argmax(-1, keepdim=True)
    return torch.log_softmax(decoded.scores.double(), -1).gather(1, col).squeeze(1).cpu().numpy()


@attrs.frozen(eq=False)
class PathPatchResult:
    """Per-row metrics of the clean, fully patched and path-patched passes, and the proportion explained."""

    sender: str
    receivers: tuple[str, ...]
    clean: np.ndarray = attrs.field(repr=False)
    full: np.ndarray = attrs.field(repr=False)
    path: np.ndarray = attrs.field(repr=False)
    proportion: Estimate
    path_output: Any = attrs.field(repr=False)
    full_output: Any = attrs.field(repr=False)


def _record(
    network: Network, base: Batch, receivers: Sequence[Site], got: dict[int, torch.Tensor]
) -> Sequence[tuple[Any, str, str, Callable[[torch.Tensor], torch.Tensor]]]:
    n = len(next(iter(base.values())))
    edits: list[tuple[Any, str, str, Callable[[torch.Tensor], torch.Tensor]]] = []
    for i, r in enumerate(receivers):
        pos = positions_tensor(r, base, n)
        pos = None if pos is None else pos.to(network.device)

        def rec(x: torch.Tensor, i: int = i, pos: torch.Tensor | None = pos) -> torch.Tensor:
            got.setdefault(i, select(x.detach(), pos) if pos is not None else x.detach().clone())
            return x

        edits.append((resolve_module(network.module, r.module, network=network.name), r.io, r.name, rec))
    return edits


def path_patch(
    network: Network,
    base: Mapping[str, np.ndarray],
    counterfactual: Mapping[str, np.ndarray],
    sender: Site,
    receivers: Sequence[Site],
    *,
    metric: Metric = clean_logprob,
    seed: int = 0,
    confidence: float = 0.95,
    bootstrap: int = 2_000,
) -> PathPatchResult:
    """Patch the sender's counterfactual value along the paths through ``receivers`` only.

    Raises :class:`~causalabs.errors.ScrubError` if a receiver does not run
    strictly after the sender in the forward pass.
    """
    base, counterfactual = dict(base), dict(counterfactual)
    if not receivers:
        raise ScrubError(f"path patching from {sender.name}: no receivers given")
    order = execution_order(
        network, {k: v[:1] for k, v in base.items()}, [(s.module, s.io) for s in (sender, *receivers)]
    )
    for r in receivers:
        if order[(r.module, r.io)] <= order[(sender.module, sender.io)]:
            raise ScrubError(f"path patching: receiver {r.name} does not run after the sender {sender.name}")
    backend = NativeBackend()
    with torch.no_grad():
        clean_out = network.call(network.module, encode(network, base))
    src = backend.collect(network, counterfactual, [sender])[sender.location_key()]
    got: dict[int, torch.Tensor] = {}
    with edit_hooks(_record(network, base, receivers, got)):
        full_out = backend.patch(network, base, [(sender, src)])
    missing = [r.name for i, r in enumerate(receivers) if i not in got]
    if missing:
        raise ScrubError(f"path patching: receiver {', '.join(missing)} never ran in {network.name}'s forward pass")
    path_out = backend.patch(network, base, [(r, got[i]) for i, r in enumerate(receivers)])
    clean = network.decode(clean_out)
    m_clean = np.asarray(metric(clean, clean), dtype=np.float64)
    m_full = np.asarray(metric(network.decode(full_out), clean), dtype=np.float64)
    m_path = np.asarray(metric(network.decode(path_out), clean), dtype=np.float64)
    return PathPatchResult(
        sender=sender.name,
        receivers=tuple(r.name for r in receivers),
        clean=m_clean,
        full=m_full,
        path=m_path,
        proportion=_ratio(m_clean, m_full, m_path, seed, confidence, bootstrap),
        path_output=path_out,
        full_output=full_out,
    )


def _ratio(c: np.ndarray, f: np.ndarray, p: np.ndarray, seed: int, confidence: float, bootstrap: int) -> Estimate:
    n = len(c)
    denom = f.mean() - c.mean()
    value = float((p.mean() - c.mean()) / denom) if denom != 0 else math.nan
    if n < 2 or not math.isfinite(value):
        return Estimate(value, math.nan, math.nan, n, False, confidence, "bootstrap percentile")
    idx = np.random.default_rng([seed, 0x9A7]).integers(0, n, size=(bootstrap, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        boots = (p[idx].mean(1) - c[idx].mean(1)) / (f[idx].mean(1) - c[idx].mean(1))
    boots = boots[np.isfinite(boots)]
    tail = (1 - confidence) / 2
    lo, hi = (float(q) for q in np.quantile(boots, [tail, 1 - tail]))
    return Estimate(value, lo, hi, n, False, confidence, "bootstrap percentile")

