"""Replaying a counterexample by hand: the hypothesis' and the network's answers, computed again from its inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

import causalabs as ca
from causalabs.engine import interchange_network
from causalabs.scm.semantics import model_of


def replay(hypothesis: Any, network: Any, alignment: Any, cx: Any) -> tuple[int, int]:
    """``(expected, observed)`` for counterexample ``cx``: ``ca.interchange`` and ``interchange_network`` on its rows."""
    base = {k: np.array([v]) for k, v in cx.base.items()}
    sources = {v: {k: np.array([x]) for k, x in row.items()} for v, row in cx.sources.items()}
    expected = int(ca.interchange(hypothesis, base, sources)[model_of(hypothesis).output][0])
    observed = int(interchange_network(network, alignment, base, sources).values[0])
    return expected, observed
