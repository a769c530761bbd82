"""A sweep's held-out LM metric (``sweep(metric="logit-diff" | "prob")``): one fit's test pairs, read for it.

The same held-out pairs as the fit's IIA, run once with the decoder's
readings (``evaluate_pairs(logits=True)``), plus one unpatched pass per
distinct base; the estimate is :func:`causalabs.metrics.lm.estimate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from causalabs.engine.readout import unpatched_readings
from causalabs.errors import MetricError
from causalabs.metrics.lm import MetricEstimate, estimate
from causalabs.network.network import Network


def heldout_metric(network: Network, test: Sequence[Any], results: Sequence[Any], metric: str) -> MetricEstimate:
    """``metric`` pooled over the pairs of ``test`` (``results``: their ``evaluate_pairs(..., logits=True)``)."""
    if any(r.logits is None for r in results):
        raise MetricError(f"network {network.name}: metric {metric} reads the logits decode() scores its output "
                          "classes with (Decoded.scores and .classes), and this decode() gives none")
    off = [unpatched_readings(network, ds.base, r.expected, r.base_output) for ds, r in zip(test, results)]
    return estimate(
        metric, np.concatenate([r.logits for r in results]), np.concatenate(off),
        np.concatenate([r.expected for r in results]), np.concatenate([r.base_output for r in results]),
    )


__all__ = ["heldout_metric"]
