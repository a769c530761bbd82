"""``verify(metric="logit-diff" | "prob")``: the LM metric of each checked variable set, reported beside the verdict.

The pairs are those sample mode draws (balanced by default, seed ``seed + j``
for the ``j``-th set; :func:`causalabs.verification.pairs.sample_set`): in
sample mode the very pairs the verdict counted (their distinct pairs), read
in the same patched passes; in exhaustive and sequential mode a sample of
``samples`` pairs per set drawn the same way and run for the metric alone.
Each pair's base also runs unpatched (one pass per distinct base), so the
report shows how far the patch moved the metric.  The verdict never looks
at it (see :mod:`causalabs.metrics.lm`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from causalabs.engine.evaluate import PairResults, evaluate_pairs
from causalabs.engine.readout import unpatched_readings
from causalabs.errors import MetricError
from causalabs.metrics.lm import DESCRIPTION, MetricEstimate, check_metric, estimate
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network, predict, probe_batch, source_file
from causalabs.scm.model import CausalModel
from causalabs.verification.pairs import Sampling, distinct, sample_set

Batch = dict[str, np.ndarray]


def _where(network: Network) -> str:
    path = source_file(network)
    return f"{path} (network {network.name})" if path is not None else f"network {network.name}"


def check_logits(network: Network, model: CausalModel, metric: str) -> str:
    """Refuse ``metric`` for a decoder that gives no logits over its classes (a :class:`MetricError` naming the
    network file and the metric); return what its probabilities are normalised over."""
    check_metric(metric)
    with torch.no_grad():
        dec = predict(network, probe_batch(model, rows=4))
    if dec.scores is None or dec.classes is None:
        raise MetricError(f"{_where(network)}: --metric {metric} reads the logits decode() scores its output classes "
                          "with (Decoded.scores and .classes), and this decode() gives none")
    s = dec.scores.detach().double()
    if s.shape[1] > 1 and bool((s >= 0).all()) and bool(torch.allclose(s.sum(-1), torch.ones_like(s[:, 0]), atol=1e-4)):
        raise MetricError(f"{_where(network)}: --metric {metric} reads logits, and decode()'s scores are "
                          "probabilities (every row non-negative, summing to 1); return the logits as Decoded.scores")
    if dec.log_normalizer is not None:
        return "the whole output (the decoder's log_normalizer: a language model's vocabulary)"
    return f"the decoder's {len(dec.classes)} output classes"


def set_metric(
    network: Network, results: PairResults, base: Batch, metric: str, keep: np.ndarray | None = None,
    *, confidence: float = 0.95,
) -> MetricEstimate:
    """``metric`` over the pairs of ``results`` (evaluated with ``logits=True``; only rows ``keep`` if given)."""
    if results.logits is None:
        raise MetricError(f"{_where(network)}: --metric {metric}: decode() gave no scores on the patched runs")
    idx = np.arange(len(results)) if keep is None else np.asarray(keep)
    expected, base_output = results.expected[idx], results.base_output[idx]
    off = unpatched_readings(network, {k: np.asarray(v)[idx] for k, v in base.items()}, expected, base_output)
    return estimate(metric, results.logits[idx], off, expected, base_output, confidence=confidence)


def metrics_section(
    network: Network,
    model: CausalModel,
    alignment: Alignment,
    sets: Sequence[tuple[str, ...]],
    metric: str,
    *,
    samples: int,
    seed: int,
    sampling: Sampling = "balanced",
    confidence: float = 0.95,
    evaluated: Sequence[tuple[Any, PairResults, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """The report's ``metrics`` section: ``metric`` per variable set.

    ``evaluated`` (sample mode): each set's (dataset, results with logits, distinct pairs) already run;
    otherwise ``samples`` pairs per set are drawn as sample mode draws them and run here.
    """
    over = check_logits(network, model, metric)
    per: dict[str, Any] = {}
    for j, vs in enumerate(sets):
        if evaluated is not None:
            ds, r, keep = evaluated[j]
        else:
            ds, _, stratified = sample_set(model, vs, samples, seed + j, sampling, [])
            r = evaluate_pairs(network, alignment, ds, logits=True)
            keep = distinct(ds) if stratified else np.arange(len(ds))
        per["+".join(vs)] = set_metric(network, r, ds.base, metric, keep, confidence=confidence).to_dict()
    return {
        "metric": metric,
        "description": DESCRIPTION[metric],
        **({"normalised_over": over} if metric == "prob" else {}),
        "pairs": ("the pairs sample mode checked (distinct ones)" if evaluated is not None
                  else f"{samples:,} {sampling} pairs per set drawn as sample mode draws them (seed {seed} + set index)"),
        "seed": seed,
        "confidence": confidence,
        "interval": "Student t over pairs (scipy.stats.t)",
        "per_variable": per,
        "order": ["+".join(vs) for vs in sets],
    }


__all__ = ["check_logits", "metrics_section", "set_metric", "unpatched_readings"]
