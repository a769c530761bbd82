"""The case bench_das.py measures: the network's site and dims, the hyper-parameters, the targets, the batch schedule.

Shared by ``bench_das.py`` and its helpers ``_das_pyvene.py`` and ``_das_steps.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))

import heq_trained  # noqa: E402

from causalabs.align.das import schedule  # noqa: E402

CASE = "heq_trained layer 1, left 8 + right 8"
SITE = heq_trained.DAS_SITE
DIMS = dict(heq_trained.DAS_DIMS)
BATCH = 64
LR = 1e-2
SEED = 0
STEP_ROWS = 40  # pairs per dataset in the batch-1 step measurement
STEP_EPOCHS = 3
TARGETS = {"iia_diff_max": 0.02, "speedup_min": 3.0, "step_ratio_causalabs_max": 5.0}


# --- data -----------------------------------------------------------------------------------


def spans() -> dict[str, tuple[int, int]]:
    out, start = {}, 0
    for v, k in DIMS.items():
        out[v] = (start, start + k)
        start += k
    return out


def schedule_batches(
    datasets: list[Any], batch_size: int, epochs: int, seed: int
) -> list[list[tuple[int, np.ndarray]]]:
    """The batches of ``fit_das``, epoch by epoch: (dataset index, row indices)."""
    return list(schedule([len(ds.expected) for ds in datasets], epochs, batch_size, seed))
