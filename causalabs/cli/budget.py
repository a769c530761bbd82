"""Cost before work: ``verify --budget-seconds``.

Before an exhaustive or sampled check runs, the command measures one
forward pass of the network on 16 inputs (seconds per input row) and
counts the passes the check needs:

* exhaustive: every input runs once up to each site (to count source
  classes), then every base against every combination of source classes.
  The class count is estimated from a seeded sample of inputs: if the
  sample's inputs are almost all distinct at a site, so are the domain's
  (an activation in floating point rarely repeats), and the estimate is
  the domain size; if they collapse to a few classes, the estimate is the
  number met.
* sample: each set's pairs (sources recorded once each, bases patched), at
  most two passes per pair.

Over the budget the check is refused (:class:`~causalabs.errors.BudgetError`,
exit 2) with the estimate and the sample size that fits.  The estimate is an
estimate, printed as one: pass a larger ``--budget-seconds`` (or ``inf``) to
run anyway.
"""

from __future__ import annotations

import math
import time
from typing import Any

import attrs
import numpy as np

from causalabs.errors import BudgetError

#: Inputs drawn (seeded) to estimate source classes, and to time a forward pass.
PROBE_ROWS = 32
TIMING_ROWS = 16


@attrs.frozen
class Cost:
    """Passes a check needs (input rows through the network) and the time they take at the measured pace."""

    rows: int
    per_row: float  # measured seconds per input row of a forward pass
    detail: str
    runs: int = 0  # exhaustive: the estimated patched passes (bases x source-class combinations)

    @property
    def seconds(self) -> float:
        return self.rows * self.per_row


def duration(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``, ``4.0 days``."""
    if not math.isfinite(seconds):
        return "forever"
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def _probe_inputs(model: Any, rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 0xB0D6E7])
    return {name: np.asarray(model.variables[name].domain, dtype=np.int64)[
        rng.integers(len(model.variables[name].domain), size=rows)] for name in model.inputs}


def seconds_per_row(network: Any, model: Any, rows: int = TIMING_ROWS) -> float:
    """Seconds per input row of a plain forward pass, measured on ``rows`` seeded inputs.

    First-call costs are kept out: a forward of two rows runs first, and the
    inputs are encoded once before the timed pass (a text template caches
    its tokenizing per prompt), so the time is the pace of a long run.
    """
    from causalabs.network.network import encode, predict

    batch = _probe_inputs(model, rows)
    predict(network, {k: v[:2] for k, v in batch.items()})
    encode(network, batch)
    start = time.perf_counter()
    predict(network, batch)
    return max(time.perf_counter() - start, 1e-9) / rows


def estimated_classes(network: Any, model: Any, site: Any, variable: str, n: int, rows: int = PROBE_ROWS) -> int:
    """An estimate of the source classes of ``variable`` at ``site`` over a domain of ``n`` inputs (see module doc)."""
    from causalabs.verification.exhaustive import _class_keys

    batch = _probe_inputs(model, min(rows, n))
    keys = _class_keys(network, model, site, variable, batch, rows)
    m = len(keys)
    distinct_inputs = len(np.unique(np.stack([batch[k] for k in model.inputs], axis=1), axis=0))
    distinct = len(np.unique(keys, axis=0))
    if distinct >= 0.9 * distinct_inputs:  # (almost) every input its own class
        return n
    return distinct if m else 1


def exhaustive_cost(network: Any, model: Any, alignment: Any, sets: list[tuple[str, ...]], per_row: float) -> Cost:
    """Passes of an exhaustive check: every input once per site, then bases x source-class combinations."""
    n = int(model.input_space_size)
    used = list(dict.fromkeys(v for vs in sets for v in vs))
    classes = {v: estimated_classes(network, model, alignment.sites[v], v, n) for v in used}
    runs = sum(n * math.prod(classes[v] for v in vs) for vs in sets)
    counted = n * len({alignment.sites[v].location_key() for v in used})
    shown = ", ".join(f"{v} ~{c:,}" for v, c in classes.items())
    return Cost(counted + runs, per_row,
                f"{counted:,} recording passes over {n:,} inputs, then about {runs:,} patched passes "
                f"(source classes estimated: {shown})", runs)


def sample_cost(samples: int, sets: list[tuple[str, ...]], per_row: float) -> Cost:
    """Passes of a sampled check: at most one recording and one patched pass per pair."""
    pairs = samples * len(sets)
    return Cost(2 * pairs, per_row, f"{pairs:,} pairs ({samples:,} per set, {len(sets)} set(s)): at most {2 * pairs:,} passes")


def enforce_budget(
    network: Any, hypothesis: Any, alignment: Any, mode: str, samples: int, budget: float | None
) -> Cost | None:
    """Refuse an exhaustive or sampled check whose estimated time exceeds ``budget`` seconds (None: no budget)."""
    from causalabs.scm.semantics import model_of
    from causalabs.verification.exhaustive import MAX_RUNS, check_space, variable_sets

    if budget is None or math.isinf(budget) or mode not in ("exhaustive", "sample"):
        return None
    model = model_of(hypothesis)
    names = [v for v in alignment.sites if v in model.internals]
    if not names:
        return None
    sets = variable_sets(names)
    if mode == "exhaustive":
        check_space(model, sets)  # the exhaustive check's own refusal of a space too large, counted, comes first
    per_row = seconds_per_row(network, model)
    cost = exhaustive_cost(network, model, alignment, sets, per_row) if mode == "exhaustive" else \
        sample_cost(samples, sets, per_row)
    if cost.seconds <= budget or cost.runs > MAX_RUNS:
        return cost  # past MAX_RUNS the exhaustive check refuses by its own count, after one chunk of inputs
    fit = int(budget / (2 * per_row * len(sets)))
    if fit >= 1:
        hint = f"--mode sample --samples {fit:,} fits (about {duration(sample_cost(fit, sets, per_row).seconds)})"
    else:
        hint = "even one sampled pair per set does not fit"
    raise BudgetError(
        f"{mode} check of {model.name} on {network.name}: {cost.detail}; about {duration(cost.seconds)} at "
        f"{per_row * 1e3:.2f} ms per input row (measured), over --budget-seconds {budget:g}; {hint}; "
        "or raise --budget-seconds (inf: no limit)"
    )


__all__ = ["Cost", "duration", "enforce_budget", "estimated_classes", "exhaustive_cost", "sample_cost",
           "seconds_per_row"]
