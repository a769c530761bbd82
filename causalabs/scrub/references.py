"""Which references a scrub is judged on: uniform draws from the inputs, or draws balanced over the output.

Loss recovered is an average over references.  When one output value holds
almost every input (hierarchical equality over 100 objects: ``out = 1`` on
98% of uniform inputs), uniform references barely exercise the hypothesis:
a network that ignored the claimed variables would still score well on most
of them.  :func:`draw_references` then balances them over the hypothesis'
output: each output value present among the inputs gets an equal share of
the references, drawn uniformly (with replacement) from the inputs with
that value.  ``how="auto"`` balances exactly when the most common output
value holds at least :data:`BALANCE_AT` of the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs
import numpy as np

from causalabs.errors import ScrubError
from causalabs.scm.semantics import as_batch, model_of, run
from causalabs.scm.semantics import batch_size as rows_in
from causalabs.scm.space import check_admissible

#: ``how="auto"`` balances the references when one output value holds at least this share of the inputs.
BALANCE_AT = 0.9
HOWS = ("auto", "balanced", "uniform")

Batch = dict[str, np.ndarray]


@attrs.frozen(eq=False)
class References:
    """Drawn references and how: ``kind`` is ``"balanced"`` or ``"uniform"``; ``shares`` the output's share per value
    among the inputs (what ``auto`` decided on); ``counts`` the references per output value."""

    batch: Batch
    kind: str
    n: int
    seed: int
    shares: dict[int, float]
    counts: dict[int, int]

    def describe(self) -> str:
        """One phrase: how many references, drawn how, with which seed."""
        top = max(self.shares.values())
        if self.kind == "balanced":
            per = ", ".join(f"{v}: {c}" for v, c in sorted(self.counts.items()))
            return (f"{self.n:,} references balanced over the output ({per}; uniform inputs give the most common "
                    f"value {top:.1%}), seed {self.seed}")
        return f"{self.n:,} references drawn uniformly from the inputs (most common output {top:.1%}), seed {self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n": self.n,
            "seed": self.seed,
            "output_shares": {str(v): round(s, 6) for v, s in sorted(self.shares.items())},
            "per_output": {str(v): c for v, c in sorted(self.counts.items())},
        }


def draw_references(
    hypothesis: Any,
    inputs: Mapping[str, Any],
    n: int,
    seed: int,
    how: Literal["auto", "balanced", "uniform"] = "auto",
) -> References:
    """``n`` references from ``inputs``: balanced over the hypothesis' output, uniform, or ``auto`` (see module doc)."""
    if how not in HOWS:
        raise ScrubError(f"references must be one of {', '.join(HOWS)}, got {how!r}")
    if n < 1:
        raise ScrubError(f"scrub: n must be at least 1, got {n}")
    model = model_of(hypothesis)
    data = as_batch(model, dict(inputs))
    check_admissible(model, data, "the inputs references are drawn from")
    total = rows_in(data)
    if total == 0:
        raise ScrubError(f"{model.name}: no inputs to draw references from")
    out = np.asarray(run(model, data)[model.output])
    values, counts = np.unique(out, return_counts=True)
    shares = {int(v): float(c) / total for v, c in zip(values, counts)}
    kind = how if how != "auto" else ("balanced" if max(shares.values()) >= BALANCE_AT else "uniform")
    rng = np.random.default_rng([seed, 0xBA1A])
    if kind == "uniform":
        idx = rng.integers(0, total, n)
    else:
        quota = [n // len(values) + (1 if j < n % len(values) else 0) for j in range(len(values))]
        parts = []
        for v, q in zip(values, quota):
            rows = np.flatnonzero(out == v)
            parts.append(rows[rng.integers(0, len(rows), q)])
        idx = rng.permutation(np.concatenate(parts))
    batch = {k: np.ascontiguousarray(col[idx]) for k, col in data.items()}
    drawn, per = np.unique(out[idx], return_counts=True)
    return References(batch, kind, n, seed, shares, {int(v): int(c) for v, c in zip(drawn, per)})


__all__ = ["BALANCE_AT", "HOWS", "References", "draw_references"]
